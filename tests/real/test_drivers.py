"""The driver adapters against the vendor-faithful fakes, one behaviour at a time: motion
profiles, the gripper's registers, the driver's own checks, timeouts on blocking calls,
the joint-state monitor and the camera watchdog on what real devices report."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from egogym.real.devices import (ArmDriver, ArmState, AriaCamera, CameraFault, DriverTimeout, GripperMap,
                                 RealSenseCamera, call_with_timeout)
from egogym.real.fakes import CAMERA_ID, FakeClock, FakeHardware
from egogym.real.safety import ArmStop, FrameStamp, FrameWatchdog, JointStateMonitor, SafetyLimits, SafetyStop
from egogym.core.spec import EGOMIMIC

from .conftest import GRIPPER_RANGE, SIZE

ARM = EGOMIMIC.arm("right")


def _hw(clock=None):
    clock = clock or FakeClock()
    return FakeHardware(EGOMIMIC, clock, {"right": "follower_right", "left": "follower_left"},
                        {"right": GRIPPER_RANGE, "left": GRIPPER_RANGE}, {"right_wrist_img": "D405-R"}), clock


def _bot(hw):
    d = hw.drivers
    node = d.interbotix_robot.create_interbotix_global_node("test")
    bot = d.interbotix_arm.InterbotixManipulatorXS(robot_model="vx300s", group_name="arm", gripper_name="gripper",
                                                   robot_name="follower_right", node=node)
    d.interbotix_robot.robot_startup(node)
    return bot


def _driver(moving_time=0.2, accel_time=0.1):
    hw, clock = _hw()
    bot = _bot(hw)
    drv = ArmDriver(bot, ARM, GripperMap(GRIPPER_RANGE), moving_time, accel_time, clock=clock, timeout_s=5.0)
    drv.start()
    return drv, hw.arms["right"], clock


def _time_to_reach(fake, clock, joint: int, target: float, tol: float = 0.01) -> float:
    t0 = clock.now()
    for _ in range(2000):
        clock.sleep(0.005)
        if abs(fake.position[joint] - target) < tol:
            return clock.now() - t0
    raise AssertionError("never arrived")


# ---- motion profiles ----------------------------------------------------------------------
@pytest.mark.parametrize("moving_time", [0.2, 0.5, 1.0])
def test_start_sets_a_time_based_profile_in_milliseconds(moving_time):
    drv, fake, _ = _driver(moving_time, moving_time / 4)
    for n in ARM.joint_names:
        regs = fake.motors[n].regs
        assert regs["Drive_Mode"] & 0b100  # the time-based profile bit
        assert regs["Profile_Velocity"] == round(moving_time * 1000)
        assert regs["Profile_Acceleration"] == round(moving_time / 4 * 1000)
    assert fake.arm.moving_time == moving_time  # arm.py's own speed check uses the same value


def test_a_larger_moving_time_is_slower():
    times = []
    for moving_time in (0.2, 0.5, 1.0):
        drv, fake, clock = _driver(moving_time, moving_time / 2)
        q = fake.position[:6].copy()
        target = q.copy()
        target[0] += 0.3
        assert fake.arm.set_joint_positions(list(target), blocking=False)
        times.append(_time_to_reach(fake, clock, 0, target[0]))
    assert times[0] < times[1] < times[2]
    assert times[2] == pytest.approx(1.0, rel=0.5)  # arrives in about moving_time


def test_the_vendor_default_velocity_profile_made_a_larger_moving_time_faster():
    """What `robot_set_operating_modes(..., "position")` left behind: a velocity-based
    profile, where set_trajectory_time's int(s * 1000) is a speed cap (0.229 rev/min units):
    a moving_time of 0.1 s moves faster than one of 0.05 s."""
    times = []
    for moving_time in (0.05, 0.1):
        hw, clock = _hw()
        bot = _bot(hw)
        fake = hw.arms["right"]
        bot.core.robot_set_operating_modes("group", "arm", "position")  # the old start-up
        bot.arm.set_trajectory_time(moving_time=moving_time, accel_time=0.1)
        q = fake.position[:6].copy()
        q[0] += 0.3
        bot.arm.moving_time = 2.0  # let arm.py's speed check pass; the registers hold the raw values
        assert bot.arm.set_joint_positions(list(q), blocking=False)
        times.append(_time_to_reach(fake, clock, 0, q[0]))
    assert times[1] < times[0]
    assert fake.warnings == ["Group 'arm' profile_type not set to 'time'."]  # arm.py warned at construction


def test_interbotix_refuses_a_target_faster_than_its_velocity_limit():
    """arm.py `_check_joint_limits`: |goal - last command| / moving_time above pi rad/s is
    refused: set_joint_positions returns False, publishes nothing; ArmDriver.send raises."""
    drv, fake, _ = _driver(0.2, 0.1)
    q = fake.position[:6].copy()
    n = len(fake.sent)
    with pytest.raises(RuntimeError, match="refused the target"):
        drv.send(q + np.r_[0.7, 0, 0, 0, 0, 0], 0.5)  # 3.5 rad/s over 0.2 s
    assert len(fake.sent) == n
    drv.send(q + np.r_[0.05, 0, 0, 0, 0, 0], 0.5)  # 0.25 rad/s: fine
    assert len(fake.sent) == n + 2


# ---- gripper --------------------------------------------------------------------------------
def test_start_writes_the_gripper_current_limit_and_reads_it_back():
    drv, fake, _ = _driver()
    g = fake.motors["gripper"]
    assert g.regs["Current_Limit"] == round(800 / 2.69) and g.mode == "current_based_position" and g.torque


def test_a_current_limit_that_does_not_take_is_one_line(monkeypatch):
    hw, clock = _hw()
    bot = _bot(hw)
    fake = hw.arms["right"]
    monkeypatch.setattr(bot.core, "robot_reboot_motors", lambda *a, **k: None)  # torque stays on: EEPROM locked
    drv = ArmDriver(bot, ARM, GripperMap(GRIPPER_RANGE), 0.2, 0.1, clock=clock)
    with pytest.raises(Exception, match="Current_Limit reads \\[1193\\] after writing 297"):
        drv.start()
    assert fake.motors["gripper"].regs["Current_Limit"] == 1193


def test_a_gripper_outside_its_calibrated_range_at_start_up_is_one_line():
    hw, clock = _hw()
    bot = _bot(hw)
    grip = hw.arms["right"].motors["gripper"]
    grip.p = grip.goal = 1.45  # wide open, past a wrongly calibrated "open" of 0.9 rad
    clock.sleep(0.05)  # a newer joint_states message
    drv = ArmDriver(bot, ARM, GripperMap((-1.2, 0.9)), 0.2, 0.1, clock=clock)
    with pytest.raises(Exception, match=r"gripper motor reads 1.450 rad, outside gripper_motor_range \(-1.2, 0.9\)"):
        drv.start()


def test_commanded_gripper_reads_back_the_same_after_settling():
    drv, fake, clock = _driver()
    q = fake.position[:6]
    for g in (0.25, 0.8, 0.0):
        drv.send(q, g)
        clock.sleep(1.0)
        assert drv.read_state().position[6] == pytest.approx(g, abs=0.01)


# ---- blocking calls and the Interbotix node -------------------------------------------------
def test_publishing_never_raises_and_service_calls_time_out_once_xs_sdk_is_gone():
    drv, fake, clock = _driver()
    msg = fake.core.joint_states
    fake.kill_sdk()
    q = fake.position[:6]
    drv.send(q, 0.5)  # a publish to nobody: no error
    clock.sleep(0.5)
    assert fake.core.joint_states is msg  # the last message received, forever
    t0 = clock.now()
    with pytest.raises(DriverTimeout, match="arm right: robot_reboot_motors.* did not return within 5 s"):
        drv.reboot_gripper()
    assert clock.now() - t0 == pytest.approx(5.0)
    fake.hw.release()


def test_call_with_timeout_returns_results_and_raises_the_call_s_own_error():
    clock = FakeClock()
    assert call_with_timeout(clock, 1.0, "add", lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(clock, 1.0, "div", lambda: 1 / 0)


def test_the_interbotix_robot_module_is_one_node_per_process():
    hw, clock = _hw()
    d = hw.drivers.interbotix_robot
    with pytest.raises(NameError):  # robot_shutdown before robot_startup, as in the vendor module
        d.robot_shutdown(None)
    node = d.create_interbotix_global_node("a")
    with pytest.raises(Exception, match="already exists"):
        d.create_interbotix_global_node("b")
    d.robot_startup(node)
    with pytest.raises(Exception, match="already been requested"):
        d.robot_startup(node)


# ---- joint-state monitor ------------------------------------------------------------------
def _state(pos, stamp, vel=None, eff=None, grip_motor=0.5):
    pos = np.asarray(pos, float)
    return ArmState(pos, np.full(7, 0.1) if vel is None else np.asarray(vel, float),
                    np.full(7, 100.0) if eff is None else np.asarray(eff, float), stamp, grip_motor)


def test_monitor_frozen_stamp_zero_buffers_jumps_and_tracking():
    lim = SafetyLimits()
    m = JointStateMonitor(lim, EGOMIMIC, ("right",))
    home = ARM.home_command
    m.check("right", _state(home, 10.00), home, 0.0)
    m.check("right", _state(home, 10.00), home, 0.09)  # same message, within the timeout
    with pytest.raises(ArmStop, match="joint_states frozen: header.stamp unchanged for 0.11 s"):
        m.check("right", _state(home, 10.00), home, 0.11)
    m.reset()
    zeros = np.r_[np.full(6, -np.pi), 0.4]
    with pytest.raises(ArmStop, match="zeroed buffers"):
        m.check("right", _state(zeros, 11.0, vel=np.zeros(7), eff=np.zeros(7), grip_motor=-np.pi), None, 1.0)
    m.reset()
    m.check("right", _state(home, 12.00), home, 2.0)
    jumped = home.copy()
    jumped[1] += 0.2  # in 20 ms: 10 rad/s
    with pytest.raises(ArmStop, match="right shoulder: moved 0.200 rad in 0.020 s"):
        m.check("right", _state(jumped, 12.02), home, 2.02)
    m.reset()
    cmd = home.copy()
    fallen = home.copy()
    fallen[2] -= 0.35
    m.check("right", _state(fallen, 13.0), cmd, 3.0)  # first message: no jump to judge
    for k in range(1, lim.tracking_steps - 1):
        m.check("right", _state(fallen, 13.0 + 0.02 * k), cmd, 3.0 + 0.02 * k)
    with pytest.raises(ArmStop, match="right elbow: 0.350 rad from its command for 5 steps"):
        m.check("right", _state(fallen, 13.0 + 0.02 * (lim.tracking_steps - 1)), cmd, 3.1)


def test_monitor_tells_a_grasp_from_an_overloaded_gripper():
    lim = SafetyLimits()
    home = ARM.home_command
    cmd = home.copy()
    cmd[6] = 0.0  # closing
    held = home.copy()
    held[6] = 0.5  # an object keeps it half open
    m = JointStateMonitor(lim, EGOMIMIC, ("right",))
    for k in range(20):  # squeezing: current at the limit
        m.check("right", _state(held, 1.0 + 0.02 * k, eff=np.r_[np.full(6, 100.0), 800.0]), cmd, 0.02 * k)
    m.reset()
    with pytest.raises(ArmStop, match="gripper: 0.50 from its command for 5 steps drawing 0 mA"):
        for k in range(20):  # torque off: no current
            m.check("right", _state(held, 1.0 + 0.02 * k, eff=np.r_[np.full(6, 100.0), 0.0]), cmd, 0.02 * k)


# ---- camera watchdog on device timestamps ---------------------------------------------------
def test_watchdog_catches_a_lagging_stream_by_device_time_and_a_restarted_one():
    lim = SafetyLimits()
    w = FrameWatchdog(lim, ["cam"])
    w.reset(0.0)
    for k in range(10):  # healthy: 60 Hz, 5 ms transport; the device clock is 5000 s ahead
        t = 0.02 * k
        w.check("cam", FrameStamp(k, t, bytes([k]), 5000.0 + t - 0.005), t)
    with pytest.raises(SafetyStop, match="s old by its device timestamp .*although frames keep arriving"):
        for k in range(10, 60):  # new frames keep arriving, each captured longer ago
            t = 0.02 * k
            w.check("cam", FrameStamp(k, t, bytes([k]), 5000.0 + t - 0.005 - 0.5 * (t - 0.2)), t)
    w.reset(0.0)
    w.check("cam", FrameStamp(500, 0.0, b"a", 70.0), 0.0)
    with pytest.raises(SafetyStop, match="frame numbers went back from 500 to 1"):
        w.check("cam", FrameStamp(1, 0.02, b"b", 0.001), 0.02)


# ---- RealSense and Aria as their libraries behave -----------------------------------------
def test_an_unplugged_realsense_polls_empty_and_wait_for_frames_raises_after_its_timeout():
    hw, clock = _hw()
    rs = hw.drivers.realsense
    cam = RealSenseCamera(rs, "right_wrist_img", "D405-R", SIZE, clock, (32, 24, 60), 1.0)
    cam.start()
    first = cam.latest().stamp
    assert first.t_device is not None
    hw.camera("right_wrist_img").inject("unplugged", clock.now())
    clock.sleep(0.5)
    cam.poll()  # no exception: an empty frameset
    assert cam.latest().stamp == first
    with pytest.raises(RuntimeError, match="Frame didn't arrive within 200"):
        cam.pipeline.wait_for_frames(200)
    cam.stop()


def _aria(hw, clock):
    d = hw.drivers
    return AriaCamera(d.aria_sdk, d.aria_calibration, EGOMIMIC.camera("front_img_1"), SIZE, clock)


def test_aria_records_carry_an_int_camera_id_that_the_sdk_enum_does_not_equal():
    """The bug the old comparison had: `record.camera_id != CameraId.Rgb` is always True for
    a plain int and a pybind11 enum member; the camera compares their numbers."""
    assert (int(CAMERA_ID.Rgb) == 2) and (2 != CAMERA_ID.Rgb)
    hw, clock = _hw()
    cam = _aria(hw, clock)
    cam.start()  # would time out with no frame if the ids were compared as objects
    assert cam.latest() is not None and cam.latest().stamp.t_device > 12000.0  # the glasses' own clock
    assert threading.current_thread().name not in hw.aria.callback_threads
    cam.stop()
    assert not hw.aria.streaming and not hw.aria.connected


def test_aria_raw_size_must_match_its_calibration():
    hw, clock = _hw()
    cam = _aria(hw, clock)
    cam.start()
    with pytest.raises(CameraFault, match="raw RGB image is 40x40 px but its calibration is for 48x48"):
        cam.undistort(np.zeros((40, 40, 3), np.uint8))
    cam.stop()


def test_a_profile_that_did_not_take_is_one_line_with_the_fix(monkeypatch):
    hw, clock = _hw()
    bot = _bot(hw)
    real = bot.core.robot_set_operating_modes

    def ignores_profile(cmd_type, name, mode, profile_type="velocity", *a, **k):
        return real(cmd_type, name, mode)  # as if the Drive_Mode write failed (EEPROM, torque on)

    monkeypatch.setattr(bot.core, "robot_set_operating_modes", ignores_profile)
    drv = ArmDriver(bot, ARM, GripperMap(GRIPPER_RANGE), 0.2, 0.1, clock=clock)
    with pytest.raises(Exception, match="motion profile did not take .* set profile_type: time, profile_velocity: 200"):
        drv.start()
