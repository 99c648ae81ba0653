"""A model's arms: taken from its data's statistics, saved with the weights, checked against the env."""
from __future__ import annotations

import json

import pytest

from egogym.core.arms import Arms
from egogym.core.errors import UserError
from egogym.policies import load_policy
from egogym.policies.checkpoint import CheckpointError, load_checkpoint, resolve
from egogym.policies.config import preset
from egogym.policies.model import EgoACT
from egogym.policies.synthetic import SyntheticEgoData, synthetic_stats, train_synthetic_run
from egogym.policies.train import Trainer
from test_policy import FakeEnv

CFG = preset("smoke").with_overrides({"train.video_frames": 0})


def _train(out, robot="right", human=None):
    r = SyntheticEgoData(8, "robot", arms=robot)
    data, stats = {"robot": (r, r)}, {"robot": synthetic_stats(r)}
    if human is not None:
        h = SyntheticEgoData(8, "human", arms=human)
        data["human"], stats["human"] = (h, h), synthetic_stats(h)
    Trainer(CFG, data, stats, out, 1, progress=False).fit()
    return out


def test_egoact_takes_arms_labels_names_and_an_arm_count():
    a = EgoACT(CFG.model, Arms.parse("both"), ("robot",))
    assert a.arms == EgoACT(CFG.model, "both", ("robot",)).arms == EgoACT(CFG.model, 2, ("robot",)).arms
    assert (a.dim_joints, a.dim_xyz) == (a.arms.joint_width, a.arms.xyz_width)
    assert EgoACT(CFG.model, 1, ("robot",)).arms == Arms.from_count(1) == Arms.parse("right")
    with pytest.raises(ValueError, match="3"):
        EgoACT(CFG.model, 3, ("robot",))


def test_a_left_arm_model_keeps_its_arm_and_refuses_a_right_arm_env(tmp_path):
    run = _train(tmp_path / "run", robot="left")
    ck = load_checkpoint(run)
    assert ck.model.arms == Arms.parse("left") and ck.meta["arm_names"] == ["left"] and ck.meta["arms"] == 1
    with pytest.raises(CheckpointError, match="trained for arms \\['left'\\].*arms='left'"):
        load_policy(run, FakeEnv())  # the env drives the right arm: same width, another arm
    env = FakeEnv()
    env.arms = Arms.parse("left")
    assert load_policy(run, env).model.arms == Arms.parse("left")


def test_a_checkpoint_that_stores_an_arm_count_still_loads(tmp_path):
    run = train_synthetic_run(tmp_path / "run")
    d = resolve(run)
    meta = json.loads((d / "checkpoint.json").read_text())
    del meta["arm_names"]
    (d / "checkpoint.json").write_text(json.dumps(meta))
    for f in d.glob("stats_*.json"):  # statistics saved before they recorded the arms
        s = json.loads(f.read_text())
        del s["arms"]
        f.write_text(json.dumps(s))
    ck = load_checkpoint(run)
    assert ck.model.arms == Arms.parse("right") and load_policy(run, FakeEnv()).model.arms == Arms.parse("right")
    meta["arm_names"] = ["left"]  # of the same width as the statistics' right arm, but another arm
    (d / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"statistics are for arms \['right'\], the model for \['left'\]"):
        load_checkpoint(run)
    meta["arm_names"] = ["left", "right"]
    (d / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"checkpoint.json: arms: .*not 1 arm"):
        load_checkpoint(run)


def test_human_hands_must_be_the_robot_arms(tmp_path):
    with pytest.raises(UserError, match=r"hand\(s\) \['left'\].*arm\(s\) \['right'\]"):
        _train(tmp_path / "run", robot="right", human="left")


def test_resume_refuses_data_of_other_arms(tmp_path):
    run = _train(tmp_path / "run", robot="left")
    r = SyntheticEgoData(8, "robot", arms="right")
    with pytest.raises(UserError, match="resume"):
        Trainer(CFG, {"robot": (r, r)}, {"robot": synthetic_stats(r)}, run, 2, resume=True, progress=False)
