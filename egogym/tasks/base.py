"""What every task provides, whichever backend runs it.

A task owns the reset distribution, the scoring and the time limit. In simulation it
adds its objects to the scene (`build`), places them from the episode's random
generator (`initialize_episode`) and scores from simulator state after every control
step (`update`). On the real robot the same task's `operator_instructions` tell a
person what to set up and what counts, and the operator console returns a `Score`.
"""
from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

import egogym.sim  # noqa: F401  (sets MUJOCO_GL before dm_control loads MuJoCo)
from dm_control import mjcf  # noqa: E402

from egogym import TIME_LIMIT_S
from egogym.core.protocols import Score


class Task(abc.ABC):
    """A task: reset distribution, scoring and time limit. One file per task."""

    name: ClassVar[str]
    default_arms: ClassVar[str] = "right"
    time_limit_s: float = TIME_LIMIT_S

    def __init__(self) -> None:
        self.score = Score()  # the running score of the current episode

    @abc.abstractmethod
    def build(self, root: mjcf.RootElement) -> None:
        """Add this task's objects to the sim scene (called once per model)."""

    @abc.abstractmethod
    def initialize_episode(self, physics: mjcf.Physics, rng: np.random.Generator) -> None:
        """Place objects for a new episode from `rng`; reset the score."""

    @abc.abstractmethod
    def update(self, physics: mjcf.Physics) -> Score:
        """Score after a control step (may move objects, e.g. to re-place a scored toy)."""

    @property
    @abc.abstractmethod
    def operator_instructions(self) -> str:
        """What a person sets up before a real episode and how they score it."""

    def episode_start(self, physics: mjcf.Physics) -> dict:
        """JSON-able start placement of the current episode, as `initialize_episode` made it
        (e.g. object positions in metres and headings in radians, world frame), for records
        and analysis by region. Default: {} (the task records none)."""
        return {}

    def describe(self) -> dict:
        """JSON-able description of the task's configuration (for records and reports)."""
        return {"name": self.name, "time_limit_s": self.time_limit_s}


TABLE_REACH = ((-0.10, 0.60), (-0.60, 0.60))
"""Where a task may place objects at all ((x_lo, x_hi), (y_lo, y_hi)) in metres, world frame: the table
top in front of the robot (a region outside it is a typo, not a placement)."""


def check_region(name: str, value) -> tuple[tuple[float, float], tuple[float, float]]:
    """A placement region ((x_lo, x_hi), (y_lo, y_hi)) (m, world) as floats, each side lo < hi and
    within TABLE_REACH; ValueError naming the option and the expected form otherwise."""
    form = f"give {name}=[[x_lo, x_hi], [y_lo, y_hi]] in metres, e.g. [[0.08, 0.30], [-0.36, -0.19]]"
    try:
        (x0, x1), (y0, y1) = value
        region = ((float(x0), float(x1)), (float(y0), float(y1)))
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: {form}") from None
    for (lo, hi), (rlo, rhi), axis in zip(region, TABLE_REACH, "xy"):
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"{name}={value!r}: {axis}_lo must be below {axis}_hi; {form}")
        if lo < rlo or hi > rhi:
            raise ValueError(f"{name}={value!r}: {axis} must stay within {rlo}..{rhi} m (the table); {form}")
    return region


def check_range(name: str, value, lo: float, hi: float) -> tuple[float, float]:
    """(low, high) floats with lo <= low <= high <= hi; ValueError naming the option otherwise."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: give [low, high]") from None
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name}={value!r}: need {lo:g} <= low <= high <= {hi:g}")
    return a, b


def check_number(name: str, value, lo: float, integer: bool = False) -> float | int:
    """A number (an int if `integer`) of at least `lo`; ValueError naming the option otherwise."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value >= lo
    if ok and integer and float(value) != int(value):
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r}: give {'an integer' if integer else 'a number'} >= {lo:g}")
    return int(value) if integer else float(value)


def sample_point(rng: np.random.Generator, region: tuple[tuple[float, float], tuple[float, float]]) -> np.ndarray:
    """Uniform (x, y) in region = ((x_lo, x_hi), (y_lo, y_hi))."""
    (x0, x1), (y0, y1) = region
    return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])


def set_free_pose(physics: mjcf.Physics, joint: str, pos: np.ndarray, yaw: float) -> None:
    """Put a free-jointed body at `pos` (m, world) with heading `yaw` (rad), at rest."""
    q = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    physics.named.data.qpos[joint] = np.concatenate([pos, q])
    physics.named.data.qvel[joint] = 0.0


def geoms_touch(physics: mjcf.Physics, ids_a: set[int], ids_b: set[int]) -> bool:
    """True if any active contact pairs a geom of ids_a with one of ids_b."""
    d = physics.data
    for i in range(d.ncon):
        g1, g2 = int(d.contact.geom1[i]), int(d.contact.geom2[i])
        if (g1 in ids_a and g2 in ids_b) or (g2 in ids_a and g1 in ids_b):
            return True
    return False


def finger_geoms(physics: mjcf.Physics, arm: str) -> set[int]:
    """Geom ids of an arm's two finger pads."""
    return {physics.model.name2id(f"{arm}/{side}_pad", "geom") for side in ("left_finger", "right_finger")}
