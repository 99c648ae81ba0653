"""`egogym export lerobot` / `egogym import lerobot` with LeRobot's own dataset library.

The library (lerobot-dataset 0.4.4) needs torch 2.14.1 + torchvision, which cannot go into .venv
(torch 2.13.0), so it lives in `.venv-sam2` (made by `bash .ci/setup.sh --tests`) and the commands
run there in a subprocess (one for all the commands, two more that are killed); this process writes
the egogym files and checks what comes back. Checked: the round trip of every array (robot and
human; exact with --lossless; with h264 videos the images within the codec's loss and aligned frame
for frame, the low-dim arrays float32-exact), the metadata, an ALOHA-layout dataset made with the
library itself, one-line errors on bad input, and that a killed export or import leaves no
complete-looking output.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from data_helpers import H, W, calibration
from egogym.data import schema as S
from egogym.data.writer import DemoWriter

ROOT = Path(__file__).resolve().parents[2]
LEROBOT_PYTHON = ROOT / ".venv-sam2" / "bin" / "python"
SETUP = "bash .ci/setup.sh --tests (it makes .venv-sam2 with lerobot-dataset)"
T = 20
VIDEO_MEAN_BOUND = 12.0
"""uint8 levels: the mean absolute error of h264 (LeRobot's defaults: yuv420p, crf 30, GOP 2) on these
24x32 synthetic frames (smooth_frames), measured 6.9-8.3 per key and demo."""

# Runs in .venv-sam2: argv = work folder. Every command through egogym's CLI, in this one process.
CHILD = r'''
import contextlib, io, json, os, sys
from pathlib import Path
import numpy as np
import torch
torch.set_num_threads(1)
from egogym.cli import main

work = Path(sys.argv[1])
rep = {}
def cli(name, *argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([*map(str, argv), "--no-progress"])
    rep[name] = {"code": code, "stderr": err.getvalue()}

for dom in ("robot", "human"):
    cli(f"{dom}_export_video", "export", "lerobot", work / f"{dom}.hdf5", "--out", work / f"{dom}_video")
    cli(f"{dom}_import_video", "import", "lerobot", work / f"{dom}_video", "--out", work / f"{dom}_video.hdf5")
    cli(f"{dom}_export_lossless", "export", "lerobot", work / f"{dom}.hdf5", "--out", work / f"{dom}_ll", "--lossless")
    cli(f"{dom}_import_lossless", "import", "lerobot", work / f"{dom}_ll", "--out", work / f"{dom}_ll.hdf5")
cli("egomimic_export", "export", "lerobot", work / "converted.hdf5", "--out", work / "converted_ll", "--lossless")
cli("egomimic_import", "import", "lerobot", work / "converted_ll", "--out", work / "converted_ll.hdf5")
info = json.loads((work / "robot_video" / "meta" / "info.json").read_text())
rep["info"] = {"version": info["codebase_version"], "fps": info["fps"], "robot_type": info["robot_type"],
               "features": {k: [v["dtype"], list(v["shape"])] for k, v in info["features"].items()},
               "codec": info["features"]["observation.images.front_img_1"]["info"]["video.codec"]}

# What LeRobot's own reader gives for the exported dataset (non-video columns; its video decoders need
# torchcodec or torchvision's removed VideoReader).
from ledataset.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("egogym/robot", root=work / "robot_ll", video_backend="pyav")
item = ds[T + 3]
rep["lerobot_item"] = {"task": item["task"], "episode_index": int(item["episode_index"]),
                       "domain": int(item["domain"]), "state": item["observation.state"].tolist(),
                       "image_shape": list(item["observation.images.front_img_1"].shape),
                       "total_episodes": ds.meta.total_episodes}

# An ALOHA-layout dataset, made with the library: 14-dim state / action, four cameras, effort.
rng = np.random.default_rng(5)
vid = lambda: {"dtype": "video", "shape": (24, 32, 3), "names": ["height", "width", "channels"]}
vec = {"dtype": "float32", "shape": (14,), "names": None}
cams = ("cam_high", "cam_left_wrist", "cam_low", "cam_right_wrist")
feats = {"observation.state": vec, "observation.effort": vec, "action": vec,
         **{f"observation.images.{c}": vid() for c in cams}}
aloha = LeRobotDataset.create("test/aloha", 50, feats, root=work / "aloha", robot_type="aloha", vcodec="h264",
                              video_backend="pyav")
truth = {}
yy, xx = np.mgrid[0:24, 0:32]
for e in range(2):
    st, ac = rng.normal(size=(T, 14)).astype(np.float32), rng.normal(size=(T, 14)).astype(np.float32)
    ims = {c: np.stack([np.stack([(xx * 6 + 9 * t + 40 * i) % 256, (yy * 8) % 256, np.full_like(xx, 60 * e)], -1)
                        for t in range(T)]).astype(np.uint8) for i, c in enumerate(cams)}
    for t in range(T):
        aloha.add_frame({"observation.state": st[t], "observation.effort": st[t] * 2, "action": ac[t],
                         **{f"observation.images.{c}": ims[c][t] for c in cams}, "task": f"transfer cube {e}"})
    aloha.save_episode(parallel_encoding=False)
    truth[f"state{e}"], truth[f"action{e}"] = st, ac
    for c in cams:
        truth[f"{c}{e}"] = ims[c]
aloha.finalize()
np.savez(work / "aloha_truth.npz", **truth)
A = work / "aloha"
cli("aloha_plain", "import", "lerobot", A, "--out", work / "a0.hdf5")
cli("aloha_no_views", "import", "lerobot", A, "--out", work / "a1.hdf5", "--drop", "observation.images.cam_low",
    "--drop", "observation.effort")
cli("aloha_ok", "import", "lerobot", A, "--out", work / "aloha.hdf5", "--drop", "observation.images.cam_low",
    "--drop", "observation.effort", "--copy-front-views")
cli("aloha_bad_map", "import", "lerobot", A, "--out", work / "a2.hdf5", "--map", "observation.effort=no_such_key")

# Bad input.
(work / "not_lerobot").mkdir()
(work / "not_lerobot" / "notes.txt").write_text("hello")
(work / "meta_only" / "meta").mkdir(parents=True)
(work / "meta_only" / "meta" / "info.json").write_text((A / "meta" / "info.json").read_text())
cli("missing_dir", "import", "lerobot", work / "no_such_dataset", "--out", work / "b0.hdf5")
cli("not_lerobot", "import", "lerobot", work / "not_lerobot", "--out", work / "b1.hdf5")
cli("damaged", "import", "lerobot", work / "meta_only", "--out", work / "b2.hdf5")
cli("export_exists", "export", "lerobot", work / "robot.hdf5", "--out", work / "robot_video")
cli("import_exists", "import", "lerobot", work / "robot_ll", "--out", work / "robot.hdf5")
cli("export_missing", "export", "lerobot", work / "nothing.hdf5", "--out", work / "b3")
rep["leftovers"] = sorted(p.name for p in work.iterdir() if p.name.startswith("."))
(work / "report.json").write_text(json.dumps(rep))
'''

# Runs in .venv-sam2: argv = work folder, "export" | "import". Killed (SIGKILL, by itself) while the
# second episode is written.
KILLED = r'''
import os, signal, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from egogym.cli import main
import egogym.data.lerobot as L

work, what = Path(sys.argv[1]), sys.argv[2]
seen = []
if what == "export":
    from ledataset.datasets.lerobot_dataset import LeRobotDataset
    inner = LeRobotDataset.save_episode
    def save_episode(self, *a, **k):
        if seen:
            os.kill(os.getpid(), signal.SIGKILL)
        seen.append(1)
        return inner(self, *a, **k)
    LeRobotDataset.save_episode = save_episode
    main(["export", "lerobot", str(work / "robot.hdf5"), "--out", str(work / "killed_export"), "--no-progress"])
else:
    inner = L._decode_episode_video
    def decode(path, start_s, *a):
        if start_s > 0:  # the second episode
            os.kill(os.getpid(), signal.SIGKILL)
        return inner(path, start_s, *a)
    L._decode_episode_video = decode
    main(["import", "lerobot", str(work / "robot_video"), "--out", str(work / "killed_import.hdf5"), "--no-progress"])
'''


def smooth_frames(rng: np.random.Generator, n: int = T) -> np.ndarray:
    """(n, H, W, 3) uint8 frames a camera could see: gradients that move, a disk of a random colour."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for t in range(n):
        c = rng.integers(0, 256, 3)
        im = np.stack([(xx * 7 + t * 3) % 256, (yy * 9) % 256, np.full_like(xx, c[2])], -1).astype(np.uint8)
        im[((yy - 8 - t % 8) ** 2 + (xx - 12) ** 2) < 16] = c
        out.append(im)
    return np.stack(out)


def make_files(folder: Path) -> None:
    from egomimic_files import write_egomimic_robot

    from egogym.data.commands import split_file
    from egogym.data.egomimic import convert_egomimic

    # an EgoMimic file converted by egogym: float32 arrays and EgoMimic's bookkeeping under egomimic/
    write_egomimic_robot(folder / "egomimic.hdf5", lengths=(12, 9), names=("demo_0", "demo_1"),
                         lowdim_dtype=np.float32)
    convert_egomimic(folder / "egomimic.hdf5", folder / "converted.hdf5", progress=False, log=lambda s: None)

    rng = np.random.default_rng(0)
    def writer(path, domain, arms, env_args):
        return DemoWriter(path, domain, calibration(), arms=arms, control_hz=50.0 if domain == "robot" else 30.0,
                          image_size=(H, W), env_args=env_args)

    with writer(folder / "robot.hdf5", "robot", "both", {"task": "object_in_bowl", "seed_base": 100}) as w:
        for i in range(2):
            obs = {k: smooth_frames(rng) for k in (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE, S.LEFT_WRIST, S.RIGHT_WRIST)}
            obs[S.FRONT_MASK] = rng.random((T, H, W)) < 0.3
            obs[S.JOINT_POSITIONS], obs[S.EE_POSE] = rng.normal(size=(T, 14)), rng.normal(size=(T, 6))
            w.write_demo(obs, {"joints": rng.normal(size=(T, 14))}, states=rng.normal(size=(T, 9)),
                         attrs={"seed": 100 + i, "state_nq": 5, "points": [1, 2], "operator": "sim"})
    split_file(folder / "robot.hdf5", 0.5, 0)
    with writer(folder / "human.hdf5", "human", "right", {"source": "test"}) as w:
        for i in range(2):
            obs = {k: smooth_frames(rng) for k in (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE)}
            obs[S.FRONT_MASK] = rng.random((T, H, W)) < 0.3
            obs[S.EE_POSE] = rng.normal(size=(T, 3))
            w.write_demo(obs, {"xyz_act": rng.normal(size=(T, S.CHUNK, 3))}, attrs={"seed": i})


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def lerobot_run(tmp_path_factory):
    if not LEROBOT_PYTHON.exists():
        pytest.skip(f"no {LEROBOT_PYTHON.relative_to(ROOT)}: run {SETUP}")
    work = tmp_path_factory.mktemp("lerobot")
    make_files(work)
    (work / "child.py").write_text(f"T = {T}\n" + CHILD)
    proc = subprocess.run([str(LEROBOT_PYTHON), str(work / "child.py"), str(work)], cwd=work, capture_output=True,
                          text=True, timeout=900, env=child_env())
    assert proc.returncode == 0, f"LeRobot subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return work, json.loads((work / "report.json").read_text())


def arrays(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def attrs(path: Path) -> dict:
    def plain(v):
        return v.decode() if isinstance(v, bytes) else (v.item() if isinstance(v, np.generic) else v)

    with h5py.File(path, "r") as f:
        out = {"data": {k: plain(v) for k, v in f[S.DATA].attrs.items()}}
        for d in f[S.DATA]:
            out[d] = {k: plain(v) for k, v in f[S.DATA][d].attrs.items()}
    return out


def one_line(rep: dict, name: str) -> str:
    r = rep[name]
    assert r["code"] == 2, (name, r)
    lines = r["stderr"].strip().splitlines()
    assert len(lines) == 1, (name, r["stderr"][-2000:])
    return lines[0]


def test_commands_ran(lerobot_run):
    _, rep = lerobot_run
    for dom in ("robot", "human"):
        for k in ("export_video", "import_video", "export_lossless", "import_lossless"):
            assert rep[f"{dom}_{k}"]["code"] == 0, (dom, k, rep[f"{dom}_{k}"]["stderr"][-2000:])
            assert rep[f"{dom}_{k}"]["stderr"] == "", (dom, k, rep[f"{dom}_{k}"]["stderr"][-2000:])


def test_an_egomimic_conversion_survives_the_lossless_round_trip(lerobot_run):
    """EgoMimic file -> convert egomimic -> export lerobot --lossless -> import lerobot: every array and
    attribute of the EgoMimic file is still reproduced (its bookkeeping travels in meta/egogym.json)."""
    from egogym.data.egomimic import verify_lossless

    work, rep = lerobot_run
    for k in ("egomimic_export", "egomimic_import"):
        assert rep[k]["code"] == 0, rep[k]["stderr"][-2000:]
    assert verify_lossless(work / "egomimic.hdf5", work / "converted_ll.hdf5") >= 20
    a, b = arrays(work / "converted.hdf5"), arrays(work / "converted_ll.hdf5")
    assert sorted(a) == sorted(b) and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def test_exported_dataset_is_lerobots_v3_layout(lerobot_run):
    _, rep = lerobot_run
    info = rep["info"]
    assert info["version"] == "v3.0" and info["fps"] == 50 and info["robot_type"] == "robot" and info["codec"] == "h264"
    f = info["features"]
    assert f["observation.state"] == ["float32", [14]] and f["action"] == ["float32", [14]]
    assert f["observation.ee_pose"] == ["float32", [6]] and f["observation.sim_state"] == ["float32", [9]]
    assert f["observation.masks.front_img_1_mask"] == ["bool", [H, W]] and f["domain"] == ["int64", [1]]
    for k in (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE, S.LEFT_WRIST, S.RIGHT_WRIST):
        assert f[f"observation.images.{k}"] == ["video", [H, W, 3]]
    item = rep["lerobot_item"]  # LeRobot's reader, on the lossless export
    assert item["task"] == "object_in_bowl" and item["episode_index"] == 1 and item["domain"] == 0
    assert item["image_shape"] == [3, H, W] and item["total_episodes"] == 2
    want = arrays(lerobot_run[0] / "robot.hdf5")[f"data/demo_1/obs/{S.JOINT_POSITIONS}"][3]
    # its reader hands float64 columns out as float32 tensors (torch.tensor of Python floats)
    np.testing.assert_array_equal(np.float32(item["state"]), want.astype(np.float32))


@pytest.mark.parametrize("domain", ["robot", "human"])
def test_lossless_round_trip_reproduces_every_array_and_attribute(lerobot_run, domain):
    work, _ = lerobot_run
    a, b = arrays(work / f"{domain}.hdf5"), arrays(work / f"{domain}_ll.hdf5")
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    assert attrs(work / f"{domain}.hdf5") == attrs(work / f"{domain}_ll.hdf5")


@pytest.mark.parametrize("domain", ["robot", "human"])
def test_video_round_trip_images_within_codec_loss_the_rest_float32_exact(lerobot_run, domain):
    work, _ = lerobot_run
    a, b = arrays(work / f"{domain}.hdf5"), arrays(work / f"{domain}_video.hdf5")
    assert sorted(a) == sorted(b)
    images = 0
    for k in a:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype, k
        if a[k].dtype == np.uint8 and a[k].ndim == 4:
            err = np.abs(a[k].astype(int) - b[k].astype(int))
            assert err.mean() < VIDEO_MEAN_BOUND, (k, err.mean())
            # frame for frame: each decoded frame is nearer its own source frame than the next one
            off = np.abs(a[k][1:].astype(int) - b[k][:-1].astype(int)).mean(axis=(1, 2, 3))
            assert np.all(err[:-1].mean(axis=(1, 2, 3)) < off), k
            images += 1
        elif a[k].dtype.kind == "f":
            np.testing.assert_array_equal(b[k], a[k].astype(np.float32).astype(np.float64), err_msg=k)
        else:
            assert np.array_equal(a[k], b[k]), k  # masks (bool), split names
    assert images == (10 if domain == "robot" else 6)
    assert attrs(work / f"{domain}.hdf5") == attrs(work / f"{domain}_video.hdf5")


def test_aloha_layout_maps_and_the_rest_is_derived_and_recorded(lerobot_run):
    from egogym.core.kinematics import pinch_in_camera
    from egogym.core.spec import EGOMIMIC
    from egogym.data.presets import resolve_calibration
    from egogym.data.writer import calibration_at

    work, rep = lerobot_run
    assert rep["aloha_ok"]["code"] == 0, rep["aloha_ok"]["stderr"][-2000:]
    truth = np.load(work / "aloha_truth.npz")
    got = arrays(work / "aloha.hdf5")
    at = attrs(work / "aloha.hdf5")
    assert json.loads(at["data"][S.ATTR_ARMS]) == ["left", "right"] and at["data"][S.ATTR_CONTROL_HZ] == 50.0
    env = json.loads(at["data"][S.ATTR_ENV_ARGS])
    assert env["mapping"][S.FRONT] == "observation.images.cam_high" and env["robot_type"] == "aloha"
    assert set(env["derived"]) == {S.EE_POSE, S.FRONT_MASKED, S.FRONT_LINE}
    assert env["dropped"] == ["observation.effort", "observation.images.cam_low"]
    cal = calibration_at(resolve_calibration("egomimic"), (24, 32))
    for e in range(2):
        d = f"data/demo_{e}"
        np.testing.assert_array_equal(got[f"{d}/obs/{S.JOINT_POSITIONS}"], truth[f"state{e}"].astype(np.float64))
        np.testing.assert_array_equal(got[f"{d}/actions"], truth[f"action{e}"].astype(np.float64))
        ee = pinch_in_camera((EGOMIMIC.arm("left"), EGOMIMIC.arm("right")), cal, truth[f"state{e}"].astype(np.float64))
        np.testing.assert_allclose(got[f"{d}/obs/{S.EE_POSE}"], ee, atol=1e-12)
        for cam, key in (("cam_high", S.FRONT), ("cam_left_wrist", S.LEFT_WRIST), ("cam_right_wrist", S.RIGHT_WRIST)):
            err = np.abs(got[f"{d}/obs/{key}"].astype(int) - truth[f"{cam}{e}"].astype(int)).mean()
            assert err < VIDEO_MEAN_BOUND, (cam, err)
        assert np.array_equal(got[f"{d}/obs/{S.FRONT_MASKED}"], got[f"{d}/obs/{S.FRONT}"])
        assert at[f"demo_{e}"]["lerobot_task"] == f"transfer cube {e}"
    from egogym.data.reader import EgoDataset

    with EgoDataset(work / "aloha.hdf5", split="all") as ds:  # egogym's reader takes it
        assert len(ds) == 2 * T and ds[0][S.JOINTS_ACT].shape == (S.CHUNK, 14)


def test_unmappable_feature_and_missing_views_are_one_line_with_the_fix(lerobot_run):
    _, rep = lerobot_run
    line = one_line(rep, "aloha_plain")
    assert "observation.effort" in line and "--drop observation.effort" in line and "--map" in line
    line = one_line(rep, "aloha_no_views")
    assert S.FRONT_MASKED in line and "--copy-front-views" in line
    line = one_line(rep, "aloha_bad_map")
    assert "--map observation.effort=no_such_key" in line and S.JOINT_POSITIONS in line


def test_bad_input_is_one_line_naming_the_thing_and_the_fix(lerobot_run):
    work, rep = lerobot_run
    assert "no_such_dataset: no such folder" in one_line(rep, "missing_dir")
    line = one_line(rep, "not_lerobot")
    assert "not_lerobot: not a LeRobot dataset (no meta/info.json)" in line
    line = one_line(rep, "damaged")
    assert "meta_only: meta/tasks.parquet is missing; the dataset is incomplete" in line
    assert "--out" in one_line(rep, "export_exists") and "exists" in one_line(rep, "export_exists")
    assert "robot.hdf5 exists" in one_line(rep, "import_exists")
    assert "nothing.hdf5: no such file" in one_line(rep, "export_missing")
    for name in ("b0.hdf5", "b1.hdf5", "b2.hdf5", "b3", "a0.hdf5", "a1.hdf5", "a2.hdf5"):
        assert not (work / name).exists(), name
    assert rep["leftovers"] == []  # failed commands leave no temporary files either


@pytest.mark.parametrize("what", ["export", "import"])
def test_a_killed_export_or_import_leaves_nothing_that_looks_complete(lerobot_run, what, tmp_path):
    work, _ = lerobot_run
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.run([str(LEROBOT_PYTHON), str(script), str(work), what], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=child_env())
    assert proc.returncode == -9, proc.stderr[-2000:]
    final = work / ("killed_export" if what == "export" else "killed_import.hdf5")
    assert not final.exists()
    tmp = [p for p in work.iterdir() if p.name.startswith(f".{final.name}.tmp")]
    # the temporary name, hidden, with the killed process's id (and, for HDF5, its journal)
    assert tmp and all(p.name.startswith(f".{final.name}.tmp") for p in tmp)


def test_without_the_library_the_command_says_where_it_is(tmp_path, monkeypatch, capsys):
    """In .venv (no ledataset): one line naming the package and the venv that has it."""
    from egogym.cli import main

    monkeypatch.setitem(sys.modules, "ledataset", None)  # absent, even where it is installed
    make = tmp_path / "r.hdf5"
    from data_helpers import write_robot_file

    write_robot_file(make, lengths=(3,))
    assert main(["export", "lerobot", str(make), "--out", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lerobot-dataset==0.4.4" in err[0] and ".venv-sam2/bin/egogym" in err[0], err
    assert "bash .ci/setup.sh --tests" in err[0]
    assert not (tmp_path / "ds").exists()
