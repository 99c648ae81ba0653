"""MPS CSV writing and reading (projectaria_tools readers) with our own checks."""
from __future__ import annotations

import numpy as np
import pytest

from egogym import geometry
from egogym.data import mps


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
    nrm = np.tile([0.0, 0.0, 1.0], (n, 1))
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
    assert np.isnan(r.palm_device[3]).all()
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
