"""MPS CSV writing and reading (projectaria_tools readers) with our own checks."""
from __future__ import annotations

import numpy as np
import pytest

from egogym.core import geometry
from egogym.data import mps

pytest.importorskip("projectaria_tools", reason="reading Aria MPS outputs needs the aria extra: "
                    "pip install 'egogym[aria]'")


def _poses(n, rng):
    return np.stack([geometry.make_transform(geometry.quat_to_mat(rng.normal(size=4)), rng.normal(size=3))
                     for _ in range(n)])


def test_closed_loop_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    t = 1_000 + 1_000 * np.arange(50)
    T = _poses(50, rng)
    path = tmp_path / "slam" / mps.CLOSED_LOOP_FILE
    mps.write_closed_loop(path, t, T)
    header = path.read_text().splitlines()[0].split(",")
    assert header == mps.CLOSED_LOOP_COLUMNS
    tr = mps.read_closed_loop(path)
    assert tr.t_us.tolist() == t.tolist()
    np.testing.assert_allclose(tr.T_world_device, T, atol=1e-8)


def test_wrist_and_palm_round_trip_with_untracked_rows(tmp_path):
    rng = np.random.default_rng(1)
    n = 20
    palm = rng.normal(size=(n, 3))
    conf = np.ones(n)
    conf[[3, 7]] = -1.0
    nrm = rng.normal(size=(n, 3))
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    path = tmp_path / mps.WRIST_PALM_FILE
    mps.write_wrist_and_palm(path, 500 + 33_333 * np.arange(n),
                             {"right": dict(palm=palm, wrist=palm + 0.05, palm_normal=nrm, wrist_normal=nrm,
                                            confidence=conf)})
    assert path.read_text().splitlines()[0].split(",") == mps.WRIST_PALM_COLUMNS
    hands = mps.read_wrist_and_palm(path)
    r = hands["right"]
    assert r.tracked.tolist() == (conf >= 0).tolist()
    np.testing.assert_allclose(r.palm_device[r.tracked], palm[r.tracked], atol=1e-8)
    np.testing.assert_allclose(r.wrist_device[r.tracked], palm[r.tracked] + 0.05, atol=1e-8)
    np.testing.assert_allclose(r.palm_normal_device[r.tracked], nrm[r.tracked], atol=1e-8)
    assert np.isnan(r.palm_device[3]).all() and np.isnan(r.palm_normal_device[3]).all()
    assert not hands["left"].tracked.any()


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(mps.MpsError, match=r"closed_loop_trajectory.csv: no such file"):
        mps.read_closed_loop(tmp_path / mps.CLOSED_LOOP_FILE)


@pytest.mark.parametrize("column", ["qw_world_device", "tx_world_device", "tracking_timestamp_us"])
def test_missing_column_names_the_file_and_column(tmp_path, column):
    # projectaria_tools' reader returns [] here; our check must say which column.
    path = tmp_path / mps.CLOSED_LOOP_FILE
    mps.write_closed_loop(path, np.arange(5) * 1000, _poses(5, np.random.default_rng(2)))
    lines = path.read_text().splitlines()
    i = lines[0].split(",").index(column)
    path.write_text("\n".join(",".join(c for j, c in enumerate(ln.split(",")) if j != i) for ln in lines) + "\n")
    from projectaria_tools.core import mps as pmps
    assert len(pmps.read_closed_loop_trajectory(str(path))) == 0  # the reader's silent failure
    with pytest.raises(mps.MpsError, match=rf"{mps.CLOSED_LOOP_FILE}: column '{column}'"):
        mps.read_closed_loop(path)


def test_hand_file_missing_palm_column(tmp_path):
    path = tmp_path / mps.WRIST_PALM_FILE
    n = 3
    z = np.zeros((n, 3))
    mps.write_wrist_and_palm(path, np.arange(n), {"right": dict(palm=z, wrist=z, palm_normal=z, wrist_normal=z,
                                                                confidence=np.ones(n))})
    text = path.read_text().replace("tx_right_palm_device", "tx_right_palm_typo")
    path.write_text(text)
    with pytest.raises(mps.MpsError, match="column 'tx_right_palm_device'"):
        mps.read_wrist_and_palm(path)


def test_non_increasing_timestamps_are_refused(tmp_path):
    path = tmp_path / mps.CLOSED_LOOP_FILE
    mps.write_closed_loop(path, np.array([0, 1000, 1000, 3000]), _poses(4, np.random.default_rng(3)))
    with pytest.raises(mps.MpsError, match="does not increase"):
        mps.read_closed_loop(path)


def test_hand_tracking_results_csv(tmp_path):
    """`hand_tracking_results.csv` (21 landmarks per hand) read through projectaria_tools:
    palm = landmark PALM_CENTER, wrist = landmark WRIST, untracked hand = confidence -1."""
    import csv

    from egogym.data.mps import LANDMARK_PALM_CENTER, LANDMARK_WRIST, read_hand_tracking_results

    cols = ["tracking_timestamp_us"]
    for side in ("left", "right"):
        cols += [f"{side}_tracking_confidence"] + [f"t{a}_{side}_landmark_{i}_device" for i in range(21) for a in "xyz"]
    for side in ("left", "right"):
        cols += [f"t{a}_{side}_device_wrist" for a in "xyz"] + [f"q{a}_{side}_device_wrist" for a in "xyzw"]
        cols += [f"n{a}_{side}_{part}_device" for part in ("palm", "wrist") for a in "xyz"]
    rows = []
    for k in range(4):
        r = {c: 0.0 for c in cols}
        r.update(tracking_timestamp_us=1000 * k, left_tracking_confidence=0.9, right_tracking_confidence=-1,
                 qw_left_device_wrist=1.0, qw_right_device_wrist=1.0)
        for i in range(21):
            for j, a in enumerate("xyz"):
                r[f"t{a}_left_landmark_{i}_device"] = 0.01 * i + 0.001 * j + k
        rows.append(r)
    path = tmp_path / "hand_tracking_results.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    hands = read_hand_tracking_results(path)
    left, right = hands["left"], hands["right"]
    assert left.tracked.all() and not right.tracked.any()
    for k in range(4):
        np.testing.assert_allclose(left.palm_device[k], 0.01 * LANDMARK_PALM_CENTER + np.array([0, 0.001, 0.002]) + k)
        np.testing.assert_allclose(left.wrist_device[k], 0.01 * LANDMARK_WRIST + np.array([0, 0.001, 0.002]) + k)
    np.testing.assert_array_equal(left.t_us, [0, 1000, 2000, 3000])
    # A missing landmark column gives one line naming the file and the column.
    with open(path) as f:
        text = f.read().replace("tx_left_landmark_20_device", "tx_left_landmark_20_devic")
    path.write_text(text)
    with pytest.raises(Exception, match="tx_left_landmark_20_device"):
        read_hand_tracking_results(path)


def test_collect_embodiment_human_cli(tmp_path):
    """`egogym collect --embodiment human`: simulate, record, convert in one command; the
    file validates, and a rerun with --resume adds only the missing episode."""
    from egogym.cli import main
    from egogym.data.reader import EgoDataset

    out = tmp_path / "human.hdf5"
    args = ["collect", "--embodiment", "human", "--seed", "0", "--out", str(out), "--image-size", "48", "64",
            "--no-progress"]
    assert main([*args, "--episodes", "1"]) == 0
    assert main(["validate", str(out)]) == 0
    assert main([*args, "--episodes", "2", "--resume"]) == 0
    ds = EgoDataset(out, split="all")
    assert ds.domain == "human" and len(ds.demos) == 2
    sample = ds[0]
    assert sample["actions_xyz_act"].shape == (100, 3) and sample["front_img_1_line"].shape == (48, 64, 3)
