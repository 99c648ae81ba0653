"""Bad input for every kind of command (issue 15): each case exits 2 with one line that names
the thing and the fix, prints no traceback, and leaves every input byte for byte as it was.

Categories: flags, files, checkpoints, configs, output paths (recordings are in
tests/human/test_bad_recordings.py, which needs the simulated human)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egogym.cli import main

from data_helpers import sha, write_robot_file


@pytest.fixture(scope="module")
def robot_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad_input") / "robot.hdf5"
    write_robot_file(path, lengths=(40, 60, 50))
    assert main(["split", str(path), "--valid-fraction", "0.34"]) == 0
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, robot_file):
    """A smoke-preset run trained for 2 steps on the robot file."""
    out = tmp_path_factory.mktemp("bad_input_run") / "run"
    assert main(["train", "--preset", "smoke", "--robot", str(robot_file), "--out", str(out), "--steps", "2",
                 "--threads", "1", "--no-progress", "--set", "train.video_frames=0"]) == 0
    return out


def expect_one_line(capsys, argv, *needles, inputs=()):
    """Run `egogym ARGV`: exit 2, one stderr line holding every needle, no traceback, inputs unchanged."""
    before = {p: sha(p) for p in inputs}
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)
    for p, h in before.items():
        assert sha(p) == h, f"{p} changed"
    return err


# ---- output paths -----------------------------------------------------------------------

def test_stats_refuses_to_write_over_its_input(robot_file, capsys):
    expect_one_line(capsys, ["stats", str(robot_file), "--out", str(robot_file)], "--out", "also an input",
                    inputs=[robot_file])


def test_outputs_that_exist_are_files_or_unwritable_are_refused(robot_file, tmp_path, capsys):
    existing = tmp_path / "stats.json"
    existing.write_text("{}")
    expect_one_line(capsys, ["stats", str(robot_file), "--out", str(existing)], "exists", inputs=[robot_file, existing])
    expect_one_line(capsys, ["inspect", "image", str(robot_file), "--demo", "demo_0", "--key", "obs/front_img_1",
                             "--out", str(tmp_path / "x.hdf5")], "give a .png file", inputs=[robot_file])
    expect_one_line(capsys, ["eval", "--policy", "hold", "--episodes", "1", "--out", str(existing)],
                    "is a file; give a folder", inputs=[existing])
    # an unwritable folder: test_an_unwritable_output_folder_is_refused_before_any_work


# ---- flags ------------------------------------------------------------------------------

@pytest.mark.parametrize("flags,needles", [
    (["--episode-timeout", "-5"], ["--episode-timeout -5"]),
    (["--image-size", "100000", "100000"], ["--image-size", "16..4096"]),
    (["--task-option", "toy_region=5"], ["toy_region=5", "[[x_lo, x_hi], [y_lo, y_hi]]"]),
    (["--task-option", "toy_region=[[0.1, 0.2], [0.3"], ["--task-option", "not valid JSON"]),
    (["--task-option", "toy_regoin=[[0.1, 0.2], [-0.3, -0.2]]"], ["no option 'toy_regoin'", "did you mean 'toy_region'"]),
    (["--task-option", "rest_steps=2.5"], ["rest_steps=2.5", "integer"]),
    (["--seed", "-1"], ["--seed -1"]),
])
def test_eval_flags_that_make_no_sense(flags, needles, tmp_path, capsys):
    expect_one_line(capsys, ["eval", "--policy", "hold", "--episodes", "1", "--max-steps", "2", "--image-size", "32",
                             "32", *flags, "--out", str(tmp_path / "e"), "--quiet"], *needles)


def test_train_flags_that_make_no_sense(robot_file, tmp_path, capsys):
    expect_one_line(capsys, ["train", "--preset", "smoke", "--robot", str(robot_file), "--out", str(tmp_path / "r"),
                             "--threads", "-2"], "--threads -2", inputs=[robot_file])
    expect_one_line(capsys, ["train", "--preset", "smoke", "--robot", str(robot_file), "--out", str(robot_file)],
                    "also an input", inputs=[robot_file])


# ---- files ------------------------------------------------------------------------------

def test_inspect_actions_with_the_files_swapped(robot_file, tmp_path, capsys):
    expect_one_line(capsys, ["inspect", "actions", "--human", str(robot_file), "--robot", str(robot_file),
                             "--out-dir", str(tmp_path / "p")], "--human", "robot file", "swapped", inputs=[robot_file])


def test_validate_refuses_empty_masks(robot_file, tmp_path, capsys):
    import h5py
    import numpy as np

    f2 = tmp_path / "empty_masks.hdf5"
    shutil.copy(robot_file, f2)
    with h5py.File(f2, "r+") as f:
        del f["mask/valid"]
        f.create_dataset("mask/valid", data=np.array([], dtype="S8"))
    h = sha(f2)
    assert main(["validate", str(f2)]) == 2
    assert "'mask/valid' is empty" in capsys.readouterr().out
    assert sha(f2) == h


# ---- checkpoints ------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "random", "pickle"])
def test_damaged_weights_name_the_file(run_dir, tmp_path, capsys, damage):
    import pickle

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    ck = next((run / "checkpoints").glob("step_*"))
    w = ck / "model.safetensors"
    data = {"truncated": w.read_bytes()[: w.stat().st_size // 3], "random": os.urandom(4096),
            "pickle": pickle.dumps({"weights": [1, 2, 3]})}[damage]
    w.write_bytes(data)
    expect_one_line(capsys, ["eval", "--policy", str(run), "--episodes", "1", "--image-size", "32", "32",
                             "--out", str(tmp_path / "e"), "--quiet"], "model.safetensors", "retrain", inputs=[w])


def test_latest_pointing_outside_the_run_is_refused(run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "LATEST").write_text("../../../etc")
    expect_one_line(capsys, ["eval", "--policy", str(run), "--episodes", "1", "--image-size", "32", "32",
                             "--out", str(tmp_path / "e"), "--quiet"], "LATEST", "step_*", inputs=[run / "LATEST"])


# ---- configs ----------------------------------------------------------------------------

@pytest.mark.parametrize("line,needle", [
    ('episodes = "1"', "[eval] episodes: '1' is not an integer"),
    ("steps = 0", "[train] steps: 0 is not an integer >= 1"),
])
def test_ablation_configs_are_checked_before_any_work(tmp_path, capsys, line, needle):
    section = "[eval]" if "episodes" in line else "[train]"
    toml = tmp_path / "bad.toml"
    toml.write_text(f"name = \"bad\"\n[data]\nrobot = [2]\nhuman = [0]\n{section}\n{line}\n")
    expect_one_line(capsys, ["ablate", str(toml), "--out", str(tmp_path / "a")], needle, inputs=[toml])
    assert not (tmp_path / "a").exists()  # nothing collected, nothing trained


def test_python_dash_m_prints_one_line_too(tmp_path):
    """`python -m egogym.cli` (how ablations and the quick start run their steps) catches the
    same UserError as the console script."""
    res = subprocess.run([sys.executable, "-m", "egogym.cli", "eval", "--policy", str(tmp_path / "nope"),
                          "--out", str(tmp_path / "e")], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "neither 'scripted' nor an existing run directory" in res.stderr


def test_an_unwritable_output_folder_is_refused_before_any_work(robot_file, tmp_path, monkeypatch, capsys):
    """As root (this container) every folder is writable, so the refusal is shown with the
    permission check answering as it would for a user without write access."""
    import egogym.core.outputs as outputs

    real_access = os.access
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if Path(p) == ro else real_access(p, mode))
    expect_one_line(capsys, ["stats", str(robot_file), "--out", str(ro / "s.json")], str(ro), "not writable",
                    inputs=[robot_file])
    assert not list(ro.iterdir())
