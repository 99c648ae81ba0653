"""What every task declares, whichever embodiment runs it.

A task is a declaration (numpy only: no simulator): its objects, the distribution of an
episode as data sampled from the seed (`sample_episode`), the success rule, the time limit
and the operator's text. Every embodiment draws an episode from the same function: the
MuJoCo twin (`egogym.sim.tasks` turns the declaration into MJCF, places the episode and
scores it from physics), the scripted expert and the simulated human (through the twin's
episode), and the real robot's operator console (which shows the person the placement).
A new task is one file here plus its realisation in `egogym/sim/tasks.py`.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import numpy as np

from egogym import TIME_LIMIT_S
from egogym.core.arms import Arms


@dataclasses.dataclass(frozen=True)
class Task(abc.ABC):
    """A task's declaration: a frozen dataclass whose fields are its options (validated on
    construction; `make_task(name, **options)` builds one by name)."""

    name: ClassVar[str]
    default_arms: ClassVar[str] = "right"  # the arms an env of this task drives unless told otherwise
    time_limit_s: float = TIME_LIMIT_S  # length of an episode (s)

    def __post_init__(self):
        object.__setattr__(self, "time_limit_s", check_number("time_limit_s", self.time_limit_s, 0.02))

    @abc.abstractmethod
    def sample_episode(self, rng: np.random.Generator) -> Any:
        """One episode of the distribution, from `rng` (the env's `reset(seed)` generator, or
        `numpy.random.default_rng(seed)`: the same seed gives the same episode). The result
        has `to_dict()`: JSON-able, recorded as the episode's start."""

    @abc.abstractmethod
    def operator_instructions(self, episode) -> str:
        """What a person sets up before a real episode (the episode's placement) and how they score it."""

    def check_arms(self, arms: Arms) -> None:
        """ValueError if the task cannot be done with `arms` (default: any arm set)."""

    def options(self) -> dict:
        """The task's options, JSON-able (the fields' values)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def describe(self) -> dict:
        """JSON-able description of the task's configuration (for records and reports)."""
        return {"name": self.name, **self.options()}


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


Region = tuple[tuple[float, float], tuple[float, float]]
"""((x_lo, x_hi), (y_lo, y_hi)) in metres, world frame."""

TABLE_REACH: Region = ((-0.10, 0.60), (-0.60, 0.60))
"""Where a task may place objects at all, in metres, world frame: the table top in front of
the robot (a region outside it is a typo, not a placement)."""


def check_region(name: str, value) -> Region:
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


def check_choices(name: str, value, known, empty_ok: bool = True) -> tuple[str, ...]:
    """A list of names from `known` as a tuple; ValueError naming the option, the bad name and
    the choices otherwise (a bare string is refused: it is one name, not a list)."""
    choices = ", ".join(known)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name}={value!r}: give a list of names from: {choices}")
    if not value and not empty_ok:
        raise ValueError(f"{name}=[]: give at least one name from: {choices}")
    for v in value:
        if v not in known:
            raise ValueError(f"{name}: {v!r} is not one of: {choices}")
    return tuple(value)


def sample_point(rng: np.random.Generator, region: Region) -> np.ndarray:
    """Uniform (x, y) in region = ((x_lo, x_hi), (y_lo, y_hi))."""
    (x0, x1), (y0, y1) = region
    return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
