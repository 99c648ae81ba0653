"""Fixtures for the real backend's tests: fake hardware on a fake clock, tiny images."""
from __future__ import annotations

import numpy as np
import pytest

from egogym.real.config import RealConfig
from egogym.real.devices import linear_intrinsics
from egogym.real.fakes import FakeClock, FakeHardware
from egogym.core.spec import EGOMIMIC, Calibration

SIZE = (24, 32)  # (H, W) of every camera image in these tests
STREAM = (32, 24, 60)  # fake D405 colour stream (width, height, fps)
GRIPPER_RANGE = (-0.62, 1.49)  # fake gripper motor (closed, open), rad


def write_calibration(path, T_cam_base=None) -> str:
    """A calibration file for SIZE: the Aria's linear camera, the fake D405s' K, a T_cam_base per arm."""
    K = {"front_img_1": linear_intrinsics(EGOMIMIC.camera("front_img_1"), SIZE)}
    w, h, _ = STREAM
    for c in ("left_wrist_img", "right_wrist_img"):
        K[c] = np.array([[0.9 * w, 0, w / 2], [0, 0.9 * w, h / 2], [0, 0, 1.0]])
    if T_cam_base is None:
        T = np.eye(4)
        T[:3, :3] = np.diag([1.0, -1.0, -1.0])
        T[:3, 3] = [0.05, 0.3, 0.6]
        T_cam_base = {"left": T, "right": T}
    Calibration(K, {c: SIZE for c in K}, T_cam_base, source="test").save(path)
    return str(path)


@pytest.fixture
def options(tmp_path) -> dict:
    """Backend options (JSON-able part) for a fake robot."""
    return {"calibration": write_calibration(tmp_path / "calibration.json"),
            "gripper_motor_range": {"left": list(GRIPPER_RANGE), "right": list(GRIPPER_RANGE)},
            "d405_serials": {"left_wrist_img": "D405-L", "right_wrist_img": "D405-R"},
            "d405_stream": list(STREAM), "log_dir": str(tmp_path / "logs")}


class Rig:
    """Fake hardware + a way to make envs on it with scripted operator answers."""

    def __init__(self, options: dict):
        self.options = options
        self.clock = FakeClock()
        self.hw = FakeHardware.for_config(EGOMIMIC, RealConfig.from_options(options), self.clock)
        self.answers: list[str] = []
        self.prompts: list[str] = []

    def input_fn(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    def make_env(self, env_id: str = "egogym/ObjectInBowl-v0", **kw):
        import gymnasium as gym

        import egogym  # noqa: F401

        opts = dict(self.options, drivers=self.hw.drivers, clock=self.clock, input_fn=self.input_fn)
        return gym.make(env_id, backend="real", image_size=SIZE, backend_options=opts, **kw)


@pytest.fixture
def rig(options) -> Rig:
    return Rig(options)


RESTART_SLACK = 0.08
"""rad: how far a move home that restarts from the measured pose may be from where the arm
really is, beyond one home step: the arm moves up to its Velocity_Limit (3.14 rad/s, the
fake's vx300s value) x one control period (0.02 s) = 0.063 rad between the joint_states the
restart read and the truth sampled with the command, plus a change of gravity sag. (0.05 was
too tight: hypothesis found a restart 0.0715 rad from the truth, within this bound.)"""


def assert_commands_safe(fake, arm_name: str, limits, slack: float = RESTART_SLACK) -> None:
    """Every joint target `fake` (a FakeArm) received is finite, inside the spec limits minus
    the margin, and within max_joint_step of the previous target; where a move home
    restarted from the measured pose instead, within home_joint_step + slack (RESTART_SLACK)
    of where the arm really was. Every gripper target is inside the calibrated motor range."""
    arm = EGOMIMIC.arm(arm_name)
    q = fake.arm_commands()
    truth = np.array(fake.arm_truth).reshape(-1, 6)
    assert len(q) > 0 and len(truth) == len(q)
    assert np.all(np.isfinite(q))
    assert np.all(q >= arm.lower[:6] + limits.joint_margin - 1e-9)
    assert np.all(q <= arm.upper[:6] - limits.joint_margin + 1e-9)
    for k in range(1, len(q)):
        step_ok = np.all(np.abs(q[k] - q[k - 1]) <= limits.max_joint_step + 1e-9)
        restart_ok = np.all(np.abs(q[k] - truth[k]) <= limits.home_joint_step + slack)
        assert step_ok or restart_ok, (k, q[k - 1], q[k], truth[k])
    g = fake.gripper_commands()
    lo, hi = sorted(fake.gripper_motor_range)
    assert np.all(np.isfinite(g)) and np.all((g >= lo - 1e-9) & (g <= hi + 1e-9))
