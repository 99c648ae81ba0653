"""egogym as a LeRobot benchmark env: what `lerobot-eval --env.type=egogym` steps (gymnasium only).

LeRobot's evaluation (`lerobot.scripts.lerobot_eval.rollout`, 0.6.1) asks of each sub-env of a
vector env, besides reset and step (docs/source/adding_benchmarks.mdx):
- raw observations it can map to its standard keys (`egogym.data.lerobot_keys`: `pixels` dict,
  `agent_pos`, `ee_pose`);
- `info["is_success"]` at every step (the vector env passes the ending step's in `final_info`);
- the attributes `_max_episode_steps` (the rollout's cap), `task_description` and `task` (strings);
- `metadata["render_fps"]` an int and `render()` an RGB frame (its videos).
`LeRobotEnv` wraps a Gymnasium env of egogym to give exactly that. `make_env` is the module-level
factory its vector workers call: pickled by reference, so a spawned (or forkserver) worker
imports this module, hence `egogym`, whose import registers the ids (the failure a closure around
`gym.make("egogym/...")` meets: `NamespaceNotFound: Namespace egogym not found`).

    from egogym.integrations.lerobot_env import make_vector_env
    envs = make_vector_env(2, use_async=True, env_id="egogym/ObjectInBowl-v0", image_size=(96, 128))

The `EnvConfig` LeRobot's CLI selects (`--env.type=egogym`) is `egogym.integrations.lerobot_config`.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

import egogym  # noqa: F401  (registers the ids; what a vector worker needs before gym.make)
from egogym.core.views import EE_POSE, JOINT_POSITIONS
from egogym.data.lerobot_keys import AGENT_POS, PIXELS, env_observation


class LeRobotEnv(gym.Wrapper):
    """An egogym env (made by `gym.make` with a time limit) in the layout `lerobot-eval` reads.

    Observation: {"pixels": {camera: (H, W, 3) uint8}, "agent_pos": joint positions (7 per arm:
    6 joints in rad, gripper in [0, 1]), "ee_pose": pinch points (m, Aria camera frame)}, inside
    `observation_space`. Action: egogym's joint targets, unchanged. `info` is egogym's plus
    `is_success` (the task's success so far, egogym's `info["success"]`) at reset and every step.
    `task` is the task's name (`object_in_bowl`); `task_description` the language instruction a
    policy is given, by default the task's name, the string `egogym export lerobot` writes into
    a dataset's episodes by default."""

    def __init__(self, env: gym.Env, task_description: str | None = None):
        super().__init__(env)
        ego = env.unwrapped
        steps = getattr(env.spec, "max_episode_steps", None) if env.spec is not None else None
        if not steps:
            raise ValueError("LeRobot's rollout needs a time limit: make the env with gym.make(id, ...) "
                             "(the registered ids have one) or give max_episode_steps")
        self.cameras: tuple[str, ...] = tuple(ego.cameras)
        space = ego.observation_space
        self.observation_space = gym.spaces.Dict({
            PIXELS: gym.spaces.Dict({c: space[c] for c in self.cameras}),
            AGENT_POS: space[JOINT_POSITIONS],
            EE_POSE: space[EE_POSE],
        })
        self._max_episode_steps = int(steps)
        self.task: str = ego.task.name
        self.task_description: str = task_description or self.task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return env_observation(obs, self.cameras), {**info, "is_success": bool(info["success"])}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(np.asarray(action, dtype=np.float64))
        return (env_observation(obs, self.cameras), reward, terminated, truncated,
                {**info, "is_success": bool(info["success"])})


def make_env(env_id: str = "egogym/ObjectInBowl-v0", *, max_episode_steps: int | None = None,
             image_size: Sequence[int] | None = None, cameras: Sequence[str] | None = None,
             task_options: dict | None = None, task_description: str | None = None,
             disable_env_checker: bool = True) -> LeRobotEnv:
    """One `LeRobotEnv` of the registered `env_id`, rendering "rgb_array" (LeRobot's videos).
    `max_episode_steps` None: the id's (2000 = 40 s); `image_size` (H, W) None: egogym's
    480x640; `cameras` None: the env's default (the Aria image and the active wrists)."""
    if env_id not in gym.registry:
        known = ", ".join(k for k in gym.registry if k.startswith("egogym/"))
        raise ValueError(f"env {env_id!r} is not registered; egogym has: {known}")
    kwargs: dict[str, Any] = {"render_mode": "rgb_array", "disable_env_checker": disable_env_checker}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = int(max_episode_steps)
    if image_size is not None:
        kwargs["image_size"] = tuple(int(x) for x in image_size)
    if cameras is not None:
        kwargs["cameras"] = tuple(cameras)
    if task_options:
        kwargs["task_options"] = dict(task_options)
    return LeRobotEnv(gym.make(env_id, **kwargs), task_description)


def make_vector_env(n_envs: int, use_async: bool = False, **env_kwargs) -> gym.vector.VectorEnv:
    """`n_envs` envs of `make_env(**env_kwargs)` in a vector env as LeRobot's `EnvConfig.create_envs`
    builds them (0.6.1): `AsyncVectorEnv` for `use_async` and more than one env, else
    `SyncVectorEnv`; autoreset in the same step, so the ending step's info (its `is_success`)
    arrives in `info["final_info"]`, where `lerobot-eval` reads it. Workers are spawned, not
    forked (MuJoCo's renderer, REFERENCE §9); each builds its env through `make_env`."""
    if int(n_envs) < 1:
        raise ValueError(f"n_envs={n_envs}: give at least 1")
    fns = [functools.partial(make_env, **env_kwargs) for _ in range(int(n_envs))]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if use_async and n_envs > 1:
        return gym.vector.AsyncVectorEnv(fns, context="spawn", autoreset_mode=mode)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
