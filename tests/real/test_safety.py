"""The safety layer: nothing outside the limits is ever sent; watchdog; limits config."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egogym.real.safety import (ArmFault, CommandGuard, FrameStamp, FrameWatchdog, SafetyLimits, SafetyStop)
from egogym.core.spec import EGOMIMIC

from .conftest import GRIPPER_RANGE

WILD = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                 st.floats(-10.0, 10.0), st.sampled_from([0.0, 1.0, -1.0, 1e300, -1e300]))


class Recorder:
    def __init__(self, fail_at: int | None = None):
        self.sent: list[tuple[np.ndarray, float]] = []
        self.fail_at = fail_at

    def send(self, q, g):
        if self.fail_at is not None and len(self.sent) == self.fail_at:
            raise RuntimeError("bus error")
        self.sent.append((np.array(q), g))


def _guard(arms=("left", "right"), limits=SafetyLimits(), fail_at=None):
    sinks = {a: Recorder(fail_at) for a in arms}
    g = CommandGuard(EGOMIMIC, arms, limits, sinks)
    g.start(np.concatenate([EGOMIMIC.arm(a).home_command for a in arms]))
    return g, sinks


def _assert_within(g: CommandGuard, sinks, limits: SafetyLimits, start: np.ndarray):
    for i, a in enumerate(g.arms):
        arm = EGOMIMIC.arm(a)
        prev = start[7 * i: 7 * i + 7]
        for q, grip in sinks[a].sent:
            cmd = np.r_[q, grip]
            assert np.all(np.isfinite(cmd))
            assert np.all(q >= arm.lower[:6] + limits.joint_margin - 1e-9)
            assert np.all(q <= arm.upper[:6] - limits.joint_margin + 1e-9)
            assert 0.0 <= grip <= 1.0
            assert np.all(np.abs(q - prev[:6]) <= limits.max_joint_step + 1e-9)
            assert abs(grip - prev[6]) <= limits.max_gripper_step + 1e-9
            prev = cmd


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(WILD, min_size=14, max_size=14), min_size=1, max_size=30))
def test_guard_never_sends_outside_limits(commands):
    limits = SafetyLimits()
    g, sinks = _guard(limits=limits)
    start = g.sent.copy()
    for c in commands:
        c = np.array(c)
        prev = g.sent.copy()
        try:
            sent = g.step(c)
        except SafetyStop as e:
            assert not np.all(np.isfinite(c)) and "non-finite" in e.reason
            np.testing.assert_array_equal(g.sent, prev)  # nothing sent
            continue
        # each value moves towards the clipped request, by at most one step
        want = np.clip(c, g.lower, g.upper)
        assert np.all(np.abs(sent - want) <= np.abs(prev - want) + 1e-9)
    _assert_within(g, sinks, limits, start)
    for _ in range(g.home_steps_needed() + 1):
        g.home_step()
    np.testing.assert_allclose(g.sent, g.home_target())
    _assert_within(g, sinks, limits, start)


def test_nan_and_inf_stop_without_sending():
    g, sinks = _guard(arms=("right",))
    for bad in (np.nan, np.inf, -np.inf):
        c = EGOMIMIC.arm("right").home_command.copy()
        c[2] = bad
        with pytest.raises(SafetyStop, match="right elbow"):
            g.step(c)
    assert sinks["right"].sent == []


def test_huge_jump_is_rate_limited_and_clipped():
    limits = SafetyLimits(max_joint_step=0.05, max_gripper_step=0.1, joint_margin=0.02)
    g, sinks = _guard(arms=("right",), limits=limits)
    before = g.sent.copy()
    sent = g.step(np.array([100.0, -100.0, 0.0, 0.0, 0.0, 0.0, -5.0]))
    np.testing.assert_allclose(sent - before, [0.05, -0.05, -0.05, 0, 0.05, 0, -0.1])
    assert g.clamped_steps == 1
    for _ in range(200):
        sent = g.step(np.array([100.0, -100.0, 0.0, 0.0, 0.0, 0.0, -5.0]))
    arm = EGOMIMIC.arm("right")
    assert sent[0] == pytest.approx(arm.upper[0] - 0.02) and sent[1] == pytest.approx(arm.lower[1] + 0.02)
    assert sent[6] == 0.0


def test_driver_error_is_an_arm_fault_and_keeps_track_of_what_was_sent():
    g, sinks = _guard(fail_at=2)
    g.step(g.sent + 0.01)
    g.step(g.sent + 0.01)
    before = g.sent.copy()
    with pytest.raises(ArmFault, match="arm left: sending a command raised RuntimeError: bus error"):
        g.step(g.sent + 0.01)
    np.testing.assert_array_equal(g.sent, before)


def test_start_outside_the_limits_stops():
    g, _ = _guard(arms=("right",))
    q = EGOMIMIC.arm("right").home_command.copy()
    q[1] = -2.5
    with pytest.raises(SafetyStop, match="right shoulder measured at -2.500 is outside its limits"):
        g.start(q)


def test_limits_validation():
    with pytest.raises(ValueError, match="max_joint_step"):
        SafetyLimits(max_joint_step=float("nan"))
    with pytest.raises(ValueError, match="unknown key"):
        SafetyLimits.from_dict({"max_joint_stp": 0.1})


def test_watchdog_stale_frozen_same_image_and_missing():
    lim = SafetyLimits(stale_after_s=0.2, frozen_after_s=0.2)
    w = FrameWatchdog(lim, ["cam"])
    w.reset(0.0)
    w.check("cam", None, 0.1)
    with pytest.raises(SafetyStop, match="no frame for 0.25 s"):
        w.check("cam", None, 0.25)
    # stale: newest frame too old
    w.reset(0.0)
    w.check("cam", FrameStamp(1, 0.0, b"a"), 0.05)
    with pytest.raises(SafetyStop, match="stale frame 1"):
        w.check("cam", FrameStamp(1, 0.0, b"a"), 0.21)
    # frozen counter although time stamps are fresh
    w.reset(0.0)
    for k in range(5):
        w.check("cam", FrameStamp(7, 0.05 * k, bytes([k])), 0.05 * k)
    with pytest.raises(SafetyStop, match="frame counter stuck at 7"):
        w.check("cam", FrameStamp(7, 0.25, b"z"), 0.25)
    # same image with advancing numbers
    w.reset(0.0)
    for k in range(5):
        w.check("cam", FrameStamp(k, 0.05 * k, b"same"), 0.05 * k)
    with pytest.raises(SafetyStop, match="identical image"):
        w.check("cam", FrameStamp(9, 0.25, b"same"), 0.25)
    # a healthy stream never stops
    w.reset(0.0)
    for k in range(100):
        w.check("cam", FrameStamp(k, 0.02 * k, bytes([k % 256])), 0.02 * k + 0.01)


def test_gripper_motor_mapping_stays_in_range():
    from egogym.real.devices import GripperMap

    m = GripperMap(GRIPPER_RANGE)
    assert m.to_motor(0.0) == pytest.approx(GRIPPER_RANGE[0]) and m.to_motor(1.0) == pytest.approx(GRIPPER_RANGE[1])
    assert m.to_motor(7.0) == pytest.approx(GRIPPER_RANGE[1]) and m.to_motor(-3.0) == pytest.approx(GRIPPER_RANGE[0])


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 1.0))
def test_a_commanded_gripper_value_reads_back_as_itself(g):
    """One mapping: g -> motor angle (the linkage inverted) -> the driver's finger formula
    (the fake's own copy of xs_driver's arithmetic, float32 like the driver) -> g."""
    from egogym.real.devices import GripperMap
    from egogym.real.fakes import driver_finger_position

    m = GripperMap(GRIPPER_RANGE)
    theta = m.to_motor(g)
    assert min(GRIPPER_RANGE) - 1e-9 <= theta <= max(GRIPPER_RANGE) + 1e-9
    assert m.from_finger(driver_finger_position(theta)) == pytest.approx(g, abs=1e-5)


def test_the_old_linear_finger_mapping_was_off_by_a_lot():
    """The issue's numbers: with the documented range, a commanded 0.25 read back as 0.154
    through the spec's linear finger range; the one mapping reads 0.25."""
    from egogym.real.devices import GripperMap
    from egogym.real.fakes import driver_finger_position

    motor = (1 - 0.25) * GRIPPER_RANGE[0] + 0.25 * GRIPPER_RANGE[1]  # the old command side (linear in rad)
    old = float(EGOMIMIC.arm("right").gripper.from_finger(driver_finger_position(motor)))
    assert old == pytest.approx(0.154, abs=0.002)
    m = GripperMap(GRIPPER_RANGE)
    assert m.from_finger(driver_finger_position(m.to_motor(0.25))) == pytest.approx(0.25, abs=1e-5)


def test_gripper_ranges_that_cannot_map_are_one_line():
    from egogym.real.devices import GripperMap

    with pytest.raises(ValueError, match=r"swap them"):
        GripperMap((1.49, -0.62)).check("gripper_motor_range['right']")
    with pytest.raises(ValueError, match=r"one-to-one range"):
        GripperMap((-0.62, 2.0)).check("gripper_motor_range['right']")
