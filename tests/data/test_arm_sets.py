"""A data file's arm set: written, read and carried into its statistics as the same `Arms`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data_helpers import robot_demo, writer
from egogym.core.arms import Arms
from egogym.data import schema as S
from egogym.data.commands import split_file
from egogym.data.reader import EgoDataset
from egogym.data.schema import DataFormatError
from egogym.data.stats import NormStats


def _left_arm_file(path):
    rng = np.random.default_rng(0)
    with writer(path, "robot", arms=Arms.parse("left")) as w:
        for T in (6, 7, 8):
            w.write_demo(*robot_demo(T, rng, arms=("left",)))
    split_file(path, 0.34)
    return path


def test_a_left_arm_file_keeps_its_arm_from_writer_to_statistics(tmp_path):
    path = _left_arm_file(tmp_path / "left.hdf5")
    ds = EgoDataset(path)
    assert ds.info.arms == ("left",) and ds.info.arm_set == Arms.parse("left")
    stats = NormStats.compute(path)
    assert stats.arms == ("left",) and stats.arm_set == Arms.parse("left")  # not the right arm its width suggests
    stats.save(tmp_path / "s.json")
    assert NormStats.load(tmp_path / "s.json").arm_set == Arms.parse("left")


def test_statistics_without_arm_names_mean_the_arms_of_their_width(tmp_path):
    path = _left_arm_file(tmp_path / "left.hdf5")
    d = NormStats.compute(path).to_dict()
    del d["arms"]  # statistics saved before they recorded the arms
    (tmp_path / "old.json").write_text(json.dumps(d))
    old = NormStats.load(tmp_path / "old.json")
    assert old.arms is None and old.arm_set == Arms.from_joint_width(7) == Arms.parse("right")
    d["arms"] = ["left", "right"]  # names that do not fit the widths
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"\['left', 'right'\].*7 values, not 14"):
        NormStats.load(tmp_path / "bad.json").arm_set
    d["arms"] = ["right", "left"]
    (tmp_path / "order.json").write_text(json.dumps(d))
    with pytest.raises(DataFormatError, match="left first"):
        NormStats.load(tmp_path / "order.json")


@pytest.mark.parametrize("arms, names", [("both", ("left", "right")), (Arms.parse("both"), ("left", "right")),
                                         (("left",), ("left",)), ("right", ("right",))])
def test_the_writer_takes_labels_names_and_arms(tmp_path, arms, names):
    with writer(tmp_path / "f.hdf5", "robot", arms=arms) as w:
        assert w.info.arms == names and w.info.arm_set == Arms.parse(names)


@pytest.mark.parametrize("arms", [("right", "left"), ("left", "left"), "up", ()])
def test_the_writer_refuses_names_out_of_layout_order(tmp_path, arms):
    with pytest.raises(DataFormatError, match="arms"):
        writer(tmp_path / "f.hdf5", "robot", arms=arms)


def test_widths_of_every_per_arm_key():
    both = Arms.parse("both")
    assert [S.width(k, both) for k in S.JOINT_KEYS] == [both.joint_width] * len(S.JOINT_KEYS)
    assert [S.width(k, both) for k in S.XYZ_KEYS] == [both.xyz_width] * len(S.XYZ_KEYS)
    assert S.OBS_KEYS[S.JOINT_POSITIONS].step_shape((2, 3), both) == (both.joint_width,)
    with pytest.raises(KeyError, match=S.FRONT):
        S.width(S.FRONT, both)
