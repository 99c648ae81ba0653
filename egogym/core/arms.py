"""Which arms act: one type for the env, tasks, data files and models.

Every per-arm layout in egogym is the arms' blocks side by side, left then right:
joints `[6 joint angles (rad), gripper in [0, 1]]` (JOINTS_PER_ARM values per arm) and
points `[x, y, z]` (m, XYZ_PER_ARM values per arm). `Arms` knows the widths and the slices,
so no other module multiplies or divides by 7 or 3.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

ARM_NAMES = ("left", "right")
"""Every arm of the robot, in layout order."""
JOINTS_PER_ARM = 7
"""Values per arm in a joint layout: 6 joint angles (rad), then the gripper in [0, 1] (0 closed)."""
ANGLES_PER_ARM = JOINTS_PER_ARM - 1
"""The joint angles at the front of an arm's joint block (the gripper follows them)."""
GRIPPER = ANGLES_PER_ARM
"""Index of the gripper in one arm's joint block (`[:ANGLES_PER_ARM]` are its joint angles)."""
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
        """'right', 'left', 'both', a sequence of arm names in any order, or an Arms;
        ValueError naming `value` otherwise."""
        if isinstance(value, Arms):
            return value
        if isinstance(value, str):
            if value not in LABELS:
                raise ValueError(f"arms={value!r}: use {', '.join(repr(k) for k in LABELS)}")
            return cls(LABELS[value])
        try:
            names = tuple(value)
        except TypeError:
            names = None
        if names is None or isinstance(value, (bytes, bytearray)) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"arms={value!r}: use {', '.join(repr(k) for k in LABELS)} "
                             f"or a list of arm names from {ARM_NAMES}")
        return cls(names)

    @classmethod
    def from_count(cls, n: int) -> "Arms":
        """The arms of a layout that names none, by their number: one arm is EgoMimic's right
        arm (its single-arm files and models), two are both. ValueError for any other number."""
        n = _count(n, "number of arms")
        if n not in (1, 2):
            raise ValueError(f"{n} arms: a layout has 1 (the right arm) or 2 (both)")
        return cls(("right",) if n == 1 else ARM_NAMES)

    @classmethod
    def from_joint_width(cls, width: int) -> "Arms":
        """The arms of a joint layout `width` values wide, as `from_count`: one arm is
        EgoMimic's right arm, two are both. ValueError for any other width."""
        width = _count(width, "joint layout width")
        n, rest = divmod(width, JOINTS_PER_ARM)
        if rest or n not in (1, 2):
            raise ValueError(f"a joint layout of {width} values is not {JOINTS_PER_ARM} per arm for 1 or 2 arms")
        return cls.from_count(n)

    @classmethod
    def from_xyz_width(cls, width: int) -> "Arms":
        """The arms of a point layout `width` values wide, as `from_joint_width`."""
        width = _count(width, "point layout width")
        n, rest = divmod(width, XYZ_PER_ARM)
        if rest or n not in (1, 2):
            raise ValueError(f"a point layout of {width} values is not {XYZ_PER_ARM} per arm for 1 or 2 arms")
        return cls.from_count(n)

    @property
    def label(self) -> str:
        """'right', 'left' or 'both'."""
        return next(k for k, v in LABELS.items() if v == self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __getitem__(self, i: int) -> str:
        return self.names[i]

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
    def angles(i: int) -> slice:
        """The slice of the i-th arm's joint angles (its block without the gripper) in a joint layout."""
        return slice(JOINTS_PER_ARM * i, JOINTS_PER_ARM * i + ANGLES_PER_ARM)

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

    def split_xyz(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """{arm: its (..., XYZ_PER_ARM) point} of a (..., xyz_width) array."""
        values = np.asarray(values)
        if values.shape[-1] != self.xyz_width:
            raise ValueError(f"a point layout of arms {self.label!r} has {self.xyz_width} values, got {values.shape[-1]}")
        return {a: values[..., self.xyz(i)] for i, a in enumerate(self.names)}

    @staticmethod
    def gripper_index(i: int) -> int:
        """Index of the i-th arm's gripper in a joint layout."""
        return JOINTS_PER_ARM * i + GRIPPER


def _count(value, what: str) -> int:
    """A non-negative integer (ints, numpy integers); ValueError naming `value` otherwise."""
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} {value!r} is not an integer") from None
    if isinstance(value, bool) or n < 0:
        raise ValueError(f"{what} {value!r} is not a count")
    return n
