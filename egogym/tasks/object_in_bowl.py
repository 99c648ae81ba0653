"""Continuous Object-in-Bowl, as in EgoMimic's protocol (REFERENCE §6).

A bowl and a toy are placed at random on the table. Each time the toy comes to rest in
the bowl (inside the rim, slow, released by the gripper for `rest_steps` control steps)
the robot scores a point, and the toy is taken out and placed anew. Success = at least
one point. 40 s of simulated time.
"""
from __future__ import annotations

import numpy as np
from dm_control import mjcf

from egogym.sim.scene import TOY_SHAPES, add_bowl, add_toy, table_top_z, toy_half_extents
from egogym import TIME_LIMIT_S
from egogym.tasks.base import (Score, Task, check_number, check_range, check_region, finger_geoms, geoms_touch,
                               sample_point, set_free_pose)

Region = tuple[tuple[float, float], tuple[float, float]]

BOWL_RADIUS = 0.085  # m, inner radius at the rim
BOWL_HEIGHT = 0.05  # m
PARKING = {"cube": (0.30, 0.45, 0.03), "cylinder": (0.30, -0.45, 0.03), "bar": (0.50, 0.45, 0.03)}
"""Where unused toys wait: on the floor under the table, out of every camera's view."""
TOY_DRAWS, BOWL_DRAWS = 1000, 100
"""Draws of the toy per bowl position, and of bowl positions per episode, before giving up."""


class ObjectInBowl(Task):
    """Put the toy in the bowl, as often as possible in 40 s.

    Arguments:
      toys: the toy shapes one may be drawn from per episode (`egogym.sim.scene.TOY_SHAPES`).
      toy_region, bowl_region: ((x_lo, x_hi), (y_lo, y_hi)) in metres, world frame, where
        the toy and the bowl centre are drawn uniformly.
      min_separation: least distance between toy and bowl centres (m).
      toy_yaw: (low, high) range of the toy's heading (rad), drawn uniformly.
      rest_steps: control steps the toy must rest in the bowl before the point counts.
    """

    name = "object_in_bowl"
    default_arms = "right"

    def __init__(self, toys: tuple[str, ...] = ("cube", "cylinder"),
                 toy_region: Region = ((0.08, 0.30), (-0.36, -0.02)),
                 bowl_region: Region = ((0.08, 0.30), (-0.36, -0.02)),
                 min_separation: float = 0.16, rest_steps: int = 10, time_limit_s: float = TIME_LIMIT_S,
                 arms: str = "right", toy_yaw: tuple[float, float] = (-np.pi, np.pi)):
        super().__init__()
        if isinstance(toys, str) or not toys:
            raise ValueError(f"toys={toys!r}: give a list of toy shapes from {TOY_SHAPES}")
        for t in toys:
            if t not in TOY_SHAPES:
                raise ValueError(f"toys: {t!r} is not a toy shape; choose from {TOY_SHAPES}")
        if arms not in ("left", "right", "both"):
            raise ValueError(f"arms={arms!r}: use 'right', 'left' or 'both'")
        self.toys = tuple(toys)
        self.toy_region = check_region("toy_region", toy_region)
        self.bowl_region = check_region("bowl_region", bowl_region)
        self.min_separation = check_number("min_separation", min_separation, 0.0)
        self.toy_yaw = check_range("toy_yaw", toy_yaw, -2 * np.pi, 2 * np.pi)
        self.rest_steps = check_number("rest_steps", rest_steps, 1, integer=True)
        self.time_limit_s = check_number("time_limit_s", time_limit_s, 0.02)
        self.arms = ("left", "right") if arms == "both" else (arms,)
        self.toy = self.toys[0]
        self._rng = np.random.default_rng(0)
        self.score = Score()
        self._rest = 0
        self._start: dict = {}

    # ---- scene -------------------------------------------------------------------
    def build(self, root: mjcf.RootElement) -> None:
        add_bowl(root, "bowl", radius=BOWL_RADIUS, height=BOWL_HEIGHT)
        for shape in self.toys:
            add_toy(root, f"toy_{shape}", shape)

    def initialize_episode(self, physics: mjcf.Physics, rng: np.random.Generator) -> None:
        self._rng = rng
        self.toy = self.toys[int(rng.integers(len(self.toys)))]
        for shape in self.toys:
            set_free_pose(physics, f"toy_{shape}", np.array(PARKING[shape]), 0.0)
        self.table_z = table_top_z(physics)
        # A bowl drawn where toy_region leaves no place min_separation away (a narrow robot-demo
        # region) is drawn again: the first draw of every seed that always worked stays the same.
        for _ in range(BOWL_DRAWS):
            bowl_xy = sample_point(rng, self.bowl_region)
            physics.named.data.mocap_pos["bowl"] = [bowl_xy[0], bowl_xy[1], self.table_z]
            placed = self._place_toy(physics, strict=False)
            if placed is not None:
                break
        else:
            raise ValueError(f"{self.name}: no bowl position in bowl_region={self.bowl_region} leaves the toy a "
                             f"place in toy_region={self.toy_region} {self.min_separation} m away; widen a region "
                             f"or lower min_separation")
        toy_xy, toy_yaw = placed
        # Kept now: the toy is placed anew after every point, so its pose later is not the start.
        self._start = {"toy": self.toy, "toy_xy": [float(toy_xy[0]), float(toy_xy[1])], "toy_yaw": float(toy_yaw),
                       "bowl_xy": [float(bowl_xy[0]), float(bowl_xy[1])]}
        self.score = Score()
        self._rest = 0
        self._fingers = set().union(*(finger_geoms(physics, a) for a in ("left", "right")))
        self._toy_geom = {physics.model.name2id(f"toy_{self.toy}_geom", "geom")}

    def _place_toy(self, physics: mjcf.Physics, strict: bool = True) -> tuple[np.ndarray, float] | None:
        """Put the toy at rest at a random place of toy_region (at least min_separation from
        the bowl); return its (x, y) (m, world) and heading (rad). When no draw is far enough:
        None if not `strict` (the caller draws the bowl again), else (a re-placement after a
        point) the farthest of the draws."""
        bowl_xy = np.asarray(physics.named.data.mocap_pos["bowl"][:2])
        best, best_d = None, -1.0
        for _ in range(TOY_DRAWS):
            xy = sample_point(self._rng, self.toy_region)
            d = float(np.linalg.norm(xy - bowl_xy))
            if d > best_d:
                best, best_d = xy, d
            if d >= self.min_separation:
                break
        else:
            if not strict:
                return None
            xy = best
        z = self.table_z + toy_half_extents(self.toy)[2] + 0.001
        yaw = float(self._rng.uniform(*self.toy_yaw))
        set_free_pose(physics, self.toy_joint, np.array([xy[0], xy[1], z]), yaw)
        return xy, yaw

    def episode_start(self, physics: mjcf.Physics) -> dict:
        """The placement made by the last `initialize_episode` (not the toy's later re-placements):
        {"toy": shape, "toy_xy": [x, y] (m), "toy_yaw": heading (rad), "bowl_xy": [x, y] (m)},
        world frame. {} before the first episode."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._start.items()}

    @property
    def toy_joint(self) -> str:
        return f"toy_{self.toy}"

    # ---- scoring -----------------------------------------------------------------
    def toy_pose(self, physics: mjcf.Physics) -> tuple[np.ndarray, float]:
        """Toy centre (m, world) and heading (rad)."""
        q = physics.named.data.qpos[self.toy_joint]
        yaw = float(np.arctan2(2 * (q[3] * q[6] + q[4] * q[5]), 1 - 2 * (q[5] ** 2 + q[6] ** 2)))
        return np.array(q[:3]), yaw

    def bowl_position(self, physics: mjcf.Physics) -> np.ndarray:
        """Bowl centre on the table top (m, world)."""
        return np.array(physics.named.data.mocap_pos["bowl"])

    def in_bowl(self, physics: mjcf.Physics, held: bool) -> bool:
        """Toy inside the rim, below its top, nearly still and not `held` by a gripper."""
        pos, _ = self.toy_pose(physics)
        bowl = self.bowl_position(physics)
        speed = float(np.linalg.norm(physics.named.data.qvel[self.toy_joint][:3]))
        inside = np.linalg.norm(pos[:2] - bowl[:2]) < BOWL_RADIUS and pos[2] < bowl[2] + BOWL_HEIGHT
        return bool(inside and speed < 0.05 and not held)

    def update(self, physics: mjcf.Physics) -> Score:
        s = self.score
        s.new_points = 0
        held = geoms_touch(physics, self._toy_geom, self._fingers)
        self._rest = self._rest + 1 if self.in_bowl(physics, held) else 0
        pos, _ = self.toy_pose(physics)
        pinch = min(np.linalg.norm(physics.named.data.site_xpos[f"{a}/pinch"] - pos) for a in self.arms)
        s.terms = {
            "reach_distance": float(pinch),
            "grasped": float(held),
            "lifted": float(pos[2] > self.table_z + 0.05),
            "in_bowl": float(self._rest > 0),
        }
        if self._rest >= self.rest_steps:
            s.points += 1
            s.new_points = 1
            self._rest = 0
            self._place_toy(physics)
        s.success = s.points >= 1
        return s

    @property
    def operator_instructions(self) -> str:
        return ("Place the bowl and one toy on the table at the positions for this trial. "
                "Score one point each time the toy comes to rest in the bowl, then take it out and put it "
                f"back on the table elsewhere. The trial lasts {self.time_limit_s:.0f} s.")

    def describe(self) -> dict:
        return {**super().describe(), "toys": list(self.toys), "toy_region": self.toy_region,
                "bowl_region": self.bowl_region, "min_separation": self.min_separation,
                "toy_yaw": list(self.toy_yaw)}
