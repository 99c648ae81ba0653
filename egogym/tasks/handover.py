"""Bimanual hand-over: the right arm picks a bar and passes it to the left, which puts
it in the bowl.

The bar starts right of the middle of the table, the bowl left of it, between the arms. A point
counts when the bar comes to rest in the bowl after a hand-over: a moment when both
grippers held the bar off the table. Scoring, re-placing and the 40 s limit are those of
Object-in-Bowl.
"""
from __future__ import annotations

import numpy as np
from dm_control import mjcf

from egogym import TIME_LIMIT_S
from egogym.tasks.base import Score, finger_geoms, geoms_touch
from egogym.tasks.object_in_bowl import ObjectInBowl, Region


class HandOver(ObjectInBowl):
    """Hand the bar from the right gripper to the left one, then into the bowl.

    Arguments: as ObjectInBowl; the toy is always the bar, lying across the table (left
    to right, within `toy_yaw` of the y axis), and both arms act.
    """

    name = "handover"
    default_arms = "both"

    def __init__(self, toy_region: Region = ((0.10, 0.26), (-0.20, -0.08)),
                 bowl_region: Region = ((0.10, 0.26), (0.08, 0.20)),
                 rest_steps: int = 10, time_limit_s: float = TIME_LIMIT_S, arms: str = "both",
                 toy_yaw: tuple[float, float] = (np.pi / 2 - 0.6, np.pi / 2 + 0.6)):
        if arms != "both":
            raise ValueError("handover: arms must be 'both' (it is a bimanual task)")
        super().__init__(toys=("bar",), toy_region=toy_region, bowl_region=bowl_region,
                         min_separation=0.2, rest_steps=rest_steps, time_limit_s=time_limit_s, arms=arms,
                         toy_yaw=toy_yaw)
        self.handed_over = False

    def initialize_episode(self, physics: mjcf.Physics, rng) -> None:
        super().initialize_episode(physics, rng)
        self.handed_over = False
        self._left = finger_geoms(physics, "left")
        self._right = finger_geoms(physics, "right")

    def in_bowl(self, physics: mjcf.Physics, held: bool) -> bool:
        return self.handed_over and super().in_bowl(physics, held)

    def update(self, physics: mjcf.Physics) -> Score:
        pos, _ = self.toy_pose(physics)
        both = geoms_touch(physics, self._toy_geom, self._left) and geoms_touch(physics, self._toy_geom, self._right)
        if both and pos[2] > self.table_z + 0.05:
            self.handed_over = True
        before = self.score.points
        s = super().update(physics)
        s.terms["handed_over"] = float(self.handed_over)
        if s.points > before:
            self.handed_over = False
        return s

    @property
    def operator_instructions(self) -> str:
        return ("Place the bar on the right half of the table and the bowl on the left half. "
                "Score one point each time the bar comes to rest in the bowl after the right gripper "
                "handed it to the left one; then put the bar back on the right half. "
                f"The trial lasts {self.time_limit_s:.0f} s.")
