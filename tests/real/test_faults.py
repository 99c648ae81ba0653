"""Fault injection through the vendor-faithful fakes: every fault real hardware produces ends
in a safe stop within its stated window, marks the episode aborted with its reason, takes
the working arms home (from where they are, verified), and never sends a command outside
the limits. The windows measured here are the ones docs/HARDWARE.md §7 states."""
from __future__ import annotations

import json
import math
import os
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egogym.core.errors import UserError
from egogym.real.console import OperatorQuit
from egogym.real.safety import EmergencyStop
from egogym.core.spec import EGOMIMIC

from .conftest import Rig, assert_commands_safe

FAULT_STEP = 10
DT = 1.0 / EGOMIMIC.control_hz


def _sweep(k, home):
    return home + 0.3 * np.sin(0.1 * k)


def _run(rig, inject, env_id="egogym/ObjectInBowl-v0", action=None, steps=200, **env_kw):
    """Reset, step a sweeping policy, inject the fault before step FAULT_STEP; return what happened."""
    rig.answers = ["", "1", "n", "note"]
    env = rig.make_env(env_id, **env_kw)
    u = env.unwrapped
    obs, _ = env.reset(seed=0)
    home = u.backend.guard.home_target()
    n_at_fault, t_fault, term = None, None, False
    for k in range(steps):
        if k == FAULT_STEP:
            inject(env)
            t_fault = u.backend.time
            n_at_fault = {a: len(f.arm_commands()) for a, f in rig.hw.arms.items()}
        a = _sweep(k, home) if action is None else action(k, home)
        obs, r, term, trunc, info = env.step(a)
        if term:
            break
    score = u.finish_episode()
    env.close()
    rig.hw.release()
    delay = None
    if term and t_fault is not None:  # detection time: the stop entry's episode time, before the move home
        entry = next(e for e in _stops(rig) if e["reason"] == info["aborted"])
        delay = entry["time_s"] - t_fault
    return {"abort_step": k if term else None, "info": info, "score": score, "home": home, "n_at_fault": n_at_fault,
            "obs": obs, "backend": u.backend, "delay_s": delay}


def _stops(rig):
    return [json.loads(line) for line in open(os.path.join(rig.options["log_dir"], "stops.jsonl"))]


def _check_safe_stop(rig, res, arms=("right",), failed=()):
    """Aborted with a logged reason; commands safe; after the stop the failed arms got nothing
    and the others went home (verified, measured)."""
    b = res["backend"]
    limits = b.config.safety
    assert res["info"]["aborted"] and res["score"].aborted == res["info"]["aborted"]
    for i, a in enumerate(arms):
        fake = rig.hw.arms[a]
        assert_commands_safe(fake, a, limits)
        after = fake.arm_commands()[res["n_at_fault"][a] + (res["abort_step"] - FAULT_STEP):]
        if a in failed:
            assert len(after) == 0, f"arm {a} was commanded after its fault"
            continue
        home_q = res["home"][7 * i: 7 * i + 6]
        dist = np.abs(after - home_q)
        assert np.all(np.diff(dist, axis=0) <= 1e-9)  # only the move home: never away from home
        assert np.all(np.abs(np.diff(after, axis=0)) <= limits.home_joint_step + 1e-9)  # at the homing speed
        np.testing.assert_allclose(fake.position[:6], home_q, atol=limits.home_tolerance)
    log = _stops(rig)
    kinds = [e["kind"] for e in log]
    assert any(e["reason"] == res["info"]["aborted"] for e in log)
    assert "safe pose" in kinds[kinds.index(next(e["kind"] for e in log if e["reason"] == res["info"]["aborted"])):]
    return log


# ---- no fault: no false stop -------------------------------------------------------------
def test_a_healthy_robot_runs_without_a_stop(rig):
    """Lag of the time-based profile, gravity sag, camera jitter: 200 steps of a sweeping
    policy, nothing stops; the commands stay safe; measured follows the command within the
    tracking limit."""
    res = _run(rig, lambda env: None, env_id="egogym/HandOver-v0")
    assert res["abort_step"] is None and res["info"]["aborted"] is None
    lim = res["backend"].config.safety
    for a in ("left", "right"):
        assert_commands_safe(rig.hw.arms[a], a, lim)


def test_gripper_squeezing_an_object_is_not_a_fault(rig):
    """The gripper stalls on an object (current at its limit): a tracking error that draws
    current is a grasp, not an overload."""
    def inject(env):
        rig.hw.arms["right"].block_gripper(0.2)  # the fingers meet the object at 0.2 rad

    def action(k, home):
        a = home.copy()
        a[6] = 0.0 if k >= FAULT_STEP else 1.0  # close on it
        return a

    res = _run(rig, inject, action=action, steps=120)
    assert res["abort_step"] is None


# ---- policy and operator ------------------------------------------------------------------
def test_nan_action_stops_in_the_same_step(rig):
    def action(k, home):
        a = home.copy()
        if k >= FAULT_STEP:
            a[3] = np.nan
        return a

    res = _run(rig, lambda env: None, action=action)
    assert res["abort_step"] == FAULT_STEP
    assert "non-finite command: right forearm_roll = nan" in res["info"]["aborted"]
    _check_safe_stop(rig, res)


def test_emergency_stop_by_code_ctrl_c_and_key(options):
    rig = Rig(options)
    res = _run(rig, lambda env: env.unwrapped.backend.estop.trigger("emergency stop: test"))
    assert res["abort_step"] == FAULT_STEP and res["info"]["aborted"] == "emergency stop: test"
    _check_safe_stop(rig, res)

    # Ctrl-C: SIGINT delivered to this process during the episode
    rig = Rig(options)
    before = signal.getsignal(signal.SIGINT)  # default, or SIG_IGN when pytest runs in the background
    res = _run(rig, lambda env: os.kill(os.getpid(), signal.SIGINT))
    assert res["abort_step"] == FAULT_STEP and res["info"]["aborted"] == "emergency stop: Ctrl-C"
    assert signal.getsignal(signal.SIGINT) is before  # handler restored

    # a key on the operator's terminal (a pseudo-terminal here)
    master, slave = os.openpty()
    with os.fdopen(slave, "r") as tty_in:
        rig = Rig(options)
        rig.options = dict(rig.options, estop=EmergencyStop(stdin=tty_in))
        res = _run(rig, lambda env: os.write(master, b" "))
    os.close(master)
    assert res["abort_step"] == FAULT_STEP and res["info"]["aborted"] == "emergency stop: key ' ' pressed"


def test_a_second_stop_request_interrupts_the_move_home(rig):
    """After a stop the arms go home; a stop request during that move stops it at once: the
    arms hold where they are and nothing more is sent."""
    sent_at_interrupt = {}

    def inject(env):
        fake = rig.hw.arms["right"]
        backend = env.unwrapped.backend
        backend.estop.trigger("emergency stop: first")
        orig = backend.guard.home_step
        calls = {"n": 0}

        def home_step(*a, **k):
            calls["n"] += 1
            if calls["n"] == 5:  # five steps into the move home the operator presses again
                backend.estop.trigger("emergency stop: second")
                sent_at_interrupt["n"] = len(fake.arm_commands())
            return orig(*a, **k)

        backend.guard.home_step = home_step

    res = _run(rig, inject)
    fake = rig.hw.arms["right"]
    assert res["info"]["aborted"] == "emergency stop: first"
    assert len(fake.arm_commands()) == sent_at_interrupt["n"] + 1  # the step in progress, then nothing
    log = _stops(rig)
    assert any("emergency stop: second: stopped during the move home" in e["reason"] for e in log)


def test_stop_key_during_the_move_home_at_reset_quits(rig):
    rig.answers = [""]
    env = rig.make_env()
    backend = env.unwrapped.backend
    orig = backend.guard.home_step

    def home_step(*a, **k):
        backend.estop.trigger("emergency stop: key ' ' pressed")
        return orig(*a, **k)

    backend.guard.home_step = home_step
    n0 = len(rig.hw.arms["right"].arm_commands())
    with pytest.raises(OperatorQuit, match="during the move home at reset"):
        env.reset(seed=0)
    assert len(rig.hw.arms["right"].arm_commands()) - n0 <= 1
    env.close()


# ---- arms: what the Interbotix stack really does ------------------------------------------
def test_xs_sdk_dies_frozen_joint_states_stop_and_the_other_arm_goes_home(rig):
    """xs_sdk dies: core.joint_states keeps its last message, publishes vanish without an
    error, service calls never return. Detected by the unchanged header.stamp."""
    res = _run(rig, lambda env: rig.hw.arms["left"].kill_sdk(), env_id="egogym/HandOver-v0")
    lim = res["backend"].config.safety
    assert res["info"]["aborted"].startswith("arm left: joint_states frozen: header.stamp unchanged")
    assert res["delay_s"] <= lim.joint_state_timeout_s + 1 / 100 + 2 * DT + 1e-9
    log = _check_safe_stop(rig, res, arms=("left", "right"), failed=("left",))
    # the diagnosis (a service call) times out instead of hanging the backend
    assert any(e["kind"] == "diagnosis" and "did not return within" in e["reason"] for e in log)


@pytest.mark.parametrize("joint,fall", [("elbow", -1.0), ("shoulder", 1.0), ("wrist_angle", -1.0)])
def test_a_joint_going_limp_silently_stops_within_the_tracking_window(rig, joint, fall):
    """An overloaded Dynamixel turns its own torque off; on the hung arm that joint falls.
    Nothing reaches Python except the measured positions; commanded-vs-measured catches it."""
    res = _run(rig, lambda env: rig.hw.arms["right"].overload(joint, fall))
    lim = res["backend"].config.safety
    assert res["info"]["aborted"].startswith(f"arm right {joint}: ")
    assert "from its command for 5 steps" in res["info"]["aborted"]
    # fall at up to 2 rad/s (20 rad/s^2): 0.3 rad take at most 0.25 s, then tracking_steps steps
    assert res["delay_s"] <= 0.25 + (lim.tracking_steps + 1) * DT + 1e-9
    log = _check_safe_stop(rig, res, failed=("right",))
    assert any(e["kind"] == "diagnosis" and f"'{joint}': 32" in e["reason"] for e in log)  # overload bit


def test_bus_failure_fresh_messages_of_zeros_stop_in_the_same_step(rig):
    """xs_driver's sync read fails: it keeps publishing, every position decoded from zeroed
    buffers (-pi on the X-series), velocities and currents 0, with fresh stamps."""
    res = _run(rig, lambda env: rig.hw.arms["right"].bus_failure())
    assert res["info"]["aborted"].startswith("arm right: joint_states decoded from zeroed buffers")
    assert res["abort_step"] == FAULT_STEP
    _check_safe_stop(rig, res, failed=("right",))


def test_gripper_overload_stops_and_the_next_reset_reboots_it(rig):
    """The gripper's motor shuts its torque off: it no longer follows and draws no current.
    The stop comes within tracking_steps of the error passing its limit; the next reset
    reboots the gripper and it follows again."""
    def action(k, home):
        a = home.copy()
        a[6] = 1.0 - min(1.0, max(0, k - FAULT_STEP) * 0.05)  # close the gripper slowly
        return a

    res = _run(rig, lambda env: rig.hw.arms["right"].overload("gripper"), action=action)
    lim = res["backend"].config.safety
    assert res["info"]["aborted"].startswith("arm right gripper: ")
    assert "turned torque off" in res["info"]["aborted"]
    # the command passes the gripper's limit after 0.25 / 0.05 = 5 steps, then tracking_steps more
    assert res["abort_step"] - FAULT_STEP <= math.ceil(lim.max_gripper_tracking_error / 0.05) + lim.tracking_steps + 1
    _check_safe_stop(rig, res, failed=("right",))


def test_the_next_reset_reboots_an_overloaded_gripper(rig):
    """Episode 1: the gripper overloads and the episode stops. Reset: the gripper is rebooted
    (error cleared, torque on, current limit kept) and episode 2 closes it as commanded."""
    rig.answers = ["", "0", "n", "", "", "0", "n", ""]
    env = rig.make_env()
    env.reset(seed=0)
    fake = rig.hw.arms["right"]
    home = env.unwrapped.backend.guard.home_target()
    fake.overload("gripper")
    for k in range(40):
        a = home.copy()
        a[6] = 0.0
        _, _, term, _, info = env.step(a)
        if term:
            break
    assert term and "gripper" in info["aborted"]
    env.unwrapped.finish_episode()
    assert fake.motors["gripper"].error
    env.reset(seed=1)
    assert not fake.motors["gripper"].error and fake.motors["gripper"].torque
    assert fake.motors["gripper"].regs["Current_Limit"] == round(800 / 2.69)  # EEPROM: survives the reboot
    for k in range(40):
        a = home.copy()
        a[6] = 0.3
        _, _, term, _, info = env.step(a)
        assert not term, info["aborted"]
    assert abs(env.unwrapped.backend._measured[6] - 0.3) < 0.05  # commanded 0.3 reads back 0.3
    env.unwrapped.finish_episode()
    env.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fault=st.sampled_from(["kill_sdk", "limp", "bus", "gripper", "nan", "estop"]),
       at=st.integers(0, 30), amp=st.floats(0.0, 3.0), seed=st.integers(0, 2 ** 16))
def test_whatever_the_fault_and_the_policy_nothing_unsafe_is_commanded(options, fault, at, amp, seed):
    """Hypothesis: a random policy (jumps up to `amp` rad around home), a random fault at a
    random step: the episode stops, every command sent is inside the limits and the rate
    limit (or a restart from the measured pose), the failed arm gets nothing after its stop."""
    rig = Rig(options)
    rng = np.random.default_rng(seed)
    rig.answers = ["", "0", "n", ""]
    env = rig.make_env()
    backend = env.unwrapped.backend
    env.reset(seed=0)
    home = backend.guard.home_target()
    fake = rig.hw.arms["right"]
    n_fault, term = None, False
    for k in range(at + 80):
        if k == at:
            n_fault = len(fake.arm_commands())
            {"kill_sdk": fake.kill_sdk, "limp": lambda: fake.overload("elbow"), "bus": fake.bus_failure,
             "gripper": lambda: fake.overload("gripper"), "nan": lambda: None,
             "estop": lambda: backend.estop.trigger("emergency stop: test")}[fault]()
        a = home + rng.uniform(-amp, amp, 7)
        if fault == "nan" and k >= at:
            a[2] = np.nan
        if fault == "gripper" and k >= at:
            a[6] = 0.0
        _, _, term, _, info = env.step(a)
        if term:
            break
    env.unwrapped.finish_episode()
    env.close()
    rig.hw.release()
    assert term, f"fault {fault} did not stop the episode"
    assert_commands_safe(fake, "right", backend.config.safety)
    if fault in ("kill_sdk", "limp", "bus", "gripper"):
        assert len(fake.arm_commands()) - n_fault <= k - at + 1  # nothing after the stop


# ---- cameras: what librealsense and the Aria SDK really do ---------------------------------
def _steps_for(threshold_s: float, frame_period_s: float) -> int:
    return math.ceil((threshold_s + frame_period_s) / DT) + 1


@pytest.mark.parametrize("camera,mode,text", [
    ("right_wrist_img", "unplugged", " s old"),
    ("right_wrist_img", "reconnect", " s old"),
    ("right_wrist_img", "lagging", "by its device timestamp"),
    ("right_wrist_img", "same_image", "identical image"),
    ("front_img_1", "dropped", " s old"),
    ("front_img_1", "lagging", "by its device timestamp"),
])
def test_camera_faults_stop_within_a_step_of_the_threshold(rig, camera, mode, text):
    res = _run(rig, lambda env: rig.hw.camera(camera).inject(mode, rig.clock.now()))
    limits = res["backend"].config.safety
    period = 1 / 30 if camera == "front_img_1" else 1 / 60
    # lagging: the backlog grows at 0.5 s/s, so it passes stale_after_s after 2 x stale_after_s
    threshold = 2 * limits.stale_after_s if mode == "lagging" else (
        limits.frozen_after_s if mode == "same_image" else limits.stale_after_s)
    assert FAULT_STEP < res["abort_step"] <= FAULT_STEP + _steps_for(threshold, period)
    assert res["info"]["aborted"].startswith(f"camera {camera}:") and text in res["info"]["aborted"]
    _check_safe_stop(rig, res)


def test_a_reconnected_realsense_with_reset_frame_numbers_stops(options):
    """A reconnect faster than stale_after_s: the frame numbers restart, which stops too."""
    rig = Rig(dict(options, safety={"stale_after_s": 2.0, "frozen_after_s": 2.0}))
    res = _run(rig, lambda env: rig.hw.camera("right_wrist_img").inject("reconnect", rig.clock.now(), gap_s=0.2))
    assert "frame numbers went back" in res["info"]["aborted"]
    assert res["delay_s"] <= 0.2 + 2 * DT + 1 / 60


def test_aria_failure_callback_stops_before_the_staleness_limit(options):
    """The SDK reports the lost stream (`on_streaming_client_failure`) 1 s after the drop;
    with a looser staleness limit that callback is what stops the episode."""
    rig = Rig(dict(options, safety={"stale_after_s": 3.0, "frozen_after_s": 3.0}))
    res = _run(rig, lambda env: rig.hw.aria.inject("dropped", rig.clock.now()))
    assert res["info"]["aborted"].startswith("camera front_img_1 (Aria): streaming client failed")
    assert res["delay_s"] <= 1.0 + 2 * DT
    assert rig.hw.aria.callback_threads == {"fake-aria-sdk"}  # callbacks came on the SDK's thread


def test_stepping_after_an_abort_is_refused_until_reset(rig):
    rig.answers = ["", "0", "n", "", ""]
    env = rig.make_env()
    env.reset(seed=0)
    home = env.unwrapped.backend.guard.home_target()
    bad = home.copy()
    bad[0] = np.inf
    _, _, term, _, info = env.step(bad)
    assert term
    n = len(rig.hw.arms["right"].sent)
    with pytest.raises(RuntimeError, match="aborted .* call reset"):
        env.step(home)
    assert len(rig.hw.arms["right"].sent) == n
    env.unwrapped.finish_episode()
    env.reset(seed=1)  # a new episode works
    _, _, term, _, _ = env.step(home)
    assert not term
    env.close()


# ---- start-up: the real cause, everything released -----------------------------------------
def test_absent_xs_sdk_times_out_with_its_name_and_releases_everything(rig):
    """InterbotixManipulatorXS waits for xs_sdk forever; the backend gives up after
    driver_timeout_s naming the robot, and the failed start-up raises that (no NameError
    from robot_shutdown, which was never started)."""
    rig.hw.sdk_running["follower_right"] = False
    t0 = rig.clock.now()
    with pytest.raises(UserError, match=r"arm right: no xs_sdk answered under /follower_right within 10 s"):
        rig.make_env()
    assert rig.clock.now() - t0 == pytest.approx(10.0)
    assert rig.hw.nodes_started == 0 and not rig.hw.started
    rig.hw.release()


def test_failed_aria_start_releases_the_stream_and_reports_the_cause(rig):
    rig.hw.aria.calibration_broken = True
    with pytest.raises(UserError, match="calibration did not parse .*returned None"):
        rig.make_env()
    aria = rig.hw.aria
    assert not aria.streaming and not aria.connected and aria.observer is None  # nothing left running
    assert rig.hw.nodes_started == 0  # the ROS node was shut down


def test_a_second_backend_in_one_process_is_one_clear_line(rig):
    rig.answers = [""]
    env = rig.make_env()
    env.close()
    with pytest.raises(UserError, match="one global ROS node per process"):
        rig.make_env()


def test_an_arm_still_faulty_at_reset_stops_the_reset_with_its_reason(rig):
    """xs_sdk died during episode 1; the reset cannot reboot the gripper (the service call
    times out) and says so in one line."""
    res = _run(rig, lambda env: rig.hw.arms["right"].kill_sdk())
    assert "joint_states frozen" in res["info"]["aborted"]
    rig2 = Rig(rig.options)
    rig2.answers = [""]
    env = rig2.make_env()
    env.reset(seed=0)
    rig2.hw.arms["right"].kill_sdk()
    with pytest.raises(UserError, match=r"arm right: robot_reboot_motors.* did not return within 10 s at reset"):
        env.reset(seed=1)
    env.close()
    rig2.hw.release()


def test_a_joint_limp_before_the_reset_stops_the_move_home_with_its_reason(rig):
    rig.answers = [""]
    env = rig.make_env()
    rig.hw.arms["right"].overload("elbow")
    with pytest.raises(UserError, match=r"did not reach home at reset \(arm\(s\) \['right'\] left alone \(arm right "
                                        r"(elbow: .* from its command|elbow: measured .* outside its limits)"):
        env.reset(seed=0)
    assert_commands_safe(rig.hw.arms["right"], "right", env.unwrapped.backend.config.safety)
    env.close()


def test_a_d405_without_frames_at_start_up_releases_it_and_the_cameras_before_it(rig):
    """wait_for_frames raises after start_timeout_s: one line; that pipeline is stopped and
    the Aria stream started before it is released too."""
    cam = rig.hw.camera("right_wrist_img")
    cam.inject("reconnect", rig.clock.now() - 0.01, gap_s=60.0)  # re-enumerating for a minute
    with pytest.raises(UserError, match=r"camera right_wrist_img \(D405 serial D405-R\) did not start: "
                                        r"Frame didn't arrive within 5000"):
        rig.make_env()
    assert not cam.streaming
    assert not rig.hw.aria.streaming and not rig.hw.aria.connected
    assert rig.hw.nodes_started == 0


def test_interbotix_refusing_a_target_stops_and_homes_the_other_arm(rig):
    """set_joint_positions returns False (arm.py's own limit / speed check; here its cached
    moving_time was changed under us to 2 ms, so a 0.016 rad step is 8 rad/s): nothing
    is published for that arm, the episode stops naming it, the other arm goes home."""
    def inject(env):
        rig.hw.arms["left"].arm.moving_time = 0.002

    res = _run(rig, inject, env_id="egogym/HandOver-v0")
    assert res["abort_step"] == FAULT_STEP
    assert res["info"]["aborted"].startswith("arm left: sending a command raised RuntimeError: set_joint_positions "
                                             "refused the target")
    _check_safe_stop(rig, res, arms=("left", "right"), failed=("left",))
