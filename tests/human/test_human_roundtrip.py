"""Simulated human -> Aria-style recording -> `egogym convert aria` -> human HDF5."""
from __future__ import annotations

import pytest

import json
import shutil

import h5py
import numpy as np

from egogym.core import geometry
from egogym.data import schema as S

pytest.importorskip("projectaria_tools", reason="reading Aria MPS outputs needs the aria extra: "
                    "pip install 'egogym[aria]'")



def _demos(path):
    f = h5py.File(path, "r")
    return f, [f["data"][k] for k in sorted(f["data"].keys(), key=S.demo_sort_key)]


def test_actions_match_the_simulated_truth_within_1mm(human_h5, sim_recordings, human_consts):
    SIZE, SEEDS, truth_chunks = human_consts
    f, demos = _demos(human_h5)
    with f:
        assert len(demos) == len(SEEDS)
        for g, rec in zip(demos, sim_recordings):
            truth = np.load(rec / "truth.npz")
            keep = np.array(json.loads(g.attrs["frame_index"]))
            assert len(keep) > 40
            act = g[S.XYZ_ACT][()]
            err = np.abs(act - truth_chunks(truth, keep)).max()
            assert err < 1e-3, f"{rec.name}: max error {err * 1000:.3f} mm"
            np.testing.assert_allclose(g["obs"][S.EE_POSE][()], act[:, 0, :])


def test_robot_horizon_chunks_span_four_seconds_and_a_file_keeps_one_horizon(sim_recordings, human_consts, tmp_path):
    from egogym.cli import main

    SIZE, SEEDS, truth_chunks = human_consts
    out = tmp_path / "h.hdf5"
    assert main(["convert", "aria", str(sim_recordings[0]), "--out", str(out), "--horizon", "robot",
                 "--no-progress"]) == 0
    f, (g,) = _demos(out)
    with f:
        assert g.attrs["horizon"] == "robot"
        truth = np.load(sim_recordings[0] / "truth.npz")
        keep = np.array(json.loads(g.attrs["frame_index"]))
        assert keep[-1] == len(truth["palm_world"]) - 31  # only the 30-frame rule drops the end
        err = np.abs(g[S.XYZ_ACT][()] - truth_chunks(truth, keep, knots=40)).max()
        assert err < 1e-3, f"max error {err * 1000:.3f} mm"
    assert main(["convert", "aria", str(sim_recordings[1]), "--out", str(out), "--no-progress"]) == 2


def test_grip_point_labels_reach_the_toy_where_the_palm_stays_5_cm_off(sim_recordings, human_consts, tmp_path):
    from egogym.cli import main
    from egogym.sim.human import HumanConfig, HumanDemonstrator

    SIZE, SEEDS, _ = human_consts
    out = tmp_path / "grip.hdf5"
    assert main(["convert", "aria", str(sim_recordings[0]), "--out", str(out), "--point", "grip",
                 "--no-progress"]) == 0
    with HumanDemonstrator(HumanConfig(image_size=SIZE)) as h:  # the recording's own episode
        plan = h.plan_episode(SEEDS[0])
        toy, grasp = h.toy_pose(plan.t_grasp)[0], round(plan.t_grasp * h.config.fps)
    truth = np.load(sim_recordings[0] / "truth.npz")
    f, (g,) = _demos(out)
    with f:
        assert g.attrs["point"] == "grip"
        keep = np.array(json.loads(g.attrs["frame_index"]))
        i = int(np.argmin(np.abs(keep - grasp)))
        assert abs(keep[i] - grasp) <= 2, "the frames around the grasp were dropped"
        grip_world = geometry.transform_points(truth["T_world_rgb"][keep[i]], g["obs"][S.EE_POSE][i])
    assert np.linalg.norm(grip_world - toy) < 0.015
    assert np.linalg.norm(truth["palm_world"][keep[i]] - toy) > 0.04
    # A file keeps one label point: appending palm chunks is refused.
    assert main(["convert", "aria", str(sim_recordings[1]), "--out", str(out), "--no-progress"]) == 2


def test_file_follows_the_human_schema(human_h5, human_consts):
    SIZE = human_consts[0]
    f, demos = _demos(human_h5)
    with f:
        info = S.read_file_info(f, str(human_h5))
        assert info.domain == "human" and info.arms == ("right",) and tuple(info.image_size) == SIZE
        K = np.array(info.calibration["intrinsics"][S.FRONT])
        np.testing.assert_allclose(K, geometry.intrinsics(266.5 * SIZE[0] / 480, *SIZE))
        for g in demos:
            T = int(g.attrs["num_samples"])
            assert g["obs"][S.FRONT].shape == (T, *SIZE, 3)
            assert g["obs"][S.FRONT_MASK].dtype == bool and g["obs"][S.FRONT_MASK].shape == (T, *SIZE)
            assert g[S.XYZ_ACT].shape == (T, 100, 3)
            img, m, masked = g["obs"][S.FRONT][5], g["obs"][S.FRONT_MASK][5], g["obs"][S.FRONT_MASKED][5]
            assert m.any() and (masked[m] == 0).all() and (masked[~m] == img[~m]).all()
            line = g["obs"][S.FRONT_LINE][5]
            red = (line[..., 0] == 255) & (line[..., 1] == 0) & (line[..., 2] == 0)
            assert red.sum() > 5


def test_projected_chunk_points_land_on_the_hand(human_h5, sim_recordings):
    """Knot k of the chunk at t, carried into the camera of frame t+3k with the true
    poses, projects onto the hand pixels (segmentation masks) of that frame."""
    from PIL import Image

    f, demos = _demos(human_h5)
    hits = total = 0
    with f:
        for g, rec in zip(demos, sim_recordings):
            truth = np.load(rec / "truth.npz")
            keep = np.array(json.loads(g.attrs["frame_index"]))
            act = g[S.XYZ_ACT][()]
            K = truth["K"]
            for m_i, t in enumerate(keep[::4]):
                m_row = m_i * 4
                for k in range(0, 10, 3):
                    j = t + 3 * k
                    p = geometry.transform_points(geometry.invert(truth["T_world_rgb"][j]) @ truth["T_world_rgb"][t],
                                                  act[m_row, 11 * k])
                    uv = geometry.project(K, p)
                    mask = np.rot90(np.array(Image.open(rec / "masks" / f"{j:06d}.png")), k=-1)
                    r, c = int(uv[1]), int(uv[0])
                    total += 1
                    hits += bool(mask[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].any())
    assert total > 50
    assert hits == total, f"{total - hits} of {total} chunk points missed the hand"


def test_a_broken_recording_gets_one_line_and_the_others_convert(sim_recordings, tmp_path, capsys):
    from egogym.cli import main

    bad = tmp_path / "broken"
    shutil.copytree(sim_recordings[0], bad)
    p = bad / "mps" / "hand_tracking" / "wrist_and_palm_poses.csv"
    p.write_text(p.read_text().replace("tx_right_palm_device", "tx_right_palm"))
    out = tmp_path / "h.hdf5"
    code = main(["convert", "aria", str(bad), str(sim_recordings[1]), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0
    lines = [ln for ln in err.splitlines() if "skipped" in ln]
    assert len(lines) == 1 and "wrist_and_palm_poses.csv" in lines[0] and "tx_right_palm_device" in lines[0]
    with h5py.File(out) as f:
        assert len(f["data"].keys()) == 1
    code = main(["convert", "aria", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.hdf5"), "--no-progress"])
    assert code == 2


def test_reader_reads_the_file_back(human_h5):
    from egogym.data.reader import EgoDataset

    with h5py.File(human_h5, "a") as f:  # the split normally comes from `egogym split`
        names = sorted(f["data"].keys(), key=S.demo_sort_key)
        if "mask" not in f:
            f.create_dataset("mask/train", data=np.array([n.encode() for n in names]))
            f.create_dataset("mask/valid", data=np.array([], dtype="S8"))
    with EgoDataset(human_h5, split="train") as ds:
        s = ds[0]
        assert s[S.XYZ_ACT].shape == (100, 3)


def test_same_seed_same_episode_and_human_motion_is_not_the_robots(human_consts):
    SIZE = human_consts[0]
    from egogym.sim.experts import SPEED
    from egogym.sim.human import HumanConfig, HumanDemonstrator

    with HumanDemonstrator(HumanConfig(image_size=SIZE)) as h:
        a = h.plan_episode(5)
        pa = np.stack([h.palm_target(t) for t in np.arange(0, a.duration, 1 / 200)])
        b = h.plan_episode(5)
        pb = np.stack([h.palm_target(t) for t in np.arange(0, b.duration, 1 / 200)])
        np.testing.assert_array_equal(pa, pb)
        assert not np.allclose(h.plan_episode(6).toy_pos, a.toy_pos)
        reach = b.segments[1]
        speed = np.linalg.norm(np.diff(pb, axis=0), axis=1) * 200
        assert speed.max() > 1.5 * SPEED  # faster than the robot expert's transit moves
        # The last 5 cm of the reach comes in obliquely, not straight down as the robot's.
        end = reach.at(reach.t1)
        before = next(reach.at(t) for t in np.linspace(reach.t1, reach.t0, 400) if np.linalg.norm(reach.at(t) - end) > 0.05)
        d = end - before
        assert np.linalg.norm(d[:2]) > 0.3 * np.linalg.norm(d)


def test_bridged_tracking_losses_keep_frames_whose_label_is_near_the_true_palm(sim_recordings, tmp_path):
    """`convert aria --fill-gaps 0.2`: frames whose hand tracking was lost are kept, their palm (ee_pose, camera
    frame) interpolated within 1 cm of the simulator's truth; a bridge over 1 s is refused in one line."""
    from egogym.cli import main

    rec = sim_recordings[0]
    truth = np.load(rec / "truth.npz")
    lost = np.flatnonzero(~truth["tracked"])
    out = tmp_path / "filled.hdf5"
    assert main(["convert", "aria", str(rec), "--out", str(out), "--fill-gaps", "0.2", "--no-progress"]) == 0
    f, (g,) = _demos(out)
    with f:
        keep = np.array(json.loads(g.attrs["frame_index"]))
        ee = g["obs"][S.EE_POSE][()]
    bridged = [i for i, t in enumerate(keep) if t in set(lost)]
    assert bridged, f"no lost frame kept (lost {lost.tolist()})"
    for i in bridged:
        t = keep[i]
        palm_cam = geometry.transform_points(geometry.invert(truth["T_world_rgb"][t]), truth["palm_world"][t])
        assert np.linalg.norm(ee[i] - palm_cam) < 0.01
    assert main(["convert", "aria", str(rec), "--out", str(tmp_path / "x.hdf5"), "--fill-gaps", "2",
                 "--no-progress"]) == 2
