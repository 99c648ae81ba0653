"""The twin-rendered arm views the real robot uses (egogym.sim.arm_views) agree with the
simulator's own masked / line views when given the simulator's calibration and joints."""
from __future__ import annotations

import numpy as np

from egogym.core.views import FRONT, FRONT_LINE, FRONT_MASKED
from egogym.env import EgoEnv
from egogym.sim.arm_views import TwinArmViews


def _arm_mask(front: np.ndarray, masked: np.ndarray) -> np.ndarray:
    return (masked == 0).all(-1) & (front != 0).any(-1)


def test_twin_views_match_the_simulators_own():
    env = EgoEnv(task="object_in_bowl", cameras=(FRONT, FRONT_MASKED, FRONT_LINE), image_size=(96, 128))
    try:
        obs, _ = env.reset(seed=4)
        twin = TwinArmViews(env.robot, env.calibration, env.image_size, env.arms)
        rng = np.random.default_rng(0)
        home = env.robot.arm("right").home_command
        ious = []
        for _ in range(6):
            action = home + np.concatenate([rng.uniform(-0.35, 0.35, 6), [0.0]])
            for _ in range(25):
                obs, *_ = env.step(action)
            masked, line = twin(obs[FRONT], obs["joint_positions"])
            a, b = _arm_mask(obs[FRONT], obs[FRONT_MASKED]), _arm_mask(obs[FRONT], masked)
            ious.append((a & b).sum() / max(1, (a | b).sum()))
            red = lambda img: (img[..., 0] == 255) & (img[..., 1] == 0) & (img[..., 2] == 0)  # noqa: E731
            assert (red(line) == red(obs[FRONT_LINE])).mean() > 0.99  # the same keypoints, the same drawing
        assert min(ious) > 0.9, ious  # the toy and bowl may hide a few arm pixels in the sim's render
        twin.close()
    finally:
        env.close()
