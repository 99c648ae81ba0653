"""The rollout loop: one loop for sim and real, which never asks which backend runs.

`evaluate(config, out_dir)` runs episodes i = 0..episodes-1 with seeds start_seed + i,
in this process (`workers=1`) or in `workers` spawned processes, and appends each
finished episode's record to `out_dir/episodes.jsonl` (see `eval.records`). With
`resume=True` the seeds already recorded are skipped. When every episode has a record
the log is rewritten in seed order, so its content does not depend on `workers` (except
`wall_seconds`).

Rates: the env steps at its control rate (`spec.control_hz`, 50 Hz). The loop queries
the policy at `loop_hz` (default: the env's rate) and holds each action for
env_hz / loop_hz env steps. egogym's own policies expect one `act` per env step:
the scripted expert plays its plan at 50 Hz, and trained policies (`policies.EgoPolicy`)
run EgoMimic's 25 Hz schedule themselves (each chunk point held 2 steps, the first 25 of
100 points executed per query). Keep the default for them. A lower `loop_hz` is for
policies that act at a lower rate themselves (e.g. a remote policy answering at 25 Hz).

Determinism: everything random in an episode comes from its seed: `env.reset(seed=...)`,
and, before `policy.reset()`, numpy's global generator and torch's (when torch is
loaded) are seeded with it too, for policies that sample. Envs and policies are created
inside each worker process (spawn start method; never fork after rendering).
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from egogym.cli import UserError
from eval.records import RecordWriter, read_records, rewrite_sorted, truncate_to

EPISODES_FILE = "episodes.jsonl"
CONFIG_FILE = "eval_config.json"
RESUME_INVARIANT = ("policy", "env_id", "start_seed", "backend", "backend_options", "task_options", "image_size",
                    "cameras", "loop_hz", "max_steps", "episode_timeout_s")
"""Config fields a resumed evaluation must share with the run it resumes."""


@dataclass(frozen=True)
class EvalConfig:
    """What an evaluation runs. Printed into `out_dir/eval_config.json`."""

    policy: str  # "scripted" (the task's scripted expert, sim only) or a training run directory
    env_id: str = "egogym/ObjectInBowl-v0"  # a registered Gymnasium id
    episodes: int = 50  # number of episodes; episode i uses seed start_seed + i
    start_seed: int = 1000
    backend: str = "sim"  # "sim" or "real"
    backend_options: dict = field(default_factory=dict)  # kwargs of the backend (real only)
    task_options: dict = field(default_factory=dict)  # kwargs of the task (e.g. toy_region, bowl_region)
    image_size: tuple[int, int] | None = None  # (height, width) px of every camera; None: the env's 480x640
    cameras: tuple[str, ...] | None = None  # observation cameras; None: the env's default
    loop_hz: float | None = None  # policy query rate (Hz); None: the env's control rate
    max_steps: int | None = None  # env steps per episode; None: the registered limit (2000 = 40 s)
    episode_timeout_s: float | None = None  # wall-clock limit per episode (s); None: none
    workers: int = 1  # parallel worker processes
    videos: int = 0  # write videos of the first N episodes

    def __post_init__(self):
        if self.episodes < 1:
            raise UserError(f"--episodes {self.episodes}: give at least 1")
        if self.workers < 1:
            raise UserError(f"--workers {self.workers}: give at least 1")
        if self.videos < 0:
            raise UserError(f"--videos {self.videos}: give 0 or more")
        if self.backend not in ("sim", "real"):
            raise UserError(f"--backend {self.backend!r}: use 'sim' or 'real'")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 16):
            raise UserError(f"--image-size {self.image_size}: give H W, each at least 16")
        if self.loop_hz is not None and self.loop_hz <= 0:
            raise UserError(f"--loop-hz {self.loop_hz}: give a positive rate")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"--max-steps {self.max_steps}: give at least 1")
        if self.videos and self.cameras is not None and "front_img_1" not in self.cameras:
            raise UserError("--videos draws on the Aria image: add front_img_1 to --cameras")
        if self.workers > 1 and self.backend != "sim":
            raise UserError(f"--workers {self.workers}: the real backend drives one robot; use --workers 1")
        if self.policy == "scripted" and self.backend != "sim":
            raise UserError("--policy scripted reads the simulator's state: use --backend sim, or give a run directory")

    @property
    def seeds(self) -> list[int]:
        return [self.start_seed + i for i in range(self.episodes)]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["image_size"] = list(self.image_size) if self.image_size is not None else None
        d["cameras"] = list(self.cameras) if self.cameras is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EvalConfig":
        d = dict(d)
        if d.get("image_size") is not None:
            d["image_size"] = tuple(d["image_size"])
        if d.get("cameras") is not None:
            d["cameras"] = tuple(d["cameras"])
        return cls(**d)


# ---- env and policy -------------------------------------------------------------

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
    cameras = config.cameras if config.cameras is not None else policy_cameras(config.policy)
    if cameras is not None:
        kwargs["cameras"] = tuple(cameras)
    if config.max_steps is not None:
        kwargs["max_episode_steps"] = config.max_steps
    try:
        return gym.make(config.env_id, **kwargs)
    except (TypeError, ValueError, KeyError) as e:
        msg = str(e).split(" was raised from the environment creator")[0]
        raise UserError(f"--env {config.env_id} (options {kwargs}): {msg}") from None


def policy_cameras(spec: str) -> tuple[str, ...] | None:
    """The observation cameras a trained policy reads, from its run folder's `config.json`
    (`model.front_key`, `model.wrist_key`; see policies/checkpoint.py), plus the plain
    Aria image for videos. None for the scripted expert (the env's default cameras)."""
    cfg_path = Path(spec) / "config.json"
    if spec == "scripted" or not cfg_path.is_file():
        return None
    try:
        model = json.loads(cfg_path.read_text())["model"]
        keys = ["front_img_1", model["front_key"], model.get("wrist_key") or ""]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(f"{cfg_path}: cannot read the model's camera keys ({e!r}); give --cameras explicitly") from None
    return tuple(dict.fromkeys(k for k in keys if k))


class HoldPolicy:
    """`--policy hold`: holds the joint positions measured at the episode's first step
    (the start pose; on hardware the arms' home). Torch-free; any backend (rehearsals)."""

    def __init__(self):
        self.q: np.ndarray | None = None

    def reset(self) -> None:
        self.q = None

    def act(self, obs: dict) -> np.ndarray:
        if self.q is None:
            self.q = np.asarray(obs["joint_positions"], dtype=np.float64).copy()
        return self.q.copy()


class ReplayPolicy:
    """`--policy replay:FILE.hdf5[:demo_N]`: one recorded step of the demo's commanded
    joint targets (`actions`, (T, 7k) rad + normalized grippers) per `act`, then the last
    one held. At the default --loop-hz (the env's rate) it replays at the recorded speed."""

    def __init__(self, actions: np.ndarray):
        self.actions, self.k = np.asarray(actions, dtype=np.float64), 0

    def reset(self) -> None:
        self.k = 0

    def act(self, obs: dict) -> np.ndarray:
        a = self.actions[min(self.k, len(self.actions) - 1)]
        self.k += 1
        return a.copy()


def _replay_policy(spec: str, env) -> ReplayPolicy:
    parts = spec[len("replay:"):].rsplit(":", 1)
    path, demo = (parts[0], parts[1]) if len(parts) == 2 and parts[1].startswith("demo_") else (spec[7:], "demo_0")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            g = f.get(f"data/{demo}")
            if g is None or "actions" not in g:
                raise UserError(f"--policy {spec}: {path} has no data/{demo}/actions (a robot demo file from "
                                f"`egogym collect`); name another demo as replay:FILE:demo_N")
            actions = g["actions"][()]
            hz = f["data"].attrs.get("control_hz")
    except OSError as e:
        raise UserError(f"--policy {spec}: cannot open {path} as HDF5 ({e}); give replay:FILE.hdf5[:demo_N]") from None
    want = env.action_space.shape
    if actions.ndim != 2 or actions.shape[1:] != want:
        raise UserError(f"--policy {spec}: the demo's actions are {actions.shape[1:]} per step, this env takes {want}; "
                        f"evaluate with the arms the demo was recorded with")
    env_hz = float(env.unwrapped.robot.control_hz)
    if hz is not None and abs(float(hz) - env_hz) > 1e-9:
        raise UserError(f"--policy {spec}: the demo was recorded at {float(hz):g} Hz, the env runs at {env_hz:g} Hz")
    return ReplayPolicy(actions)


def make_policy(spec: str, env):
    """The policy named by `--policy`: "scripted", "hold", "replay:FILE.hdf5[:demo_N]" or a
    training run directory."""
    if spec == "scripted":
        from egogym.sim.experts import make_expert

        return make_expert(env)
    if spec == "hold":
        return HoldPolicy()
    if spec.startswith("replay:"):
        return _replay_policy(spec, env)
    run_dir = Path(spec)
    if not run_dir.is_dir():
        raise UserError(f"--policy {spec}: neither 'scripted' nor an existing run directory (runs/NAME from "
                        f"`egogym train`); torch-free ones: 'hold', 'replay:FILE.hdf5[:demo_N]'")
    try:
        from policies import load_policy
    except ImportError as e:
        raise UserError(f"--policy {spec}: trained policies need policies.load_policy, which cannot be imported "
                        f"({e}); install the train extra: pip install -e '.[train]'") from None
    try:
        # The EgoEnv itself: Gymnasium 1.x wrappers do not forward attributes (arms, robot, calibration).
        return load_policy(run_dir, env.unwrapped)
    except (FileNotFoundError, KeyError, ValueError) as e:  # a checkpoint the loader refuses: one line
        raise UserError(f"--policy {spec}: {e}") from None


def env_rates(env, config: EvalConfig) -> tuple[float, int]:
    """(env control rate in Hz, env steps per policy query)."""
    env_hz = float(env.unwrapped.robot.control_hz)
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
    """Roll out one episode; return its record (see `eval.records`), with `start` (the
    reset info's start placement) when the backend gives one.

    on_frame(obs, policy) is called after the reset and after every env step (videos)."""
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed)
    start = info.get("start") or {}
    _seed_globals(seed)
    policy.reset()
    if on_frame is not None:
        on_frame(obs, policy)
    steps, terminated, truncated, status, reason = 0, False, False, "done", ""
    while True:
        action = policy.act(obs)
        for _ in range(repeat):
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            if on_frame is not None:
                on_frame(obs, policy)
            if terminated or truncated:
                break
        if terminated or truncated:
            break
        if config.episode_timeout_s is not None and time.perf_counter() - t0 > config.episode_timeout_s:
            status, reason = "timeout", f"wall-clock limit of {config.episode_timeout_s:g} s reached"
            break
    score = env.unwrapped.finish_episode()
    aborted = score.aborted or info.get("aborted")
    if aborted:
        status, reason = "aborted", str(aborted)
    elif status == "done":
        reason = f"time limit ({steps} steps)" if truncated else "ended by the env"
    record = {"seed": int(seed), "episode": int(episode), "success": bool(score.success), "points": int(score.points),
              "steps": steps, "sim_seconds": float(info.get("time_s", 0.0)),
              "wall_seconds": round(time.perf_counter() - t0, 3), "status": status, "reason": reason}
    if getattr(score, "notes", ""):  # the operator's notes, on hardware
        record["notes"] = str(score.notes)
    if start:  # the start placement (sim), for success by region in reports
        record["start"] = start
    return record


class EpisodeRunner:
    """An env and a policy built once, then used for many seeds (one per worker)."""

    def __init__(self, config: EvalConfig, out_dir: str | Path):
        self.config, self.out_dir = config, Path(out_dir)
        self.env = make_env(config)
        try:
            self.policy = make_policy(config.policy, self.env)
            self.env_hz, self.repeat = env_rates(self.env, config)
        except BaseException:
            self.env.close()
            raise

    def run(self, seed: int) -> dict:
        episode = seed - self.config.start_seed
        video = None
        if episode < self.config.videos:
            from eval.video import OverlayVideo

            size = self.env.unwrapped.image_size
            K = self.env.unwrapped.calibration.K("front_img_1", size)
            video = OverlayVideo(self.out_dir / "videos" / f"episode_{episode:04d}_seed_{seed}.mp4", K, size,
                                 self.env_hz)
        on_frame = None if video is None else (
            lambda obs, policy: video.add(obs["front_img_1"], getattr(policy, "last_chunk_xyz", None)))
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
        self.env.close()


# ---- workers --------------------------------------------------------------------

def _worker_main(config_dict: dict, out_dir: str, tasks, results) -> None:
    """Worker process: build env + policy, run seeds from `tasks` until None, close."""
    try:
        runner = EpisodeRunner(EvalConfig.from_dict(config_dict), out_dir)
    except BaseException as e:  # sent to the parent, which raises it
        results.put(("error", None, _describe(e)))
        return
    try:
        while True:
            seed = tasks.get()
            if seed is None:
                break
            try:
                results.put(("record", seed, runner.run(seed)))
            except BaseException as e:
                results.put(("error", seed, _describe(e)))
                break
    finally:
        runner.close()


def _describe(e: BaseException) -> str:
    if isinstance(e, UserError):
        return f"UserError: {e}"
    return "".join(traceback.format_exception(e))


def _run_parallel(config: EvalConfig, out_dir: Path, seeds: list[int], on_record: Callable[[dict], None]) -> None:
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    for s in seeds:
        tasks.put(s)
    n = min(config.workers, len(seeds))
    for _ in range(n):
        tasks.put(None)
    procs = [ctx.Process(target=_worker_main, args=(config.to_dict(), str(out_dir), tasks, results), daemon=True)
             for _ in range(n)]
    for p in procs:
        p.start()
    try:
        remaining = len(seeds)
        while remaining:
            try:
                kind, seed, payload = results.get(timeout=5.0)
            except Exception:  # queue.Empty: check that the workers are alive
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("all evaluation workers exited before finishing; see their output above")
                continue
            if kind == "error":
                if payload.startswith("UserError: "):
                    raise UserError(payload[len("UserError: "):])
                raise RuntimeError(f"evaluation worker failed on seed {seed}:\n{payload}")
            on_record(payload)
            remaining -= 1
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)


# ---- the evaluation -------------------------------------------------------------

def prepare_out_dir(config: EvalConfig, out_dir: Path, resume: bool) -> list[dict]:
    """Create or check `out_dir`; return the records already there (resume)."""
    log = out_dir / EPISODES_FILE
    cfg_path = out_dir / CONFIG_FILE
    if log.exists() and log.stat().st_size > 0 and not resume:
        raise UserError(f"{log} exists: pass --resume to continue that evaluation, or choose another --out")
    if resume and cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        new = config.to_dict()
        diff = [k for k in RESUME_INVARIANT if old.get(k) != new.get(k)]
        if diff:
            k = diff[0]
            raise UserError(f"--resume: {out_dir} was evaluated with {k}={old.get(k)!r}, now {new.get(k)!r}; "
                            f"use the same setting or another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    records, intact = read_records(log)
    truncate_to(log, intact)
    cfg_path.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    return records


def evaluate(config: EvalConfig, out_dir: str | Path, resume: bool = False, progress: bool = True) -> list[dict]:
    """Run the evaluation; return the records of seeds start_seed .. start_seed+episodes-1, in seed order."""
    out_dir = Path(out_dir)
    done = prepare_out_dir(config, out_dir, resume)
    done_seeds = {r["seed"] for r in done}
    todo = [s for s in config.seeds if s not in done_seeds]
    records = list(done)
    runner = EpisodeRunner(config, out_dir) if todo and config.workers == 1 else None  # fails early on bad input
    from tqdm import tqdm

    bar = tqdm(total=config.episodes, initial=config.episodes - len(todo), unit="ep", desc="eval",
               disable=not progress, dynamic_ncols=True)
    wanted = set(config.seeds)
    n_success = sum(r["success"] for r in done if r["seed"] in wanted)
    with RecordWriter(out_dir / EPISODES_FILE) as writer:
        def on_record(rec: dict) -> None:
            nonlocal n_success
            writer.append(rec)
            records.append(rec)
            n_success += rec["success"]
            bar.set_postfix(success=f"{n_success}/{bar.n + 1}", refresh=False)
            bar.update(1)

        try:
            if runner is not None:
                for s in todo:
                    on_record(runner.run(s))
            elif todo:
                _run_parallel(config, out_dir, todo, on_record)
        finally:
            bar.close()
            if runner is not None:
                runner.close()
    rewrite_sorted(out_dir / EPISODES_FILE, records)
    return sorted((r for r in records if r["seed"] in wanted), key=lambda r: r["seed"])

