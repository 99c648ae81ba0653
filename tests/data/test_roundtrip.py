"""Write/read round trips, resume, splits, normalization statistics, overlay."""
import json

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from egogym.cli import main
from egogym.data import schema as S
from egogym.data.commands import split_file, validate_file
from egogym.core.views import RED, draw_polyline, mask_and_line
from egogym.data.reader import EgoDataset
from egogym.data.schema import DataFormatError
from egogym.data.stats import NormStats

from data_helpers import H, W, calibration, human_demo, robot_demo, write_robot_file, writer


def test_robot_round_trip_is_exact(tmp_path):
    p = tmp_path / "r.hdf5"
    demos = write_robot_file(p, lengths=(3, 40), write_prestacked=True)
    assert validate_file(p) == ([], "robot, egogym format v1, 2 demos, 43 steps")
    ds = EgoDataset(p, split="all")
    assert ds.domain == "robot" and ds.demos == ["demo_0", "demo_1"] and len(ds) == 43
    assert np.allclose(ds.calibration.K(S.FRONT), calibration().K(S.FRONT))
    for i in range(len(ds)):
        s = ds[i]
        obs, act = demos[0 if i < 3 else 1]
        t = i if i < 3 else i - 3
        assert (s["demo"], s["index"]) == ds.locate(i) == (f"demo_{0 if i < 3 else 1}", t)
        for k, v in obs.items():
            assert np.array_equal(s[k], v[t]) and s[k].dtype == v.dtype
        idx, pad = S.chunk_indices(t, len(obs[S.FRONT]))
        assert np.array_equal(s[S.JOINTS_ACT], act["joints"][idx])
        assert np.array_equal(s[S.XYZ_ACT], obs[S.EE_POSE][idx])
        assert np.array_equal(s[S.PAD_MASK], pad)
    with h5py.File(p) as f:  # the pre-stacked keys agree with the lazy chunks
        assert np.array_equal(f["data/demo_1/actions_joints_act"][7], ds[3 + 7][S.JOINTS_ACT])
        assert f["data"].attrs[S.ATTR_TOTAL] == 43
        assert json.loads(f["data"].attrs[S.ATTR_ENV_ARGS]) == {"test": True}


def test_human_round_trip_and_keys_filter(tmp_path):
    p = tmp_path / "h.hdf5"
    rng = np.random.default_rng(1)
    with writer(p, "human") as w:
        obs, act = human_demo(6, rng)
        assert w.write_demo(obs, act) == "demo_0"
    ds = EgoDataset(p, split="all", keys=[S.FRONT_LINE, S.EE_POSE])
    s = ds[4]
    assert set(s) == {S.FRONT_LINE, S.EE_POSE, S.XYZ_ACT, S.PAD_MASK, "demo", "index"}
    assert np.array_equal(s[S.XYZ_ACT], act["xyz_act"][4]) and s[S.PAD_MASK].all()
    assert np.array_equal(EgoDataset(p, split="all")[2][S.FRONT_MASK], obs[S.FRONT_MASK][2])


def test_resume_appends_and_checks_settings(tmp_path):
    p = tmp_path / "r.hdf5"
    write_robot_file(p, lengths=(4,))
    rng = np.random.default_rng(5)
    with writer(p) as w:
        assert w.existing_demos() == ["demo_0"]
        assert w.write_demo(*robot_demo(3, rng)) == "demo_1"
        assert w.demo_attrs()["demo_0"]["seed"] == 0
    with pytest.raises(DataFormatError, match="arms"):
        writer(p, arms="both")
    with pytest.raises(DataFormatError, match="image_codec"):
        writer(p, image_codec="gzip")


@pytest.mark.parametrize("bad, match", [
    (lambda o, a: o.pop(S.FRONT_LINE), "lacks 'front_img_1_line'"),
    (lambda o, a: o.update({S.JOINT_POSITIONS: np.zeros((4, 6))}), "joint_positions"),
    (lambda o, a: o.update({S.FRONT: o[S.FRONT].astype(np.float32)}), "dtype float32"),
    (lambda o, a: o[S.EE_POSE].__setitem__((1, 1), np.nan), "NaN"),
    (lambda o, a: a.update({"joints": np.zeros((3, 7))}), "actions"),
    (lambda o, a: o.update({"depth": o[S.FRONT]}), "not part of the robot schema"),
])
def test_writer_rejects_bad_demos_and_leaves_file(tmp_path, bad, match):
    from data_helpers import sha
    p = tmp_path / "r.hdf5"
    write_robot_file(p, lengths=(2,))
    before = sha(p)
    obs, act = robot_demo(4, np.random.default_rng(0))
    bad(obs, act)
    with writer(p) as w, pytest.raises(DataFormatError, match=match):
        w.write_demo(obs, act)
    assert sha(p) == before


def test_writer_rejects_calibration_of_another_size(tmp_path):
    from egogym.data.writer import DemoWriter, calibration_at
    with pytest.raises(DataFormatError, match="calibration_at"):
        DemoWriter(tmp_path / "x.hdf5", "robot", calibration((48, 64)), arms="right", control_hz=50,
                   image_size=(H, W), env_args={})
    cal = calibration_at(calibration((48, 64)), (H, W))
    assert np.allclose(cal.K(S.FRONT), calibration((H, W)).K(S.FRONT))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 9), frac=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_splits_disjoint_and_complete(tmp_path_factory, n, frac, seed):
    p = tmp_path_factory.mktemp("split") / "r.hdf5"
    write_robot_file(p, lengths=(2,) * n)  # 2 steps: a 1-step train split is constant, which validate refuses
    train, valid = split_file(p, frac, seed)
    assert not set(train) & set(valid) and sorted(train + valid) == sorted(f"demo_{i}" for i in range(n))
    assert train and valid
    assert EgoDataset(p, "train").demos == train and EgoDataset(p, "valid").demos == valid
    with h5py.File(p) as f:
        assert f["mask/train"].dtype.kind == "S"
    assert validate_file(p)[0] == []
    assert split_file(p, frac, seed) == (train, valid)  # same seed, same split


def test_stats_use_train_only_and_round_trip(tmp_path):
    p = tmp_path / "r.hdf5"
    rng = np.random.default_rng(0)
    with writer(p) as w:
        for i in range(4):
            obs, act = robot_demo(30, rng)
            if i == 3:  # a wild demo: it must not move the statistics when it is in valid
                obs[S.JOINT_POSITIONS] += 1000.0
            w.write_demo(obs, act)
    with h5py.File(p, "r+") as f:
        f.create_dataset("mask/train", data=[b"demo_0", b"demo_1", b"demo_2"])
        f.create_dataset("mask/valid", data=[b"demo_3"])
    st_ = NormStats.compute(p)
    assert st_.demos == ["demo_0", "demo_1", "demo_2"]
    assert np.all(np.abs(st_.mean[S.JOINT_POSITIONS]) < 1.0)
    assert st_.mean[S.JOINTS_ACT].shape == (100, 7) and st_.std[S.XYZ_ACT].shape == (100, 3)
    ds = EgoDataset(p, "train")
    allj = np.stack([ds[i][S.JOINTS_ACT] for i in range(len(ds))])
    assert np.allclose(st_.mean[S.JOINTS_ACT], allj.mean(0)) and np.allclose(st_.std[S.JOINTS_ACT], allj.std(0))
    st_.save(tmp_path / "s.json")
    back = NormStats.load(tmp_path / "s.json")
    for k in st_.mean:
        assert np.array_equal(back.mean[k], st_.mean[k]) and np.array_equal(back.std[k], st_.std[k])
    with pytest.raises(DataFormatError, match="train split only"):
        NormStats.compute(p, split="valid")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), batch=st.integers(1, 5), scale=st.floats(1e-3, 1e3))
def test_normalization_round_trip(seed, batch, scale):
    rng = np.random.default_rng(seed)
    stats = NormStats("robot", {S.JOINT_POSITIONS: rng.normal(size=7) * scale, S.XYZ_ACT: rng.normal(size=(100, 3))},
                      {S.JOINT_POSITIONS: rng.uniform(0.01, 3, 7) * scale, S.XYZ_ACT: rng.uniform(0.01, 3, (100, 3))})
    x = {S.JOINT_POSITIONS: rng.normal(size=(batch, 7)) * scale, S.XYZ_ACT: rng.normal(size=(batch, 100, 3)),
         S.FRONT: np.zeros((2, 2, 3), np.uint8)}
    y = stats.normalize(x)
    assert y[S.FRONT] is x[S.FRONT]
    z = stats.unnormalize(y)
    for k in (S.JOINT_POSITIONS, S.XYZ_ACT):
        assert np.allclose(z[k], x[k], rtol=1e-12, atol=1e-12 * scale)


def test_stats_refuse_keys_they_lack(tmp_path):
    stats = NormStats("human", {S.EE_POSE: np.zeros(3), S.XYZ_ACT: np.zeros((100, 3))},
                      {S.EE_POSE: np.ones(3), S.XYZ_ACT: np.ones((100, 3))}, source="human.hdf5")
    with pytest.raises(DataFormatError, match="lack 'joint_positions'"):
        stats.normalize({S.JOINT_POSITIONS: np.zeros(7)})
    with pytest.raises(DataFormatError, match="trailing shape"):
        stats.normalize({S.EE_POSE: np.zeros(6)})
    with pytest.raises(DataFormatError, match="egogym stats"):
        NormStats.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "egogym-normstats", "version": 7}')
    with pytest.raises(DataFormatError, match="version 7"):
        NormStats.load(tmp_path / "bad.json")


def test_cli_split_validate_stats(tmp_path, capsys):
    p = tmp_path / "r.hdf5"
    write_robot_file(p, lengths=(3, 3, 3, 3, 3))
    assert main(["split", str(p), "--valid-fraction", "0.4", "--seed", "1"]) == 0
    assert main(["validate", str(p)]) == 0
    assert main(["stats", str(p), "--out", str(tmp_path / "s.json")]) == 0
    assert NormStats.load(tmp_path / "s.json").demos == EgoDataset(p, "train").demos
    assert main(["split", str(p), "--valid-fraction", "1.5"]) == 2
    assert "--valid-fraction 1.5" in capsys.readouterr().err


def test_mask_and_line_pixels():
    img = np.full((20, 30, 3), 200, np.uint8)
    mask = np.zeros((20, 30), bool)
    mask[2:5, 3:6] = True
    masked, line = mask_and_line(img, mask, np.array([[0.0, 10.0], [30.0, 10.0]]), thickness_px=2.0)
    assert (masked[mask] == 0).all() and (masked[~mask] == 200).all()
    red = np.all(line == RED, axis=-1)
    # pixel centres at v = 9.5 and 10.5 lie within 1 px of the line v = 10; 8.5 and 11.5 do not
    assert red[9].all() and red[10].all() and not red[8].any() and not red[11].any()
    assert np.array_equal(line[~red], masked[~red])
    # NaN breaks the line; points may lie outside the image
    out = draw_polyline(img, np.array([[5.0, 5.0], [np.nan, np.nan], [-50.0, 15.5], [80.0, 15.5]]), thickness_px=1.0)
    changed = np.any(out != img, axis=-1)
    assert changed[15].all() and changed.sum() == 30
    with pytest.raises(ValueError, match="mask"):
        mask_and_line(img, mask[:, :5], np.zeros((2, 2)))
