"""The ladder's positive control: the scripted robot's demos stored as human demos, labels exact."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from egogym.core.errors import UserError
from egogym.data import schema as S
from egogym.data.reader import EgoDataset
from egogym.pipelines.collect import collect_robot
from egogym.pipelines.positive_control import robot_demos_as_human


def test_robot_demos_become_human_demos_with_exact_chunks(tmp_path):
    robot, human = tmp_path / "robot.hdf5", tmp_path / "human.hdf5"
    collect_robot("object_in_bowl", 2, 5, robot, image_size=(16, 16), max_steps=230, progress=False)
    assert robot_demos_as_human(robot, human) == ["demo_0", "demo_1"]
    span = S.ROBOT_STRIDE * (S.CHUNK - 1)
    with h5py.File(robot, "r") as r, h5py.File(human, "r") as h:
        info = S.read_file_info(h, str(human))
        assert (info.domain, info.arms, info.embodiment) == ("human", ("right",), "robot-as-human")
        for demo in ("demo_0", "demo_1"):
            ee = r[S.DATA][demo][S.OBS][S.EE_POSE][()]
            g = h[S.DATA][demo]
            keep = len(ee) - span
            assert len(g[S.OBS][S.EE_POSE]) == keep
            np.testing.assert_array_equal(g[S.OBS][S.FRONT_LINE][()], r[S.DATA][demo][S.OBS][S.FRONT_LINE][:keep])
            chunks = g[S.XYZ_ACT][()]
            np.testing.assert_array_equal(chunks[:, 0], ee[:keep])
            np.testing.assert_array_equal(chunks[-1, -1], ee[-1])  # the last chunk ends on the demo's last step
            np.testing.assert_array_equal(chunks[3, 7], ee[3 + S.ROBOT_STRIDE * 7])
            assert "joint_positions" not in g[S.OBS] and g.attrs["seed"] == 5 + int(demo[-1])
    sample = EgoDataset(human, split="all")[0]
    assert sample[S.XYZ_ACT].shape == (S.CHUNK, 3) and sample[S.PAD_MASK].all()


def test_demos_shorter_than_a_chunk_are_refused(tmp_path):
    robot = tmp_path / "robot.hdf5"
    collect_robot("object_in_bowl", 1, 0, robot, image_size=(16, 16), max_steps=50, progress=False)
    with pytest.raises(UserError, match="no demo is longer than one chunk"):
        robot_demos_as_human(robot, tmp_path / "human.hdf5")
