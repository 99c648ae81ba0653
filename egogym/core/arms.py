"""Which arms act: one type for the env, tasks, data files and models.

Every per-arm layout in egogym is the arms' blocks side by side, left then right:
joints `[6 joint angles (rad), gripper in [0, 1]]` (JOINTS_PER_ARM values per arm) and
points `[x, y, z]` (m, XYZ_PER_ARM values per arm). `Arms` knows the widths and the slices,
so no other module multiplies or divides by 7 or 3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

ARM_NAMES = ("left", "right")
"""Every arm of the robot, in layout order."""
JOINTS_PER_ARM = 7
"""Values per arm in a joint layout: 6 joint angles (rad), then the gripper in [0, 1] (0 closed)."""
XYZ_PER_ARM = 3
"""Values per arm in a point layout (x, y, z in metres)."""
LABELS = {"left": ("left",), "right": ("right",), "both": ARM_NAMES}
"""The command-line names of the arm sets."""


@dataclass(frozen=True)
class Arms:
    """A set of active arms, in layout order (left before right).

    `Arms.parse("right" | "left" | "both" | ("left", "right") | Arms)` builds one;
    `label` gives the name back. Widths and slices of the joint and point layouts come
    from here (`joint_width`, `joints(i)`, `xyz(i)`), never from a bare 7 or 3."""

    names: tuple[str, ...]

    def __post_init__(self):
        names = tuple(self.names)
        if not names or len(set(names)) != len(names) or any(n not in ARM_NAMES for n in names):
            raise ValueError(f"arms={names!r}: use {', '.join(repr(k) for k in LABELS)} "
                             f"or a list of arm names from {ARM_NAMES}")
        object.__setattr__(self, "names", tuple(n for n in ARM_NAMES if n in names))

    @classmethod
    def parse(cls, value: "str | Sequence[str] | Arms") -> "Arms":
        """'right', 'left', 'both', a sequence of arm names, or an Arms; ValueError otherwise."""
        if isinstance(value, Arms):
            return value
        if isinstance(value, str):
            if value not in LABELS:
                raise ValueError(f"arms={value!r}: use {', '.join(repr(k) for k in LABELS)}")
            return cls(LABELS[value])
        try:
            return cls(tuple(str(v) for v in value))
        except TypeError:
            raise ValueError(f"arms={value!r}: use {', '.join(repr(k) for k in LABELS)}") from None

    @classmethod
    def from_joint_width(cls, width: int) -> "Arms":
        """The arms of a joint layout `width` values wide: one arm is EgoMimic's right arm
        (its single-arm files), two are both. ValueError for any other width."""
        n, rest = divmod(int(width), JOINTS_PER_ARM)
        if rest or n not in (1, 2):
            raise ValueError(f"a joint layout of {width} values is not {JOINTS_PER_ARM} per arm for 1 or 2 arms")
        return cls(("right",) if n == 1 else ARM_NAMES)

    @property
    def label(self) -> str:
        """'right', 'left' or 'both'."""
        return next(k for k, v in LABELS.items() if v == self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def index(self, name: str) -> int:
        """Position of arm `name` in the layout."""
        return self.names.index(name)

    @property
    def joint_width(self) -> int:
        """Values in a joint layout of these arms."""
        return JOINTS_PER_ARM * len(self.names)

    @property
    def xyz_width(self) -> int:
        """Values in a point layout of these arms."""
        return XYZ_PER_ARM * len(self.names)

    @staticmethod
    def joints(i: int) -> slice:
        """The slice of the i-th arm's block in a joint layout."""
        return slice(JOINTS_PER_ARM * i, JOINTS_PER_ARM * (i + 1))

    @staticmethod
    def xyz(i: int) -> slice:
        """The slice of the i-th arm's block in a point layout."""
        return slice(XYZ_PER_ARM * i, XYZ_PER_ARM * (i + 1))

    def split_joints(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """{arm: its (..., JOINTS_PER_ARM) block} of a (..., joint_width) array."""
        values = np.asarray(values)
        if values.shape[-1] != self.joint_width:
            raise ValueError(f"a joint layout of arms {self.label!r} has {self.joint_width} values, got {values.shape[-1]}")
        return {a: values[..., self.joints(i)] for i, a in enumerate(self.names)}

    def gripper_index(self, i: int) -> int:
        """Index of the i-th arm's gripper in a joint layout."""
        return JOINTS_PER_ARM * (i + 1) - 1
