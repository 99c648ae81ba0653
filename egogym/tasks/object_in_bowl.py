"""Continuous Object-in-Bowl, as in EgoMimic's protocol (REFERENCE §6).

A bowl and a toy are placed at random on the table. Each time the toy comes to rest in
the bowl (inside the rim, slow, released by the gripper for `rest_steps` control steps)
the robot scores a point, and the toy is taken out and placed anew. Success = at least
one point. 40 s.

The distribution's axes, each an option (robot demos, human demos and evaluation set them
separately): where the toy and the bowl go (`toy_region`, `bowl_region`, `min_separation`,
`toy_yaw`), which toy (`toys`), its colour (`toy_colours`), the table's colour
(`table_colours`), the lighting (`lights`) and a distractor object (`distractors`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egogym.tasks.base import (Region, Task, check_choices, check_number, check_range, check_region,
                               sample_point)
from egogym.tasks.objects import COLOURS, DISTRACTORS, LIGHTS, NO_DISTRACTOR, TOYS

TOY_DRAWS, BOWL_DRAWS, DISTRACTOR_DRAWS = 1000, 100, 100
"""Draws of the toy per bowl position, of bowl positions per episode, and of the distractor's
place, before giving up."""
DISTRACTOR_CLEARANCE = 0.13
"""Least distance (m) from the distractor's centre to the toy's and the bowl's."""


@dataclass(frozen=True)
class Appearance:
    """How an episode looks: names from `egogym.tasks.objects` (toy_colour and table_colour
    from COLOURS, table_colour None for the work cell's own wood; light from LIGHTS;
    distractor from DISTRACTORS or None, at distractor_xy (m, world))."""

    toy_colour: str
    table_colour: str | None = None
    light: str = "default"
    distractor: str | None = None
    distractor_xy: tuple[float, float] | None = None


@dataclass(frozen=True)
class Episode:
    """One episode's start: the toy's shape, centre (x, y) (m, world) and heading (rad), the
    bowl's centre (x, y) (m, world), and the appearance."""

    toy: str
    toy_xy: tuple[float, float]
    toy_yaw: float
    bowl_xy: tuple[float, float]
    appearance: Appearance

    def to_dict(self) -> dict:
        """JSON-able: {"toy", "toy_xy", "toy_yaw", "bowl_xy", "toy_colour", "table_colour",
        "light", "distractor", "distractor_xy"} (m, rad, world frame)."""
        a = self.appearance
        return {"toy": self.toy, "toy_xy": list(self.toy_xy), "toy_yaw": self.toy_yaw, "bowl_xy": list(self.bowl_xy),
                "toy_colour": a.toy_colour, "table_colour": a.table_colour, "light": a.light,
                "distractor": a.distractor, "distractor_xy": None if a.distractor_xy is None else list(a.distractor_xy)}


@dataclass(frozen=True, kw_only=True)
class ObjectInBowl(Task):
    """Put the toy in the bowl, as often as possible in 40 s.

    Options (each validated; lists may be given as JSON / TOML lists):
      toys: the toy shapes one is drawn from per episode (`egogym.tasks.objects.TOYS`).
      toy_region, bowl_region: ((x_lo, x_hi), (y_lo, y_hi)) in metres, world frame, where
        the toy and the bowl centre are drawn uniformly.
      min_separation: least distance between toy and bowl centres (m).
      toy_yaw: (low, high) range of the toy's heading (rad), drawn uniformly.
      rest_steps: control steps the toy must rest in the bowl before the point counts.
      toy_colours: colours (`objects.COLOURS`) the toy's is drawn from; [] each toy its own.
      table_colours: colours the table top's is drawn from; [] the work cell's wood.
      lights: lighting conditions (`objects.LIGHTS`) drawn from.
      distractors: distractor objects (`objects.DISTRACTORS`, or "none") drawn from; [] none.
    Placement is drawn first and the appearance from a child generator of the seed
    (`Generator.spawn`), so the same seed places the toy and the bowl at the same spots
    whatever the appearance options.
    """

    name = "object_in_bowl"
    default_arms = "right"

    toys: tuple[str, ...] = ("cube", "cylinder")
    toy_region: Region = ((0.08, 0.30), (-0.36, -0.02))
    bowl_region: Region = ((0.08, 0.30), (-0.36, -0.02))
    min_separation: float = 0.16
    toy_yaw: tuple[float, float] = (-np.pi, np.pi)
    rest_steps: int = 10
    toy_colours: tuple[str, ...] = ()
    table_colours: tuple[str, ...] = ()
    lights: tuple[str, ...] = ("default",)
    distractors: tuple[str, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen: validated copies)
        put("toys", check_choices("toys", self.toys, TOYS, empty_ok=False))
        put("toy_region", check_region("toy_region", self.toy_region))
        put("bowl_region", check_region("bowl_region", self.bowl_region))
        put("min_separation", check_number("min_separation", self.min_separation, 0.0))
        put("toy_yaw", check_range("toy_yaw", self.toy_yaw, -2 * np.pi, 2 * np.pi))
        put("rest_steps", check_number("rest_steps", self.rest_steps, 1, integer=True))
        put("toy_colours", check_choices("toy_colours", self.toy_colours, COLOURS))
        put("table_colours", check_choices("table_colours", self.table_colours, COLOURS))
        put("lights", check_choices("lights", self.lights, LIGHTS, empty_ok=False))
        put("distractors", check_choices("distractors", self.distractors, (*DISTRACTORS, NO_DISTRACTOR)))

    # ---- the distribution ------------------------------------------------------------
    def sample_episode(self, rng: np.random.Generator) -> Episode:
        """The toy, then the bowl and the toy's place (a bowl drawn where toy_region leaves no
        place min_separation away is drawn again), then the toy's heading; then the appearance
        from `rng.spawn(1)[0]`. ValueError when no bowl position in BOWL_DRAWS leaves the toy a place."""
        toy = self.toys[int(rng.integers(len(self.toys)))]
        for _ in range(BOWL_DRAWS):
            bowl_xy = sample_point(rng, self.bowl_region)
            placed = self.sample_toy_place(rng, bowl_xy, strict=False)
            if placed is not None:
                break
        else:
            raise ValueError(f"{self.name}: no bowl position in bowl_region={self.bowl_region} leaves the toy a "
                             f"place in toy_region={self.toy_region} {self.min_separation} m away; widen a region "
                             f"or lower min_separation")
        toy_xy, toy_yaw = placed
        appearance = self.sample_appearance(rng.spawn(1)[0], toy, toy_xy, bowl_xy)
        return Episode(toy, (float(toy_xy[0]), float(toy_xy[1])), float(toy_yaw),
                       (float(bowl_xy[0]), float(bowl_xy[1])), appearance)

    def sample_toy_place(self, rng: np.random.Generator, bowl_xy: np.ndarray,
                         strict: bool = True) -> tuple[np.ndarray, float] | None:
        """A place (x, y) (m, world) of toy_region at least min_separation from the bowl, and a
        heading (rad). When no draw is far enough: None if not `strict` (the caller draws the
        bowl again), else the farthest of the draws (a re-placement after a point)."""
        best, best_d = None, -1.0
        for _ in range(TOY_DRAWS):
            xy = sample_point(rng, self.toy_region)
            d = float(np.linalg.norm(xy - np.asarray(bowl_xy)))
            if d > best_d:
                best, best_d = xy, d
            if d >= self.min_separation:
                break
        else:
            if not strict:
                return None
            xy = best
        return xy, float(rng.uniform(*self.toy_yaw))

    def sample_appearance(self, rng: np.random.Generator, toy: str, toy_xy, bowl_xy) -> Appearance:
        """Each axis drawn uniformly from its option's list; an axis left at its default draws
        nothing."""
        pick = lambda names: names[int(rng.integers(len(names)))]  # noqa: E731
        colour = pick(self.toy_colours) if self.toy_colours else TOYS[toy].colour
        table = pick(self.table_colours) if self.table_colours else None
        light = pick(self.lights) if len(self.lights) > 1 else self.lights[0]
        distractor = pick(self.distractors) if self.distractors else NO_DISTRACTOR
        if distractor == NO_DISTRACTOR:
            return Appearance(colour, table, light)
        (tx0, tx1), (ty0, ty1) = self.toy_region
        (bx0, bx1), (by0, by1) = self.bowl_region
        region = ((min(tx0, bx0), max(tx1, bx1)), (min(ty0, by0), max(ty1, by1)))
        best, best_d = None, -1.0
        for _ in range(DISTRACTOR_DRAWS):
            xy = sample_point(rng, region)
            d = min(np.linalg.norm(xy - np.asarray(toy_xy)), np.linalg.norm(xy - np.asarray(bowl_xy)))
            if d > best_d:
                best, best_d = xy, d
            if d >= DISTRACTOR_CLEARANCE:
                break
        return Appearance(colour, table, light, distractor, (float(best[0]), float(best[1])))

    # ---- success and the operator --------------------------------------------------------
    def operator_instructions(self, episode: Episode | None = None) -> str:
        """The set-up of `episode` (world frame of `egogym.core.spec`, metres: the arm bases hang at
        x = -0.12, y = +-0.24; x forward over the table, y to the robot's left; headings from +x
        toward +y) and the scoring rule."""
        setup = "Place the bowl and one toy on the table at the positions for this trial. "
        if episode is not None:
            e, a = episode, episode.appearance
            setup = (f"Place the bowl with its centre at x={e.bowl_xy[0]:.2f} m, y={e.bowl_xy[1]:+.2f} m; "
                     f"the {a.toy_colour} {e.toy} at x={e.toy_xy[0]:.2f} m, y={e.toy_xy[1]:+.2f} m, "
                     f"heading {np.degrees(e.toy_yaw):+.0f} deg"
                     + (f"; the {a.distractor} at x={a.distractor_xy[0]:.2f} m, y={a.distractor_xy[1]:+.2f} m"
                        if a.distractor else "")
                     + (f"; table cover {a.table_colour}" if a.table_colour else "")
                     + (f"; lighting {a.light}" if a.light != "default" else "") + ". ")
        return (setup + "Score one point each time the toy comes to rest in the bowl, then take it out and put it "
                f"back on the table elsewhere. The trial lasts {self.time_limit_s:.0f} s.")

