"""egogym: Gymnasium environments and an evaluation harness for EgoMimic-style learning.

Importing egogym registers the environments and nothing else (no simulator, no torch):
- `egogym/ObjectInBowl-v0`: continuous Object-in-Bowl, right arm (7-D actions);
- `egogym/HandOver-v0`: bimanual hand-over of a bar into the bowl (14-D actions).
They are registered with string entry points, so MuJoCo loads when an env is made
(`gymnasium.make`, or `egogym.env.EgoEnv` directly).

Layers, bottom up (docs/ARCHITECTURE.md): `core` -> `data` -> `tasks` -> `sim`, `real` ->
`env` -> `pipelines` -> `policies` (torch) -> `eval`; `cli` dispatches.
"""
from __future__ import annotations

import gymnasium as gym

from egogym.core.spec import EGOMIMIC  # numpy only

__version__ = "0.3.0"

TIME_LIMIT_S = 40.0
"""Episode time limit of the registered ids and of every task (s): 2000 control steps at 50 Hz."""

ENV_IDS = {"egogym/ObjectInBowl-v0": "object_in_bowl", "egogym/HandOver-v0": "handover"}

for _env_id, _task in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point="egogym.env:EgoEnv", kwargs={"task": _task},
                     max_episode_steps=int(TIME_LIMIT_S * EGOMIMIC.control_hz))


__all__ = ["EGOMIMIC", "ENV_IDS", "TIME_LIMIT_S"]
