"""`egogym convert egomimic` on small files written in EgoMimic's public layout by an
independent generator (egomimic_files.py): lossless (every input array rebuilt bit for bit),
chunks recovered per step and checked, splits repaired, calibration stored, resumable after
an interruption or SIGKILL, one-line errors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import h5py
import numpy as np
import pytest

from egogym.cli import main
from egogym.data import schema as S
from egogym.data.egomimic import convert_egomimic, reconstruct, verify_lossless
from egogym.data.journal import journal_path
from egogym.data.presets import resolve_calibration
from egogym.data.reader import EgoDataset
from egogym.data.schema import DataFormatError

from egomimic_files import write_egomimic_human, write_egomimic_robot

quiet = dict(progress=False, log=lambda s: None)


def _assert_rebuilt(out, arrays):
    with h5py.File(out, "r") as f:
        for demo, a in arrays.items():
            for rel, v in a.items():
                got = reconstruct(f, f"data/{demo}/{rel}")
                assert got.dtype == v.dtype and np.array_equal(got, v), (demo, rel)


@pytest.mark.parametrize("bimanual,dtype", [(False, np.float64), (True, np.float32)])
def test_robot_round_trip(tmp_path, bimanual, dtype):
    src, out = tmp_path / "bowlplace_robot.hdf5", tmp_path / "robot.hdf5"
    arrays = write_egomimic_robot(src, bimanual=bimanual, lowdim_dtype=dtype)
    s = convert_egomimic(src, out, calibration="egomimic", **quiet)
    assert s["converted"] == 4 and s["verified"] > 0 and s["masks"]["repaired"]
    _assert_rebuilt(out, arrays)
    with h5py.File(out, "r") as f:
        g = f["data/demo_10"]
        assert f["data"].attrs[S.ATTR_VERSION] == S.FORMAT_VERSION and S.XYZ_STEP in g
        assert S.JOINTS_ACT not in g and S.JOINTS_SUB not in g  # recovered per step, not stored
        assert g["obs/front_img_1"].compression is not None or g["obs/front_img_1"]._filters
        assert np.array_equal(reconstruct(f, "mask/train"), np.array([b"demo_0", b"demo_1", b"demo_10", b"demo_11"]))
    # splits repaired, under both names; the training reader agrees with the input's chunks everywhere
    ds = EgoDataset(out, "demo_train")
    valid = EgoDataset(out, "demo_valid")
    assert not set(ds.demos) & set(valid.demos) and len(ds.demos) + len(valid.demos) == 4
    for i in range(len(ds)):
        smp = ds[i]
        a = arrays[smp["demo"]]
        for k in (S.JOINTS_ACT, S.XYZ_ACT):
            assert np.array_equal(smp[k], a[k][smp["index"]].astype(np.float64))
    want = resolve_calibration("egomimic")
    assert np.allclose(ds.calibration.T_cam_base["right"], want.T_cam_base["right"])
    assert np.allclose(ds.calibration.K(S.FRONT, (480, 640)), want.K(S.FRONT))


def test_human_round_trip_with_and_without_mask(tmp_path):
    for mask_key in (True, False):
        src, out = tmp_path / f"h{mask_key}.hdf5", tmp_path / f"hc{mask_key}.hdf5"
        arrays = write_egomimic_human(src, mask_key=mask_key)
        s = convert_egomimic(src, out, calibration="egomimic-aria", **quiet)
        assert not s["masks"]["repaired"] and s["masks"]["valid"] == ["demo_2"]
        _assert_rebuilt(out, arrays)
        ds = EgoDataset(out, "train")
        assert ds.domain == "human" and np.array_equal(ds[3][S.XYZ_ACT], arrays["demo_0"]["actions_xyz_act"][3])


def test_foreign_arrays_and_attrs_are_kept(tmp_path):
    src, out = tmp_path / "r.hdf5", tmp_path / "rc.hdf5"
    arrays = write_egomimic_robot(src, lengths=(12, 9), names=("demo_0", "demo_1"))
    with h5py.File(src, "r+") as f:
        f["data/demo_0/obs/extrinsics"] = np.ones((12, 4, 4))
        f["data/demo_0/label"] = np.array([1])
        f["data/demo_1/actions_joints"][0, 0, 0] = 7.0  # a subsample that is not chunk[:, ::10]
        f["data/demo_1"].attrs["operator"] = "ab"
        f["data"].attrs["env_args"] = '{"env_name": "x"}'
        f.create_dataset("mask/train_50%", data=[b"demo_0"])
    logs = []
    convert_egomimic(src, out, log=logs.append, progress=False)
    assert sum("kept verbatim" in x for x in logs) == 3
    with h5py.File(out, "r") as f:
        assert np.array_equal(reconstruct(f, "data/demo_0/obs/extrinsics"), np.ones((12, 4, 4)))
        assert reconstruct(f, "data/demo_1/actions_joints")[0, 0, 0] == 7.0
        assert f["data/demo_1"].attrs["operator"] == "ab"
        assert f["mask/train_50%"][()].tolist() == [b"demo_0"]
    assert verify_lossless(src, out) == sum(len(a) for a in arrays.values()) + 2 + 3  # + extras + 3 masks


def test_chunks_that_are_not_prestacked_are_refused(tmp_path):
    src = tmp_path / "r.hdf5"
    write_egomimic_robot(src, lengths=(12, 9), names=("demo_0", "demo_1"))
    with h5py.File(src, "r+") as f:
        f["data/demo_1/actions_joints_act"][3, 5, 2] += 1.0
    with pytest.raises(DataFormatError, match=r"demo_1/actions_joints_act: the chunk at t=3 differs at point 5"):
        convert_egomimic(src, tmp_path / "out.hdf5", **quiet)


def test_interrupted_conversion_resumes(tmp_path, monkeypatch):
    src, out = tmp_path / "r.hdf5", tmp_path / "rc.hdf5"
    arrays = write_egomimic_robot(src)
    from egogym.data import writer as W

    real, calls = W.DemoStream.extend, []

    def flaky(self, *a, **kw):
        calls.append(self.name)
        if self.name == "demo_10" and calls.count("demo_10") == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third demo
        return real(self, *a, **kw)

    monkeypatch.setattr(W.DemoStream, "extend", flaky)
    with pytest.raises(KeyboardInterrupt):
        convert_egomimic(src, out, block_steps=8, **quiet)
    monkeypatch.undo()
    assert not journal_path(out).exists()
    with h5py.File(out, "r") as f:
        assert sorted(f["data"]) == ["demo_0", "demo_1"]
    logs = []
    s = convert_egomimic(src, out, block_steps=8, progress=False, log=logs.append)
    assert s["skipped"] == 2 and s["converted"] == 2 and any("resuming" in x for x in logs)
    _assert_rebuilt(out, arrays)


KILLED = textwrap.dedent("""
    import sys, time
    from egogym.data import writer as W
    from egogym.data.egomimic import convert_egomimic
    real = W.DemoStream.extend
    def slow(self, *a, **kw):
        real(self, *a, **kw)
        print(self.name, flush=True)
        time.sleep(0.02)
    W.DemoStream.extend = slow
    convert_egomimic(sys.argv[1], sys.argv[2], block_steps=4, progress=False, verify=False)
""")


def test_sigkill_mid_conversion_then_resume(tmp_path):
    src, out = tmp_path / "r.hdf5", tmp_path / "rc.hdf5"
    arrays = write_egomimic_robot(src)
    script = tmp_path / "k.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), str(src), str(out)], stdout=subprocess.PIPE, text=True)
    while proc.stdout.readline().strip() != "demo_10":  # demo_0 and demo_1 committed, demo_10 half-written
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert EgoDataset(out, "all").demos == ["demo_0", "demo_1"]
    assert main(["convert", "egomimic", str(src), "--out", str(out), "--no-progress"]) == 0
    _assert_rebuilt(out, arrays)


def test_cli_lines(tmp_path, capsys):
    src, out = tmp_path / "bowlplace_robot.hdf5", tmp_path / "robot.hdf5"
    write_egomimic_robot(src)
    assert main(["convert", "egomimic", str(src), "--out", str(out), "--no-progress"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "4 demos, 132 steps" in line and "lossless: 42 input arrays reproduced" in line
    other = tmp_path / "other.hdf5"
    write_egomimic_robot(other, lengths=(5, 6), names=("demo_0", "demo_1"))
    for argv, msg in ((["convert", "egomimic", str(other), "--out", str(out)], "not a conversion of"),
                      (["convert", "egomimic", str(src), "--out", str(tmp_path / "x.hdf5"), "--calibration", "egomimik"],
                       "did you mean 'egomimic'"),
                      (["convert", "egomimic", str(out), "--out", str(tmp_path / "y.hdf5")], "already an egogym file"),
                      (["convert", "egomimic", str(tmp_path / "none.hdf5"), "--out", str(tmp_path / "z.hdf5")], "no such file")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err


def test_verification_catches_a_changed_output(tmp_path):
    src, out = tmp_path / "r.hdf5", tmp_path / "rc.hdf5"
    write_egomimic_robot(src, lengths=(12, 9), names=("demo_0", "demo_1"))
    convert_egomimic(src, out, verify=False, **quiet)
    assert verify_lossless(src, out) > 0
    with h5py.File(out, "r+") as f:
        f["data/demo_1/obs/right_wrist_img"][4, 3, 2, 1] ^= 1  # one bit of one frame
    with pytest.raises(DataFormatError, match=r"data/demo_1/obs/right_wrist_img \(steps 0..8\) is not reproduced"):
        verify_lossless(src, out)
    with h5py.File(out, "r+") as f:
        del f["egomimic"]
    with pytest.raises(DataFormatError, match="did not finish"):
        verify_lossless(src, out)
