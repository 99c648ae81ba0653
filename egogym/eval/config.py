"""What an evaluation runs: `EvalConfig`, validated on construction, written into
`OUT/eval_config.json`, and the names of the files an evaluation folder holds."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from egogym.core.bounds import MAX_EPISODES, MAX_STEPS, MAX_WORKERS, check_int, check_seeds
from egogym.core.errors import UserError
from egogym.core.spec import check_image_size
from egogym.core.views import FRONT
from egogym.policies.config import check_device
from egogym.policies.kinds import PolicySpec, parse_policy

EPISODES_FILE = "episodes.jsonl"
CONFIG_FILE = "eval_config.json"
RESUME_INVARIANT = ("policy", "env_id", "start_seed", "backend", "backend_options", "task_options", "image_size",
                    "cameras", "loop_hz", "max_steps", "episode_timeout_s", "stop_on_success")
"""Config fields a resumed evaluation must share with the run it resumes."""


@dataclass(frozen=True)
class EvalConfig:
    """What an evaluation runs. Printed into `out_dir/eval_config.json`."""

    policy: str  # the --policy text (`egogym.policies.kinds`): "scripted", "hold", "replay:FILE[:demo_N]", a run folder, "pose-ik:RUN", "ws://HOST:PORT"
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
    stop_on_success: bool = False  # end an episode at its first success (success-only tasks; points stop counting)
    workers: int = 1  # parallel worker processes
    videos: int = 0  # write videos of the first N episodes
    device: str = "auto"  # where a trained policy's model runs (`egogym.policies.device`): auto, cpu, cuda[:N]

    def __post_init__(self):
        # the ranges of egogym.core.bounds, also for configs built without the command line (ablations)
        check_int(self.episodes, "--episodes", 1, MAX_EPISODES)
        check_int(self.workers, "--workers", 1, MAX_WORKERS)
        check_int(self.videos, "--videos", 0, MAX_EPISODES)
        check_seeds(self.start_seed, self.episodes)
        check_device(self.device)
        if self.backend not in ("sim", "real"):
            raise UserError(f"--backend {self.backend!r}: use 'sim' or 'real'")
        if self.image_size is not None:
            try:
                check_image_size(self.image_size, "--image-size")
            except ValueError as e:
                raise UserError(str(e)) from None
        if self.episode_timeout_s is not None and not self.episode_timeout_s > 0:
            raise UserError(f"--episode-timeout {self.episode_timeout_s}: give a positive number of seconds")
        if self.loop_hz is not None and self.loop_hz <= 0:
            raise UserError(f"--loop-hz {self.loop_hz}: give a positive rate")
        if self.max_steps is not None:
            check_int(self.max_steps, "--max-steps", 1, MAX_STEPS)
        if self.videos and self.cameras is not None and FRONT not in self.cameras:
            raise UserError("--videos draws on the Aria image: add front_img_1 to --cameras")
        if self.workers > 1 and self.backend != "sim":
            raise UserError(f"--workers {self.workers}: the real backend drives one robot; use --workers 1")
        if self.task_options:
            _check_task_options(self.env_id, self.task_options)
        # --policy parsed once, here (a malformed one fails before any work); consumers ask `policy_spec`
        object.__setattr__(self, "_policy_spec", parse_policy(self.policy))
        if self.policy_spec.needs_sim and self.backend != "sim":
            raise UserError(f"--policy {self.policy} reads the simulator's state: use --backend sim, or give a run "
                            "directory")

    @property
    def policy_spec(self) -> PolicySpec:
        """The typed `policy`: what the env renders, the policy built, the summary's description."""
        return self._policy_spec

    @property
    def seeds(self) -> range:
        """start_seed .. start_seed + episodes - 1: a range (O(1) memory and membership), never a list."""
        return range(self.start_seed, self.start_seed + self.episodes)

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


def _check_task_options(env_id: str, options: dict) -> None:
    """UserError naming --task-option when `options` are not options of the env's task (a bad axis
    value fails before any env is built). An id egogym does not register is left to gymnasium."""
    import gymnasium as gym

    import egogym  # noqa: F401  (registers the ids)
    from egogym.tasks import TASKS, make_task

    try:
        task = gym.spec(env_id).kwargs.get("task")
    except gym.error.Error:
        return
    if isinstance(task, str) and task in TASKS:
        try:
            make_task(task, **options)
        except (TypeError, ValueError) as e:
            raise UserError(f"--task-option: {e}") from None
