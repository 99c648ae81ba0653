"""The ablation config: typed, frozen sections read from TOML (the schema is in
`egogym.eval.ablation`'s docstring). Every value is checked for type and range on
construction, before any data is collected or any policy trained.

A config is a TOML file, or the name of one shipped with egogym (`BUILTIN`, in the
package's `eval/configs/`): `egogym ablate cpu --out ablations/cpu`.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from egogym.core.bounds import MAX_PICKS
from egogym.core.configs import build_frozen, nearest
from egogym.core.errors import UserError
from egogym.data.aria import check_fill_gaps
from egogym.data.schema import ARIA_FPS, HUMAN_HORIZONS, HUMAN_LABEL_POINTS
from egogym.policies.config import DRIVES, NORMALIZATIONS, PRESETS

BUILTIN = ("cpu", "recipe", "transfer")
"""Config names shipped with the package (`egogym/eval/configs/NAME.toml`)."""


def _ints(where: str, values, lo: int) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise UserError(f"{where}: {v!r} is not an integer >= {lo}")


def _int(where: str, v, lo: int, none_ok: bool = False) -> None:
    if v is None and none_ok:
        return
    _ints(where, [v], lo)


def _table(where: str, v) -> None:
    if not isinstance(v, dict):
        raise UserError(f"{where}: expected a table (e.g. {{ toy_region = [[0.08, 0.30], [-0.36, -0.19]] }}), got {v!r}")


@dataclass(frozen=True)
class DataConfig:
    robot: tuple[int, ...]  # robot demo counts (grid axis)
    human: tuple[int, ...]  # human demo counts (grid axis); 0 = robot-only
    seed: int = 0  # episode i of every data file uses seed + i
    robot_max_steps: int = 1000  # env steps per robot demo at most
    robot_stop_after_points: int | None = 1  # end a robot demo after this many points
    robot_task_options: dict = field(default_factory=dict)  # the robot demos' distribution (task options)
    human_task_options: dict = field(default_factory=dict)  # the human demos' distribution (object_in_bowl options)
    human_demonstrator: str = "person"  # "person" (the simulated Aria wearer) or "robot" (the positive control)
    human_head: str = "natural"  # the simulated person's Aria: "natural" or "robot" (held at the robot's viewpoint: rung 1)
    human_hand: str = "human"  # what the person's images show: "human", "robot" (the twin's arms at the hand: rung 2) or "replay" (the robot's recorded episode)
    human_motion: str = "human"  # how the person moves: "human", "robot" (the expert's waypoints: rung 3) or "replay" (its executed path)
    human_rest: str = "person"  # where the person's hand rests: "person" or "robot" (the twin's start pose)
    human_horizon: str = "egomimic"  # the human chunks' span: "egomimic" (0.9 s), "robot" (3.9 s) or "robot-exact" (schema.HUMAN_HORIZONS)
    human_point: str = "palm"  # the hand's point the human chunks follow: "palm" or "grip" (schema.HUMAN_LABEL_POINTS)
    human_tracking_dropout: float | None = None  # per-frame hand-tracking loss of the simulated person; None: its default
    human_fps: float | None = None  # the simulated person's recording rate (Hz); None: Aria's 30
    human_replay_steps: int | None = None  # human_hand = "replay": control steps replayed past the first point
    human_picks: int = 1  # the person's pick-and-places in a row (the toy re-placed after each point)
    human_fill_gaps: float = 0.0  # seconds of lost hand tracking the converter bridges (0: none, EgoMimic's)

    def __post_init__(self):
        if not self.robot:
            raise UserError("[data] robot: give robot demo counts, each at least 1")
        _ints("[data] robot", self.robot, 1)
        if not self.human:
            raise UserError("[data] human: give human demo counts (0 for robot-only)")
        _ints("[data] human", self.human, 0)
        _int("[data] seed", self.seed, 0)
        _int("[data] robot_max_steps", self.robot_max_steps, 1)
        _int("[data] robot_stop_after_points", self.robot_stop_after_points, 1, none_ok=True)
        _table("[data] robot_task_options", self.robot_task_options)
        _table("[data] human_task_options", self.human_task_options)
        if self.human_demonstrator not in ("person", "robot"):
            raise UserError(f"[data] human_demonstrator: {self.human_demonstrator!r}: use \"person\" (the simulated "
                            f"human) or \"robot\" (the positive control: the robot's demos as human demos)")
        if self.human_horizon not in HUMAN_HORIZONS:
            raise UserError(f"[data] human_horizon: {self.human_horizon!r}: use one of {', '.join(HUMAN_HORIZONS)}")
        if self.human_point not in HUMAN_LABEL_POINTS:
            raise UserError(f"[data] human_point: {self.human_point!r}: use one of {', '.join(HUMAN_LABEL_POINTS)}")
        if self.human_tracking_dropout is not None and not (isinstance(self.human_tracking_dropout, (int, float))
                                                            and 0 <= self.human_tracking_dropout < 0.5):
            raise UserError(f"[data] human_tracking_dropout: {self.human_tracking_dropout!r}: give a probability in "
                            f"[0, 0.5), or leave it out for the simulator's default")
        if self.human_fps is not None and not (isinstance(self.human_fps, (int, float)) and 0 < self.human_fps <= 1000):
            raise UserError(f"[data] human_fps: {self.human_fps!r}: give a frame rate in Hz (a multiple of 10), or "
                            f"leave it out for Aria's 30")
        try:  # the knots are times: refused here, not after the recordings are simulated
            HUMAN_HORIZONS[self.human_horizon].at(ARIA_FPS if self.human_fps is None else float(self.human_fps))
        except ValueError as e:
            raise UserError(f"[data] human_horizon = {self.human_horizon!r}, human_fps = {self.human_fps}: {e}") from None
        _int("[data] human_replay_steps", self.human_replay_steps, 1, none_ok=True)
        if self.human_replay_steps is not None and self.human_hand != "replay":
            raise UserError("[data] human_replay_steps: replays the expert's episode past its first point: give "
                            "human_hand = \"replay\" (and human_motion = \"replay\"), or leave it out")
        if isinstance(self.human_picks, bool) or not isinstance(self.human_picks, int) or not 1 <= self.human_picks <= MAX_PICKS:
            raise UserError(f"[data] human_picks: {self.human_picks!r}: give a whole number of pick-and-places, 1..{MAX_PICKS}")
        check_fill_gaps(self.human_fill_gaps, "[data] human_fill_gaps")
        if self.human_picks > 1 and self.human_motion == "replay":
            raise UserError("[data] human_picks: a replay runs on past its point with human_replay_steps; leave "
                            "human_picks out")
        if self.human_demonstrator == "robot" and (self.human_horizon, self.human_point, self.human_picks,
                                                   self.human_fill_gaps) != ("egomimic", "palm", 1, 0):
            raise UserError("[data] human_horizon, human_point, human_picks, human_fill_gaps: the positive control's "
                            "demos and chunks are the robot's own; leave them out with human_demonstrator = \"robot\"")
        if (self.human_head, self.human_hand, self.human_motion, self.human_rest) != ("natural", "human", "human",
                                                                                        "person"):
            from egogym.sim.human import HANDS, HEADS, MOTIONS, RESTS  # the simulator, only when asked for

            for key, choices in (("human_head", HEADS), ("human_hand", HANDS), ("human_motion", MOTIONS),
                                 ("human_rest", RESTS)):
                if getattr(self, key) not in choices:
                    raise UserError(f"[data] {key}: {getattr(self, key)!r}: use one of {', '.join(choices)}")


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "cpu"  # `egogym train --preset`
    steps: int = 2000  # optimizer steps per cell
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds, one run each
    args: tuple[str, ...] = ()  # extra `egogym train` arguments for every cell
    normalization: str = "per_domain"  # train.normalization of every cell (policies.config.NORMALIZATIONS); an ablation may override it

    def __post_init__(self):
        if not isinstance(self.preset, str):
            raise UserError(f"[train] preset: {self.preset!r} is not a preset name (e.g. \"cpu\")")
        if self.preset not in PRESETS:
            raise UserError(f"[train] preset: unknown preset {self.preset!r}: {nearest(self.preset, PRESETS)}")
        _int("[train] steps", self.steps, 1)
        if not self.seeds:
            raise UserError("[train] seeds: give at least one training seed")
        _ints("[train] seeds", self.seeds, 0)
        if not all(isinstance(a, str) for a in self.args):
            raise UserError(f"[train] args: give a list of strings, got {list(self.args)!r}")
        if self.normalization not in NORMALIZATIONS:
            raise UserError(f"[train] normalization: {self.normalization!r}: {nearest(str(self.normalization), NORMALIZATIONS)}")


@dataclass(frozen=True)
class EvalSection:
    episodes: int = 50  # evaluation episodes per cell (per training seed)
    seed: int = 100000  # seed of evaluation episode 0 (far from the data seeds)
    workers: int = 1
    max_steps: int | None = None  # None: the env's 2000
    loop_hz: float | None = None  # None: the env's 50 Hz
    task_options: dict = field(default_factory=dict)  # evaluation distribution; {}: the task's full one
    stop_on_success: bool = False  # end each episode at its first success (success rates only; faster)
    drives: tuple[str, ...] = ("joint_head",)  # executions each trained policy is evaluated with (DRIVES)

    def __post_init__(self):
        _int("[eval] episodes", self.episodes, 1)
        _int("[eval] seed", self.seed, 0)
        _int("[eval] workers", self.workers, 1)
        _int("[eval] max_steps", self.max_steps, 1, none_ok=True)
        if self.loop_hz is not None and (isinstance(self.loop_hz, bool) or not isinstance(self.loop_hz, (int, float))
                                         or self.loop_hz <= 0):
            raise UserError(f"[eval] loop_hz: {self.loop_hz!r} is not a positive rate (Hz)")
        _table("[eval] task_options", self.task_options)
        if not self.drives or any(d not in DRIVES for d in self.drives) or "joint_head" not in self.drives:
            raise UserError(f"[eval] drives: {list(self.drives)!r}: give a list from {list(DRIVES)} that holds "
                            f"\"joint_head\" (EgoMimic's execution, the reference)")
        if not isinstance(self.stop_on_success, bool):
            raise UserError(f"[eval] stop_on_success: {self.stop_on_success!r} is not true or false")


@dataclass(frozen=True)
class Controls:
    equal_time: bool = True
    equal_episodes: bool = False

    def __post_init__(self):
        for name in ("equal_time", "equal_episodes"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"[controls] {name}: {getattr(self, name)!r} is not true or false")


@dataclass(frozen=True)
class Ablation:
    name: str
    train_args: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.replace("_", "").isalnum():
            raise UserError(f"[[ablations]] name: {self.name!r}: give a name of letters, digits and _")
        if not all(isinstance(a, str) for a in self.train_args):
            raise UserError(f"[[ablations]] train_args: give a list of strings, got {list(self.train_args)!r}")


@dataclass(frozen=True)
class AblationConfig:
    data: DataConfig
    name: str = "ablation"
    task: str = "object_in_bowl"
    env_id: str = "egogym/ObjectInBowl-v0"
    image_size: tuple[int, int] = (64, 64)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalSection = field(default_factory=EvalSection)
    controls: Controls = field(default_factory=Controls)
    ablations: tuple[Ablation, ...] = ()

    def __post_init__(self):
        for name in ("name", "task", "env_id"):
            if not isinstance(getattr(self, name), str):
                raise UserError(f"{name}: {getattr(self, name)!r} is not a string")
        size = self.image_size
        if (not isinstance(size, tuple) or len(size) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or not 16 <= v <= 4096 for v in size)):
            raise UserError(f"image_size: {list(size) if isinstance(size, tuple) else size!r}: give [H, W], "
                            f"integers in 16..4096")
        from egogym.tasks import make_task

        # Each distribution is a task declaration: a bad axis fails here, before any data is collected.
        for where, task, options in (("[data] robot_task_options", self.task, self.data.robot_task_options),
                                     ("[data] human_task_options", "object_in_bowl", self.data.human_task_options),
                                     ("[eval] task_options", self.task, self.eval.task_options)):
            try:
                make_task(task, **options)
            except (TypeError, ValueError) as e:
                raise UserError(f"{where}: {e}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, d: Any, where: str):
    return build_frozen(cls, d, where)


def load_config(path: str | Path) -> AblationConfig:
    """Read and validate an ablation TOML file, or a built-in config by name (`BUILTIN`)."""
    path = Path(path)
    if not path.is_file():
        if str(path) in BUILTIN:
            text = (resources.files("egogym") / "eval" / "configs" / f"{path}.toml").read_text()
            return config_from_dict(tomllib.loads(text), f"built-in config {path}")
        raise UserError(f"{path}: no such config file; give a TOML file or a built-in config: "
                        f"{nearest(str(path), BUILTIN)}")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    return config_from_dict(raw, str(path))


def config_from_dict(raw: dict, where: str = "config") -> AblationConfig:
    raw = dict(raw)
    if "data" not in raw:
        raise UserError(f"{where}: needs a [data] table with robot = [...] and human = [...]")
    sub = {"data": DataConfig, "train": TrainConfig, "eval": EvalSection, "controls": Controls}
    for key, cls in sub.items():
        if key in raw:
            raw[key] = _build(cls, raw[key], f"{where} [{key}]")
    if "ablations" in raw:
        raw["ablations"] = tuple(_build(Ablation, a, f"{where} [[ablations]]") for a in raw["ablations"])
    if "image_size" in raw:
        raw["image_size"] = tuple(raw["image_size"])
    return _build(AblationConfig, raw, where)


