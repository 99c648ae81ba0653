"""`model.robot_state`: the robot read in the human's representation (issue 24, bridge 4)."""
import numpy as np
import pytest
import torch

from egogym.cli import main as egogym_main
from egogym.policies.config import ConfigError, preset
from egogym.policies.model import EgoACT
from egogym.policies.policy import load_policy

SMOKE = preset("smoke")


def test_pinch_state_makes_the_two_pathways_one_function():
    """With the robot's state as the pinch point and no wrist camera, nothing the model reads
    tells the domains apart: a robot and a human sample with the same image, state and chunk
    get the same pose-head prediction and the same posterior."""
    cfg = SMOKE.with_overrides({"model.robot_state": "pinch", "model.wrist_key": ""}).model
    torch.manual_seed(0)
    m = EgoACT(cfg, "right", ("robot", "human")).eval()
    img, state, xyz = torch.rand(2, 3, 32, 32), torch.randn(2, 3), torch.randn(2, 100, 3)
    joints = torch.randn(2, 100, 7)
    noise = torch.randn(2, cfg.latent)
    r = m("robot", {"front": img}, state, torch.cat([joints, xyz], -1), noise=noise)
    h = m("human", {"front": img}, state, xyz, noise=noise)
    for k in ("xyz", "mu", "logvar"):
        torch.testing.assert_close(r[k], h[k])
    assert r["joints"].shape == (2, 100, 7) and "joints" not in h
    per_domain = EgoACT(SMOKE.with_overrides({"model.wrist_key": ""}).model, "right", ("robot", "human"))
    assert set(per_domain.proprio_in) == {"robot", "human"} and set(m.proprio_in) == {"shared"}


def test_robot_state_validates():
    with pytest.raises(ConfigError, match="model.robot_state='pinc': did you mean 'pinch'"):
        SMOKE.with_overrides({"model.robot_state": "pinc"})


def test_a_pinch_policy_reads_the_pinch_point_not_the_joints(tiny_files, tmp_path):
    robot, human = tiny_files
    out = tmp_path / "run"
    assert egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--human", str(human), "--out", str(out),
                        "--steps", "2", "--no-progress", "--set", "model.robot_state=pinch",
                        "--set", "train.video_frames=0"]) == 0
    pol = load_policy(out, None)
    assert pol.config.model.robot_state == "pinch"
    h, w = pol.config.model.image_size
    rng = np.random.default_rng(0)
    obs = {k: rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for k in (pol.config.model.front_key,
                                                                       pol.config.model.wrist_key)}
    obs |= {"joint_positions": np.zeros(7), "ee_pose": np.array([0.25, -0.1, 0.5])}
    joints, xyz = pol.predict_chunk(obs)
    same = pol.predict_chunk({**obs, "joint_positions": np.full(7, 0.5)})
    moved = pol.predict_chunk({**obs, "ee_pose": np.array([0.1, 0.1, 0.4])})
    np.testing.assert_array_equal(xyz, same[1])
    assert not np.allclose(xyz, moved[1])


def test_a_robot_sample_without_its_wrist_camera_is_read_as_a_human_sample_is():
    """`train.wrist_dropout`: a robot sample whose wrist tokens are masked out gets the prediction the
    model gives it with the human's camera set (front only), the others theirs with the wrist; with the
    pinch state that is the human pathway's prediction for the same image and state."""
    cfg = SMOKE.with_overrides({"model.robot_state": "pinch"}).model
    torch.manual_seed(0)
    m = EgoACT(cfg, "right", ("robot", "human")).eval()
    front, wrist, state = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32), torch.randn(3, 3)
    images = {"front": front, "wrist": wrist}
    keep = torch.tensor([True, False, True])
    mixed = m("robot", images, state, wrist_keep=keep)["xyz"]
    full = m("robot", images, state)["xyz"]
    as_human = m("human", {"front": front}, state)["xyz"]
    torch.testing.assert_close(mixed[keep], full[keep])
    torch.testing.assert_close(mixed[~keep], as_human[~keep])
    assert not torch.allclose(full[~keep], as_human[~keep])  # the wrist camera does change the prediction
    with pytest.raises(ConfigError, match="train.wrist_dropout=0.5: the model reads no wrist camera"):
        SMOKE.with_overrides({"train.wrist_dropout": "0.5", "model.wrist_key": ""})
    with pytest.raises(ConfigError, match=r"train.wrist_dropout=1.0: must be in \[0, 1\)"):
        SMOKE.with_overrides({"train.wrist_dropout": "1.0"})
