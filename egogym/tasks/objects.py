"""The objects and appearances tasks draw from, declared once for every embodiment.

Shapes and sizes are what the sim builds (`egogym.sim.tasks`), what the simulated human
carries, and what the real robot's operator is asked to put on the table; colours, table
finishes, lights and distractors are the appearance axes a task's distribution may vary
(`egogym.tasks.object_in_bowl.ObjectInBowl`). Units: metres; colours RGB in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """An object's shape and colour (a toy, or a distractor).

    kind: "box" (half extents x, y, z), "cylinder" (standing: radius x = y, half height z)
      or "bar" (an octagonal bar lying along x: half length x, radius y = z);
    half_extents: of its bounding box in its own frame (m), z up when it rests;
    colour: the name in COLOURS it has (unless a task draws another for its toy).
    """

    kind: str
    half_extents: tuple[float, float, float]
    colour: str


TOYS: dict[str, Shape] = {
    "cube": Shape("box", (0.02, 0.02, 0.02), "red"),
    "cylinder": Shape("cylinder", (0.018, 0.018, 0.025), "yellow"),
    "bar": Shape("bar", (0.06, 0.016, 0.016), "green"),
    "block": Shape("box", (0.03, 0.016, 0.02), "orange"),
    "can": Shape("cylinder", (0.016, 0.016, 0.03), "purple"),
}
"""Every toy a task may use. A rectangular `block` is taken across its narrow side; a `can`
is a slimmer, taller cylinder."""

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.25, 0.15),
    "yellow": (0.95, 0.75, 0.10),
    "green": (0.20, 0.70, 0.30),
    "orange": (0.95, 0.50, 0.10),
    "purple": (0.55, 0.25, 0.70),
    "blue": (0.15, 0.30, 0.85),
    "white": (0.92, 0.92, 0.90),
    "black": (0.10, 0.10, 0.11),
    "grey": (0.55, 0.56, 0.58),
    "pink": (0.95, 0.55, 0.70),
}
"""Named colours for toys, the table top and distractors."""


@dataclass(frozen=True)
class Light:
    """A lighting condition: every scene light's diffuse colour is scaled by `scale` and
    tinted by `tint` (RGB multipliers)."""

    scale: float
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)


LIGHTS: dict[str, Light] = {
    "default": Light(1.0),
    "dim": Light(0.55),
    "bright": Light(1.6),
    "warm": Light(1.0, (1.0, 0.82, 0.60)),
    "cool": Light(1.0, (0.75, 0.85, 1.0)),
}
"""Lighting conditions. Cheap by design: they change light colours, never add lights or shadows."""


DISTRACTORS: dict[str, Shape] = {
    "box": Shape("box", (0.035, 0.025, 0.03), "white"),
    "mug": Shape("cylinder", (0.035, 0.035, 0.045), "pink"),
    "plate": Shape("cylinder", (0.07, 0.07, 0.006), "grey"),
}
"""Distractor objects: on the table, no part of the task (seen, never touched: the sim builds
them without collisions). "none" in a task's `distractors` draws an episode without one."""
NO_DISTRACTOR = "none"

BOWL_RADIUS = 0.085
"""Inner radius of the bowl at its rim (m)."""
BOWL_HEIGHT = 0.05
"""Height of the bowl's wall (m). Its colour is the work cell's `bowl` material."""
