"""Files from `egogym export` read the way EgoMimic's loader reads them, checked with a
reader written from EgoMimic's documented layout (REFERENCE §1), not egogym's reader:
`data.attrs["env_args"]` a JSON string, `num_samples` per demo, byte-string masks, the
pre-stacked (T, 100, D) chunks and their (T, 10, D) subsample, uncompressed images. And
the loop closes: EgoMimic file -> convert egomimic -> export equals the EgoMimic file."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from egogym.data.egomimic import convert_egomimic
from egogym.data.export import export_egomimic

from data_helpers import human_demo, robot_demo, writer
from egomimic_files import write_egomimic_human, write_egomimic_robot


def egomimic_load(path, split: str, obs_keys, action_keys) -> list[dict]:
    """What a robomimic-style SequenceDataset gathers from a file, spelled from the layout
    alone: demos of the mask (byte strings), per demo num_samples, obs (T, ...), the
    pre-stacked action chunks (T, 100, D), and env_args parsed as JSON."""
    out = []
    with h5py.File(path, "r") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        assert isinstance(env_args, dict)
        names = f[f"mask/{split}"][()]
        assert names.dtype.kind == "S", names.dtype  # byte strings, as robomimic decodes them
        for raw in names:
            demo = f["data"][raw.decode("utf-8")]
            T = int(demo.attrs["num_samples"])
            item = {"demo": raw.decode(), "T": T}
            for k in obs_keys:
                ds = demo[f"obs/{k}"]
                assert ds.shape[0] == T
                if ds.dtype == np.uint8:
                    assert ds.compression is None and ds.chunks == (1,) + ds.shape[1:]
                item[k] = ds[()]
            for k in action_keys:
                a = demo[k][()]
                assert a.shape[:2] == (T, 100), (k, a.shape)
                sub = {"actions_joints_act": "actions_joints", "actions_xyz_act": "actions_xyz"}[k]
                assert np.array_equal(demo[sub][()], a[:, ::10])
                item[k] = a
            out.append(item)
    return out


ROBOT_OBS = ["front_img_1", "front_img_1_line", "right_wrist_img", "joint_positions", "ee_pose"]


def test_robot_and_human_exports_load_like_egomimic(tmp_path):
    rng = np.random.default_rng(0)
    src, dst = tmp_path / "r.hdf5", tmp_path / "r_ego.hdf5"
    demos = [robot_demo(T, rng) for T in (30, 7, 45)]
    with writer(src) as w:
        for obs, act in demos:
            w.write_demo(obs, act)
    from egogym.data.commands import split_file

    split_file(src, 0.34)
    export_egomimic(src, dst)
    items = {i["demo"]: i for s in ("train", "valid", "demo_train", "demo_valid")
             for i in egomimic_load(dst, s, ROBOT_OBS, ["actions_joints_act", "actions_xyz_act"])}
    assert sorted(items) == ["demo_0", "demo_1", "demo_2"]
    for n, (obs, act) in enumerate(demos):
        it = items[f"demo_{n}"]
        T = len(act["joints"])
        idx = np.minimum(np.arange(T)[:, None] + 2 * np.arange(100)[None], T - 1)  # t, t+2, ... clipped
        assert np.array_equal(it["actions_joints_act"], act["joints"][idx])
        assert np.array_equal(it["actions_xyz_act"], obs["ee_pose"][idx])
        assert np.array_equal(it["front_img_1"], obs["front_img_1"])
    hs, hd = tmp_path / "h.hdf5", tmp_path / "h_ego.hdf5"
    hdemos = [human_demo(T, rng) for T in (12, 9)]
    with writer(hs, "human") as w:
        for obs, act in hdemos:
            w.write_demo(obs, act)
    split_file(hs, 0.5)
    export_egomimic(hs, hd)
    got = {i["demo"]: i for s in ("train", "valid")
           for i in egomimic_load(hd, s, ["front_img_1_line", "ee_pose", "front_img_1_mask"], ["actions_xyz_act"])}
    for n, (obs, act) in enumerate(hdemos):
        assert np.array_equal(got[f"demo_{n}"]["actions_xyz_act"], act["xyz_act"])
        assert np.array_equal(got[f"demo_{n}"]["front_img_1_mask"], obs["front_img_1_mask"])
    with h5py.File(hd) as f:
        assert "actions_joints_act" not in f["data/demo_0"] and "actions" not in f["data/demo_0"]


@pytest.mark.parametrize("domain", ["robot", "human"])
def test_convert_then_export_gives_back_the_egomimic_file(tmp_path, domain):
    src, conv, back = tmp_path / "in.hdf5", tmp_path / "conv.hdf5", tmp_path / "back.hdf5"
    arrays = (write_egomimic_robot(src, overlap=False) if domain == "robot" else write_egomimic_human(src))
    convert_egomimic(src, conv, progress=False, log=lambda s: None)
    export_egomimic(conv, back)
    with h5py.File(back) as f, h5py.File(src) as g:
        assert json.loads(f["data"].attrs["env_args"]) == {}
        for m in ("train", "valid"):
            assert f[f"mask/{m}"][()].tolist() == g[f"mask/{m}"][()].tolist()
        for demo, a in arrays.items():
            assert int(f["data"][demo].attrs["num_samples"]) == int(g["data"][demo].attrs["num_samples"])
            for rel, v in a.items():
                assert np.array_equal(f["data"][demo][rel][()], v), (demo, rel)
