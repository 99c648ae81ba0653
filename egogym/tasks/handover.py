"""Bimanual hand-over: the right arm picks a bar and passes it to the left, which puts
it in the bowl.

The bar starts right of the middle of the table, the bowl left of it, between the arms. A point
counts when the bar comes to rest in the bowl after a hand-over: a moment when both
grippers held the bar off the table. Scoring, re-placing and the 40 s limit are those of
Object-in-Bowl.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egogym.core.arms import Arms
from egogym.tasks.base import Region
from egogym.tasks.object_in_bowl import Episode, ObjectInBowl


@dataclass(frozen=True, kw_only=True)
class HandOver(ObjectInBowl):
    """Hand the bar from the right gripper to the left one, then into the bowl.

    Options: as ObjectInBowl, with other defaults: the toy is the bar, lying across the table
    (left to right, within 0.6 rad of the y axis); both arms act (no other arm set).
    """

    name = "handover"
    default_arms = "both"

    toys: tuple[str, ...] = ("bar",)
    toy_region: Region = ((0.10, 0.26), (-0.20, -0.08))
    bowl_region: Region = ((0.10, 0.26), (0.08, 0.20))
    min_separation: float = 0.2
    toy_yaw: tuple[float, float] = (np.pi / 2 - 0.6, np.pi / 2 + 0.6)

    def check_arms(self, arms: Arms) -> None:
        if arms.label != "both":
            raise ValueError(f"handover: arms must be 'both' (it is a bimanual task), not {arms.label!r}")

    def operator_instructions(self, episode: Episode | None = None) -> str:
        where = ("Place the bar on the right half of the table and the bowl on the left half. " if episode is None
                 else super().operator_instructions(episode).split(". Score")[0] + ". ")
        return (where + "Score one point each time the bar comes to rest in the bowl after the right gripper "
                "handed it to the left one; then put the bar back on the right half. "
                f"The trial lasts {self.time_limit_s:.0f} s.")
