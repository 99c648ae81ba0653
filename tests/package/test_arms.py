"""Arms (egogym.core.arms): the one type for the set of active arms, its labels and widths."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egogym.core.arms import ANGLES_PER_ARM, ARM_NAMES, JOINTS_PER_ARM, LABELS, XYZ_PER_ARM, Arms

ARM_SETS = [names for n in range(1, len(ARM_NAMES) + 1) for names in itertools.combinations(ARM_NAMES, n)]
orderings = st.sampled_from([p for names in ARM_SETS for p in itertools.permutations(names)])


@pytest.mark.parametrize("label", list(LABELS))
def test_label_round_trip(label):
    arms = Arms.parse(label)
    assert arms.label == label and Arms.parse(arms.label) == arms and Arms.parse(arms) is arms
    assert Arms.parse(arms.names) == arms and list(arms) == list(arms.names) == list(LABELS[label])
    assert len(arms) == len(LABELS[label]) and all(a in arms for a in arms.names)


@given(orderings)
def test_any_ordering_parses_to_layout_order(names):
    arms = Arms.parse(names)
    assert arms.names == tuple(a for a in ARM_NAMES if a in names)  # left before right
    assert Arms.parse(arms.label) == arms and Arms.parse(list(names)) == arms
    assert [arms.index(a) for a in arms] == list(range(len(arms)))
    assert hash(arms) == hash(Arms.parse(arms.label))


@given(orderings)
def test_widths_and_slices_tile_the_layouts(names):
    arms = Arms.parse(names)
    n = len(names)
    assert arms.joint_width == JOINTS_PER_ARM * n and arms.xyz_width == XYZ_PER_ARM * n
    joints = [list(range(arms.joint_width))[arms.joints(i)] for i in range(n)]
    points = [list(range(arms.xyz_width))[arms.xyz(i)] for i in range(n)]
    assert sum(joints, []) == list(range(arms.joint_width)) and all(len(b) == JOINTS_PER_ARM for b in joints)
    assert sum(points, []) == list(range(arms.xyz_width)) and all(len(b) == XYZ_PER_ARM for b in points)
    for i in range(n):
        angles = list(range(arms.joint_width))[arms.angles(i)]
        assert angles == joints[i][:ANGLES_PER_ARM] and arms.gripper_index(i) == joints[i][-1]
    assert Arms.from_joint_width(arms.joint_width).joint_width == arms.joint_width
    assert Arms.from_xyz_width(arms.xyz_width) == Arms.from_joint_width(arms.joint_width) == Arms.from_count(n)


def test_width_inference_is_one_convention():
    """A layout that names no arms: one is EgoMimic's right arm, two are both, whatever the width."""
    assert Arms.from_count(1) == Arms.from_joint_width(JOINTS_PER_ARM) == Arms.from_xyz_width(XYZ_PER_ARM) \
        == Arms.parse("right")
    assert Arms.from_count(2) == Arms.from_joint_width(2 * JOINTS_PER_ARM) \
        == Arms.from_xyz_width(2 * XYZ_PER_ARM) == Arms.parse("both")
    assert Arms.from_joint_width(np.int64(JOINTS_PER_ARM)) == Arms.parse("right")  # numpy shapes


@given(orderings, st.lists(st.integers(1, 3), max_size=3), st.integers(0, 2**31 - 1))
@settings(max_examples=50)
def test_split_joints_inverts_concatenation(names, lead, seed):
    arms = Arms.parse(names)
    rng = np.random.default_rng(seed)
    blocks = {a: rng.normal(size=(*lead, JOINTS_PER_ARM)) for a in arms}
    layout = np.concatenate([blocks[a] for a in arms], axis=-1)
    parts = arms.split_joints(layout)
    assert list(parts) == list(arms.names)
    assert all(np.array_equal(parts[a], blocks[a]) for a in arms)
    assert np.array_equal(np.concatenate(list(parts.values()), axis=-1), layout)
    points = np.concatenate([rng.normal(size=(*lead, XYZ_PER_ARM)) for _ in arms], axis=-1)
    assert np.array_equal(np.concatenate(list(arms.split_xyz(points).values()), axis=-1), points)


@given(orderings, st.integers(0, 40))
def test_split_of_a_wrong_width_raises_naming_it(names, width):
    arms = Arms.parse(names)
    if width != arms.joint_width:
        with pytest.raises(ValueError, match=f"got {width}"):
            arms.split_joints(np.zeros((2, width)))
    if width != arms.xyz_width:
        with pytest.raises(ValueError, match=f"got {width}"):
            arms.split_xyz(np.zeros(width))


@pytest.mark.parametrize("bad", ["", "Right", "bothh", "left,right", ("left", "left"), (), ["up"], ("right", "up"),
                                 [1], b"right", 7, None, 2.0])
def test_bad_arm_sets_raise_naming_the_value(bad):
    with pytest.raises(ValueError) as e:
        Arms.parse(bad)
    assert repr(bad) in str(e.value) or repr(tuple(bad)) in str(e.value)


@given(st.text(max_size=12).filter(lambda s: s not in LABELS))
def test_unknown_labels_raise_naming_them(text):
    with pytest.raises(ValueError) as e:
        Arms.parse(text)
    assert repr(text) in str(e.value)


@given(st.integers(-3, 60))
def test_widths_of_no_arm_set_raise_naming_them(width):
    named = rf"(?<![\d-]){width}(?!\d)"
    if width in (JOINTS_PER_ARM, 2 * JOINTS_PER_ARM):
        Arms.from_joint_width(width)
    else:
        with pytest.raises(ValueError, match=named):
            Arms.from_joint_width(width)
    if width in (XYZ_PER_ARM, 2 * XYZ_PER_ARM):
        Arms.from_xyz_width(width)
    else:
        with pytest.raises(ValueError, match=named):
            Arms.from_xyz_width(width)
    if width in (1, 2):
        Arms.from_count(width)
    else:
        with pytest.raises(ValueError, match=named):
            Arms.from_count(width)


@pytest.mark.parametrize("bad", [7.0, "7", True, None])
def test_non_integer_widths_raise_naming_them(bad):
    with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.")):
        Arms.from_joint_width(bad)
