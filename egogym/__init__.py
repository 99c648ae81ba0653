"""egogym: Gymnasium environments and an evaluation harness for EgoMimic-style learning.

Importing egogym registers the environments:
- `egogym/ObjectInBowl-v0`: continuous Object-in-Bowl, right arm (7-D actions);
- `egogym/HandOver-v0`: bimanual hand-over of a bar into the bowl (14-D actions).
No torch import anywhere in this package.
"""
from __future__ import annotations

import os

# Offscreen MuJoCo rendering needs a GL backend; EGL works with Mesa on a CPU-only machine.
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from egogym.env import EgoEnv  # noqa: E402
from egogym.spec import EGOMIMIC  # noqa: E402

ENV_IDS = {"egogym/ObjectInBowl-v0": "object_in_bowl", "egogym/HandOver-v0": "handover"}

for _env_id, _task in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point="egogym.env:EgoEnv", kwargs={"task": _task},
                     max_episode_steps=int(40 * EGOMIMIC.control_hz))

__all__ = ["EGOMIMIC", "ENV_IDS", "EgoEnv"]
