"""The grid: which cells an ablation trains and evaluates, and the controls' demo counts."""
from __future__ import annotations

from dataclasses import dataclass

from egogym.eval.ablation.config import AblationConfig
from egogym.policies.config import HUMAN_DRIVES

DRIVE_VARIANTS = {"pose_head_ik": "pose_ik", "human_pose_ik": "human_ik"}
"""The variant name of a base cell evaluated with another drive (egogym.policies.config.DRIVES)."""
HUMAN_DEMOS_PER_HOUR = 1400  # REFERENCE §6
ROBOT_DEMOS_PER_HOUR = 135  # REFERENCE §6


@dataclass(frozen=True)
class Cell:
    """One training configuration at one training seed."""

    robot: int
    human: int
    seed: int
    variant: str = "base"  # "base", an ablation's name, or a drive's (DRIVE_VARIANTS)
    role: str = "grid"  # "grid", "equal_time", "equal_episodes", "ablation", "drive" (the base run, evaluated
    #                     with another drive: not trained again)
    train_args: tuple[str, ...] = ()
    of: str = "base"  # a drive cell: the variant of the trained cell whose run it evaluates

    @property
    def name(self) -> str:
        return f"r{self.robot}_h{self.human}_{self.variant}_s{self.seed}"

    @property
    def base(self) -> "Cell":
        """The trained cell whose run a drive cell evaluates (itself for any other cell)."""
        return Cell(self.robot, self.human, self.seed, variant=self.of) if self.role == "drive" else self

    @property
    def data_files(self) -> list[tuple[str, int]]:
        """The data files it trains on: ("robot", n) and, co-trained, ("human", m)."""
        return [("robot", self.robot)] + ([("human", self.human)] if self.human else [])


def drive_variant(trained: str, drive: str) -> str:
    """The variant name of the cell that evaluates the run of variant `trained` with `drive`:
    "pose_ik" for the base run, "<ablation>_pose_ik" for an ablation's."""
    return DRIVE_VARIANTS[drive] if trained == "base" else f"{trained}_{DRIVE_VARIANTS[drive]}"


def drive_named(variant: str) -> str:
    """The drive (egogym.policies.config.DRIVES) a cell of this variant is evaluated with."""
    suffix = drive_of(variant)
    return next((d for d, v in DRIVE_VARIANTS.items() if v == suffix), "joint_head")


def drive_of(variant: str) -> str:
    """The drive suffix of a variant ("base" when it is evaluated with the joint head)."""
    return next((v for v in DRIVE_VARIANTS.values() if variant == v or variant.endswith("_" + v)), "base")


PHASES = {"grid": 0, "equal_time": 0, "equal_episodes": 1, "ablation": 1}
"""Run order: the cells that answer the main question (grid and the equal-time control) before
the secondary ones (equal episodes, ablations); within a phase, one robot count (`[data] robot`,
in its listed order) over every training seed before the next. Runs of the same data differ
a lot in closed-loop success (docs/RESULTS.md), so an ablation stopped early is most useful
with one row of the grid complete over its seeds."""


def plan_cells(cfg: AblationConfig) -> list[Cell]:
    """Every cell of the grid, the controls and the ablations (deduplicated by name), in run
    order: `PHASES`, then the grid row (robot count) a cell belongs to, then training seed,
    then grid order; a drive cell right after its base cell (whose run it evaluates, not
    trained again)."""
    cells: dict[str, Cell] = {}
    row: dict[str, int] = {}  # cell name -> index of the grid row (robot count) it belongs to

    def add(c: Cell, r: int) -> None:
        if c.name not in cells:
            cells[c.name], row[c.name] = c, r

    for s in cfg.train.seeds:
        for r, n in enumerate(cfg.data.robot):
            for m in cfg.data.human:
                add(Cell(n, m, s), r)
            for m in cfg.data.human:
                if m == 0:
                    continue
                if cfg.controls.equal_time:
                    add(Cell(equal_time_robot(n, m), 0, s, role="equal_time"), r)
                if cfg.controls.equal_episodes:
                    add(Cell(n + m, 0, s, role="equal_episodes"), r)
        for c in [c for c in cells.values() if c.seed == s and c.variant == "base"]:
            for d in cfg.eval.drives:
                if d != "joint_head" and (c.human or d not in HUMAN_DRIVES):
                    add(Cell(c.robot, c.human, s, variant=drive_variant("base", d), role="drive"), row[c.name])
        for a in cfg.ablations:
            r = cfg.data.robot.index(max(cfg.data.robot))
            add(Cell(max(cfg.data.robot), max(cfg.data.human), s, variant=a.name, role="ablation",
                     train_args=tuple(a.train_args)), r)
            for d in cfg.eval.drives:
                if d != "joint_head":
                    add(Cell(max(cfg.data.robot), max(cfg.data.human), s, variant=drive_variant(a.name, d),
                             role="drive", train_args=tuple(a.train_args), of=a.name), r)
    index = {c.name: i for i, c in enumerate(cells.values())}

    def order(c: Cell) -> tuple[int, int, int, int, bool]:
        base = cells[c.base.name]  # the planned one, with its role
        return PHASES[base.role], row[base.name], c.seed, index[base.name], c.role == "drive"

    return sorted(cells.values(), key=order)


def equal_time_robot(n: int, m: int) -> int:
    """Robot demos that take as long to collect as n robot + m human demos (REFERENCE §6 rates)."""
    return n + int(round(m * ROBOT_DEMOS_PER_HOUR / HUMAN_DEMOS_PER_HOUR))


def collection_hours(n: int, m: int) -> float:
    return n / ROBOT_DEMOS_PER_HOUR + m / HUMAN_DEMOS_PER_HOUR
