"""Bad input for every kind of command (issue 15): each case exits 2 with one line that names
the thing and the fix, prints no traceback, and leaves every input byte for byte as it was.

Categories: flags, files, checkpoints, configs, output paths (recordings are in
tests/human/test_bad_recordings.py, which needs the simulated human)."""
from __future__ import annotations

import json
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


# ---- counts, sizes and seeds (egogym.core.bounds) ---------------------------------------

@pytest.mark.parametrize("argv,needles", [
    (["collect", "--episodes", "1000000000000"], ["--episodes 1000000000000", "1..1000000"]),
    (["train", "--robot", "r.hdf5", "--out", "o", "--steps", "100000000000"], ["--steps 100000000000", "1..1000000"]),
    (["train", "--robot", "r.hdf5", "--out", "o", "--workers", "-1"], ["--workers -1", "0..256"]),
    (["ablate", "transfer", "--out", "o", "--jobs", "0"], ["--jobs 0", "1..256"]),
    (["serve", "run", "--port", "70000"], ["--port 70000", "0..65535"]),
    (["collect", "--episodes", "0"], ["--episodes 0", "1..1000000"]),
    (["collect", "--episodes", "2", "--seed", "-5"], ["--seed -5", "0..4294967295"]),
    (["collect", "--episodes", "10", "--seed", "4294967290"], ["--seed 4294967290 with --episodes 10",
                                                                "at most 4294967286"]),
    (["collect", "--episodes", "1", "--max-steps", "abc"], ["--max-steps abc", "give an integer"]),
    (["eval", "--policy", "hold", "--episodes", "100000000000000000000"], ["--episodes 100000000000000000000",
                                                                          "1..1000000"]),
    (["eval", "--policy", "hold", "--episodes", "5", "--seed", "4294967295"], ["--seed 4294967295 with --episodes 5"]),
    (["eval", "--policy", "hold", "--workers", "100000"], ["--workers 100000", "1..256"]),
    (["eval", "--policy", "hold", "--videos", "-1"], ["--videos -1"]),
    (["quickstart", "--steps", "10000000000"], ["--steps 10000000000"]),
])
def test_counts_and_seeds_out_of_range_are_refused_before_any_work(argv, needles, tmp_path, capsys):
    out = tmp_path / ("robot.hdf5" if argv[0] == "collect" else "out")
    expect_one_line(capsys, [*argv, "--out", str(out)], *needles)
    assert not list(tmp_path.iterdir())  # nothing created: no empty HDF5, no folder


@pytest.mark.parametrize("argv,needles", [
    (["split", "{f}", "--valid-fraction", "nan"], ["--valid-fraction nan", "(0, 1)"]),
    (["split", "{f}", "--seed", "-3"], ["--seed -3"]),
    (["inspect", "image", "{f}", "--demo", "demo_0", "--key", "obs/front_img_1", "--index", "-10000000000000", "--out",
      "{d}/x.png"],
     ["--index -10000000000000"]),
    (["inspect", "actions", "--human", "{f}", "--robot", "{f}", "--dim", "9", "--out-dir", "{d}/p"], ["--dim 9", "0..5"]),
])
def test_data_command_numbers_out_of_range(robot_file, tmp_path, capsys, argv, needles):
    argv = [a.format(f=robot_file, d=tmp_path) for a in argv]
    expect_one_line(capsys, argv, *needles, inputs=[robot_file])
    assert not list(tmp_path.iterdir())


def test_eval_seeds_and_collect_todo_are_not_materialised():
    """A config's seeds are a range (memory O(1) whatever --episodes): no list of N entries."""
    from egogym.core.bounds import MAX_EPISODES
    from egogym.eval.config import EvalConfig

    cfg = EvalConfig(policy="hold", episodes=MAX_EPISODES, start_seed=7)
    assert isinstance(cfg.seeds, range) and cfg.seeds[-1] == 7 + MAX_EPISODES - 1


# ---- output safety: links, permissions, failed first runs -------------------------------

def test_outputs_through_a_looping_link_are_refused(robot_file, tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for argv in (["collect", "--episodes", "1", "--out", str(loop / "a.hdf5")],
                 ["collect", "--episodes", "1", "--out", str(loop)],
                 ["eval", "--policy", "hold", "--episodes", "1", "--out", str(loop / "e")],
                 ["stats", str(robot_file), "--out", str(loop / "s.json")]):
        expect_one_line(capsys, argv, "--out", "symbolic link", "loops", inputs=[robot_file])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_collect_resume_into_an_unwritable_file_is_refused_before_any_journal(robot_file, tmp_path, monkeypatch,
                                                                               capsys):
    """As root every file is writable: the permission check answers as it would for a user."""
    import egogym.core.outputs as outputs

    f = tmp_path / "robot.hdf5"
    shutil.copy(robot_file, f)
    real_access = os.access
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if Path(p) == f else real_access(p, mode))
    expect_one_line(capsys, ["collect", "--episodes", "4", "--out", str(f), "--resume", "--image-size", "24", "32"],
                    str(f), "not writable", "permissions", inputs=[f])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["robot.hdf5"]  # no .journal


def test_a_first_collect_that_fails_before_an_episode_leaves_nothing(tmp_path, monkeypatch, capsys):
    """The corrected rerun must not meet "exists: pass --resume" from an empty file."""
    import egogym.pipelines.collect as collect

    def fail(*a, **k):
        raise MemoryError("simulated")

    monkeypatch.setattr(collect, "record_episode", fail)
    out = tmp_path / "robot.hdf5"
    with pytest.raises(MemoryError):
        collect.collect_robot(episodes=2, out=out, image_size=(32, 32), max_steps=2, progress=False)
    assert not list(tmp_path.iterdir())


# ---- empty and degenerate data: one trainability check (egogym.data.trainable) -----------

def _zero_frame_demo(f):
    """data/demo_9: demo_0's keys with 0 steps, listed in mask/train."""
    import h5py
    import numpy as np

    src, dst = f["data/demo_0"], f["data"].create_group("demo_9")

    def copy(name, obj):
        if isinstance(obj, h5py.Dataset):
            dst.create_dataset(name, shape=(0, *obj.shape[1:]), dtype=obj.dtype)
    src.visititems(copy)
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    dst.attrs["num_samples"] = 0
    names = [*f["mask/train"][()], b"demo_9"]
    del f["mask/train"]
    f.create_dataset("mask/train", data=np.array(names, dtype="S8"))


def _constant_ee_pose(f):
    for d in f["mask/train"][()]:
        ds = f[f"data/{d.decode()}/obs/ee_pose"]
        ds[...] = 0.25


def _nan_joints(f):
    import numpy as np

    d = f["mask/train"][()][0].decode()
    f[f"data/{d}/obs/joint_positions"][...] = np.nan


def _no_masks(f):
    del f["mask"]


@pytest.mark.parametrize("damage,needles,validate_rc", [
    (_zero_frame_demo, ["data/demo_9", "0 frames"], 2),
    (_constant_ee_pose, ["ee_pose is constant", "0.25", "split 'train'"], 2),
    (_nan_joints, ["joint_positions", "NaN"], 2),
    (_no_masks, ["no 'mask/train' split", "egogym split"], 0),
])
def test_degenerate_data_is_refused_alike_by_validate_and_train(robot_file, tmp_path, capsys, damage, needles,
                                                                 validate_rc):
    """`egogym validate` says what `egogym train` will refuse, with the same words: no "ok" for a
    file that does not train, and no IndexError / TypeError from a 0-frame demo."""
    import h5py

    f2 = tmp_path / "degenerate.hdf5"
    shutil.copy(robot_file, f2)
    with h5py.File(f2, "r+") as f:
        damage(f)
    h = sha(f2)
    assert main(["validate", str(f2)]) == validate_rc
    out = capsys.readouterr()
    assert "Traceback" not in out.err and ": ok (" not in out.out, out
    for n in needles:
        assert n in out.out, (n, out.out)
    expect_one_line(capsys, ["train", "--preset", "smoke", "--robot", str(f2), "--out", str(tmp_path / "r"),
                             "--steps", "1", "--threads", "1", "--no-progress"], str(f2), *needles, inputs=[f2])
    assert sha(f2) == h and not (tmp_path / "r").exists()


def test_a_trainable_file_validates_ok(robot_file, capsys):
    assert main(["validate", str(robot_file)]) == 0
    assert ": ok (robot" in capsys.readouterr().out


# ---- resuming from a damaged optimizer state ---------------------------------------------

@pytest.mark.parametrize("damage", ["header", "truncated"])
def test_damaged_optimizer_state_names_the_file(robot_file, run_dir, tmp_path, capsys, damage):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    ck = next((run / "checkpoints").glob("step_*"))
    o = ck / "optimizer.safetensors"
    # "header": a header length of 2**62 bytes (safetensors: "header too large"); "truncated": a third of the file
    o.write_bytes((2**62).to_bytes(8, "little") + b"{}" if damage == "header" else o.read_bytes()[: o.stat().st_size // 3])
    expect_one_line(capsys, ["train", "--robot", str(robot_file), "--out", str(run), "--resume", "--steps", "3",
                             "--threads", "1", "--no-progress"], "optimizer.safetensors", "another step's checkpoint",
                    inputs=[o, robot_file])


# ---- messages: suggestions, vendor readers, the flag the user typed ------------------------

@pytest.mark.parametrize("section,line,needles,absent", [
    ("[train]", "learning_rate = 1", ["unknown key 'learning_rate'", "choose from", "'steps'"], "did you mean"),
    ("[evaluation]", "episodes = 1", ["unknown key 'evaluation'", "did you mean 'eval'"], "ablations"),
    ("[train]", "step = 1", ["did you mean 'steps'"], "choose from"),
])
def test_did_you_mean_only_for_near_names(tmp_path, capsys, section, line, needles, absent):
    """An unrelated name gets the list, not a misleading suggestion (difflib ratio below 0.7)."""
    toml = tmp_path / "bad.toml"
    toml.write_text(f"name = \"bad\"\n[data]\nrobot = [2]\nhuman = [0]\n{section}\n{line}\n")
    err = expect_one_line(capsys, ["ablate", str(toml), "--out", str(tmp_path / "a")], *needles, inputs=[toml])
    assert absent not in err


def test_a_csv_that_is_not_utf8_names_file_row_and_column(tmp_path):
    from egogym.data import mps
    from egogym.core.errors import UserError

    p = tmp_path / "closed_loop_trajectory.csv"
    p.write_bytes(b"tracking_timestamp_us,tx_world_device\n1,0.5\n2,0.\xff6\n")
    h = sha(p)
    with pytest.raises(UserError) as e:
        mps.read_closed_loop(p)
    msg = str(e.value)
    assert str(p) in msg and "row 3, column 5" in msg and "0xff" in msg and "\n" not in msg
    assert sha(p) == h


def test_env_build_errors_name_the_flag_typed(tmp_path, capsys):
    out = tmp_path / "e"
    err = expect_one_line(capsys, ["eval", "--policy", "hold", "--episodes", "1", "--max-steps", "2", "--image-size",
                                   "32", "32", "--cameras", "front_img_9", "--out", str(out), "--quiet"],
                          "--cameras front_img_9", "unknown camera", "front_img_1")
    assert "options {" not in err and "disable_env_checker" not in err
    assert not out.exists()  # the folder of a first run that failed before an episode is removed


def test_a_failed_first_human_conversion_leaves_no_file_but_keeps_the_recordings(tmp_path, monkeypatch):
    """The conversion of a first `collect --embodiment human` fails after opening its file: the
    file goes (a rerun is not told "exists: pass --resume"), the recordings stay."""
    import egogym.data.aria as aria
    from egogym.pipelines.human import collect_human

    out = tmp_path / "human.hdf5"
    rec = tmp_path / "human.hdf5.recordings" / "episode_000000"
    rec.mkdir(parents=True)
    from egogym.sim.human import HumanConfig, recording_settings

    # as if simulated with this run's settings: the loop records nothing
    (rec / "recording.json").write_text(json.dumps(recording_settings(HumanConfig())))

    def failing_convert(folders, path, **kw):
        Path(path).write_bytes(b"half-written")
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(aria, "convert", failing_convert)
    with pytest.raises(RuntimeError, match="converter crashed"):
        collect_human(1, 0, out, (32, 32), progress=False)
    assert not out.exists() and (rec / "recording.json").exists()
