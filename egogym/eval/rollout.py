"""One episode: the rollout loop, the same for sim and real, which never asks which backend runs.

Rates: the env steps at its control rate (`spec.control_hz`, 50 Hz). The loop queries
the policy at `loop_hz` (default: the env's rate) and holds each action for
env_hz / loop_hz env steps. egogym's own policies expect one `act` per env step:
the scripted expert plays its plan at 50 Hz, and trained policies (`egogym.policies.EgoPolicy`)
run EgoMimic's 25 Hz schedule themselves (each chunk point held 2 steps, the first 25 of
100 points executed per query). Keep the default for them. A lower `loop_hz` is for
policies that act at a lower rate themselves. A remote policy (`--policy ws://...`) keeps
the default too: it executes the served chunk on its own schedule (`egogym.policies.remote`).

A policy that raises `egogym.core.protocols.PolicyUnavailable` from `act` (a remote server
lost, or too slow) ends its episode: the record says "aborted" with the reason, and the
next episode runs (the policy's `reset` reconnects). A policy's `query_latency_ms()`
statistics, when it has them, go into the record.

Determinism: everything random in an episode comes from its seed: `env.reset(seed=...)`,
and, before `policy.reset()`, numpy's global generator and torch's (when torch is
loaded) are seeded with it too, for policies that sample.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from egogym.core.errors import UserError
from egogym.core.protocols import (EvalEnv, Policy, PolicyUnavailable, chunk_xyz, close_policy, query_latency_ms,
                                   reads_images)
from egogym.core.views import FRONT
from egogym.eval.config import EvalConfig
from egogym.policies.kinds import PolicySpec


def make_env(config: EvalConfig):
    """The evaluation env through `gymnasium.make`, whichever backend (the caller closes it)."""
    import gymnasium as gym

    import egogym  # noqa: F401  (registers the ids)

    if config.env_id not in gym.registry:
        known = ", ".join(k for k in gym.registry if k.startswith("egogym/"))
        raise UserError(f"--env {config.env_id!r} is not registered; egogym has: {known}")
    kwargs: dict[str, Any] = {"backend": config.backend, "backend_options": dict(config.backend_options)}
    if config.task_options:
        kwargs["task_options"] = dict(config.task_options)
    if config.image_size is not None:
        kwargs["image_size"] = tuple(config.image_size)
    cameras = config.cameras if config.cameras is not None else config.policy_spec.cameras()
    if cameras is not None:
        kwargs["cameras"] = tuple(cameras)
    if config.max_steps is not None:
        kwargs["max_episode_steps"] = config.max_steps
    # Gymnasium's passive checker wants every key of the space in the first step's observation;
    # the evaluation omits images no policy reads (EgoEnv.request_images). The env itself is
    # checked by Gymnasium's check_env in tests/env.
    kwargs["disable_env_checker"] = True
    try:
        return gym.make(config.env_id, **kwargs)
    except (TypeError, ValueError, KeyError) as e:
        msg = str(e).split(" was raised from the environment creator")[0].strip("\"'")
        raise UserError(f"{_blamed_flag(msg, kwargs, config.env_id)}: {msg}") from None


ENV_FLAGS = (  # (env keyword, the eval flag that sets it, words of the env's errors about it)
    ("cameras", "--cameras", ("camera",)),
    ("image_size", "--image-size", ("image_size", "image size", "height, width")),
    ("backend_options", "--backend-option", ("backend option", "backend_options", "calibration", "hardware")),
    ("task_options", "--task-option", ("task option", "task_options", "has no option", "region", "toy")),
    ("max_episode_steps", "--max-steps", ("max_episode_steps", "episode steps")),
    ("backend", "--backend", ("backend",)),
)
"""How an error raised while the env is built is blamed on the flag the user typed, not on the
internal keyword dict `make_env` hands to gymnasium."""


def _blamed_flag(msg: str, kwargs: dict, env_id: str) -> str:
    """`--cameras front_img_9` for an error about a camera, etc.: the flag (and value) of the first
    `ENV_FLAGS` entry that was given and whose words the message holds; else `--env ID`."""
    low = msg.lower()
    for key, flag, words in ENV_FLAGS:
        if key in kwargs and kwargs[key] not in ({}, None) and any(w in low for w in words):
            v = kwargs[key]
            shown = (" ".join(str(x) for x in v) if isinstance(v, (tuple, list)) else
                     " ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else str(v))
            return f"{flag} {shown}"
    return f"--env {env_id}"


def make_policy(spec: PolicySpec, env, device: str = "cpu") -> Policy:
    """The policy a parsed `--policy` names, built for `env` (see `egogym.policies.kinds`); a trained
    model runs on `device`."""
    return spec.build(env, device)


def env_rates(env, config: EvalConfig) -> tuple[float, int]:
    """(env control rate in Hz, env steps per policy query)."""
    ego: EvalEnv = env.unwrapped
    env_hz = float(ego.robot.control_hz)
    loop_hz = config.loop_hz or env_hz
    repeat = env_hz / loop_hz
    if abs(repeat - round(repeat)) > 1e-9 or round(repeat) < 1:
        raise UserError(f"--loop-hz {loop_hz:g}: the env runs at {env_hz:g} Hz; give a rate that divides it "
                        f"(e.g. {env_hz:g}, {env_hz / 2:g})")
    return env_hz, int(round(repeat))


def _seed_globals(seed: int) -> None:
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


# ---- one episode ----------------------------------------------------------------

def run_episode(env, policy, seed: int, episode: int, config: EvalConfig, repeat: int,
                on_frame: Callable[[dict, Any], None] | None = None) -> dict:
    """Roll out one episode; return its record (see `egogym.eval.records`), with `start` (the
    reset info's start placement) when the backend gives one.

    env: a Gymnasium env whose `unwrapped` is an `EvalEnv`; policy: a `Policy`, its optional
    capabilities read through `egogym.core.protocols`' functions.
    on_frame(obs, policy) is called after the reset and after every env step (videos)."""
    ego: EvalEnv = env.unwrapped
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed)
    start = info.get("start") or {}
    _seed_globals(seed)
    policy.reset()
    if on_frame is not None:
        on_frame(obs, policy)
    steps, terminated, truncated, status, reason = 0, False, False, "done", ""
    # Render only what is read: a step's images are needed when the policy's next act reads
    # them (and only the last step of a held action is seen by it); videos read every frame.
    lazy = on_frame is None
    succeeded = False
    while True:
        try:
            action = policy.act(obs)
        except PolicyUnavailable as e:  # a remote server lost or too slow: this episode ends, the evaluation goes on
            status, reason = "aborted", f"policy unavailable at step {steps}: {e}"
            break
        for r in range(repeat):
            if lazy:
                ego.request_images(r == repeat - 1 and reads_images(policy))
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            if on_frame is not None:
                on_frame(obs, policy)
            succeeded = config.stop_on_success and bool(info.get("success"))
            if terminated or truncated or succeeded:
                break
        if terminated or truncated:
            break
        if succeeded:
            reason = f"success at step {steps} (--stop-on-success)"
            break
        if config.episode_timeout_s is not None and time.perf_counter() - t0 > config.episode_timeout_s:
            status, reason = "timeout", f"wall-clock limit of {config.episode_timeout_s:g} s reached"
            break
    score = ego.finish_episode()
    aborted = score.aborted or info.get("aborted")
    if status == "aborted":
        pass  # the policy's reason stands (the backend's score is still final)
    elif aborted:
        status, reason = "aborted", str(aborted)
    elif status == "done" and not reason:
        reason = f"time limit ({steps} steps)" if truncated else "ended by the env"
    record = {"seed": int(seed), "episode": int(episode), "success": bool(score.success), "points": int(score.points),
              "steps": steps, "sim_seconds": float(info.get("time_s", 0.0)),
              "wall_seconds": round(time.perf_counter() - t0, 3), "status": status, "reason": reason}
    if score.notes:  # the operator's notes, on hardware
        record["notes"] = str(score.notes)
    if start:  # the start placement (sim), for success by region in reports
        record["start"] = start
    latency = query_latency_ms(policy)
    if latency is not None:  # a remote policy's round trips (ms)
        record["query_latency_ms"] = latency
    return record


class EpisodeRunner:
    """An env and a policy built once, then used for many seeds (one per worker)."""

    def __init__(self, config: EvalConfig, out_dir: str | Path):
        self.config, self.out_dir = config, Path(out_dir)
        self.env = make_env(config)
        try:
            self.policy = make_policy(config.policy_spec, self.env, config.device)
            if "torch" in sys.modules:  # a torch policy: its share of the cores, never more
                from egogym.policies.config import default_threads

                sys.modules["torch"].set_num_threads(default_threads(config.workers))
            self.env_hz, self.repeat = env_rates(self.env, config)
        except BaseException:
            self.env.close()
            raise

    def run(self, seed: int) -> dict:
        episode = seed - self.config.start_seed
        video = None
        if episode < self.config.videos:
            from egogym.eval.video import OverlayVideo

            ego: EvalEnv = self.env.unwrapped
            size = ego.image_size
            K = ego.calibration.K(FRONT, size)
            video = OverlayVideo(self.out_dir / "videos" / f"episode_{episode:04d}_seed_{seed}.mp4", K, size,
                                 self.env_hz)
        on_frame = None if video is None else (
            lambda obs, policy: video.add(obs[FRONT], chunk_xyz(policy)))
        try:
            rec = run_episode(self.env, self.policy, seed, episode, self.config, self.repeat, on_frame)
        except BaseException:
            if video is not None:
                video.discard()
            raise
        if video is not None:
            video.write()
        return rec

    def close(self) -> None:
        try:
            close_policy(self.policy)  # a remote policy's connection
        finally:
            self.env.close()
