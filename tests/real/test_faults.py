"""Fault injection on the fake robot: every fault stops safely within one control step
(watchdog faults: within one step of their threshold), marks the episode aborted with
its reason, takes the working arms home, and never sends a command outside the limits."""
from __future__ import annotations

import json
import math
import os
import signal

import numpy as np
import pytest

from egogym.real.safety import EmergencyStop, SafetyLimits
from egogym.core.spec import EGOMIMIC

FAULT_STEP = 10
DT = 1.0 / EGOMIMIC.control_hz


def _commands_ok(fake_arm, arm_name: str, limits: SafetyLimits) -> None:
    """Every joint target the fake arm received is inside the limits and the rate limit."""
    arm = EGOMIMIC.arm(arm_name)
    q = fake_arm.arm_commands()
    assert len(q) > 0
    assert np.all(np.isfinite(q))
    assert np.all(q >= arm.lower[:6] + limits.joint_margin - 1e-9)
    assert np.all(q <= arm.upper[:6] - limits.joint_margin + 1e-9)
    assert np.all(np.abs(np.diff(q, axis=0)) <= limits.max_joint_step + 1e-9)
    g = fake_arm.gripper_commands()
    assert np.all((g >= min(fake_arm.gripper_motor_range)) & (g <= max(fake_arm.gripper_motor_range)))


def _run(rig, inject, env_id="egogym/ObjectInBowl-v0", action=None, **env_kw):
    """Reset, step a sweeping policy, inject the fault before step FAULT_STEP; return what happened."""
    rig.answers = ["", "1", "n", "note"]
    env = rig.make_env(env_id, **env_kw)
    u = env.unwrapped
    obs, _ = env.reset(seed=0)
    home = u.backend.guard.home_target()
    n_at_fault = None
    for k in range(200):
        if k == FAULT_STEP:
            inject(env)
            n_at_fault = {a: len(f.arm_commands()) for a, f in rig.hw.arms.items()}
        a = home + 0.3 * np.sin(0.1 * k) if action is None else action(k, home)
        obs, r, term, trunc, info = env.step(a)
        if term:
            break
    else:
        pytest.fail("the fault did not stop the episode")
    score = u.finish_episode()
    env.close()
    return {"abort_step": k, "info": info, "score": score, "home": home, "n_at_fault": n_at_fault, "obs": obs,
            "backend": u.backend}


def _check_safe_stop(rig, res, arms=("right",), failed=()):
    limits = res["backend"].config.safety
    assert res["info"]["aborted"] and res["score"].aborted == res["info"]["aborted"]
    for i, a in enumerate(arms):
        fake = rig.hw.arms[a]
        _commands_ok(fake, a, limits)
        if a in failed:
            continue
        # after the stop only the move home: every joint's distance to home never grows, ending at home
        home_q = res["home"][7 * i: 7 * i + 6]
        after = fake.arm_commands()[res["n_at_fault"][a] + (res["abort_step"] - FAULT_STEP):]
        dist = np.abs(after - home_q)
        assert np.all(np.diff(dist, axis=0) <= 1e-9)
        np.testing.assert_allclose(fake.position[:6], home_q, atol=1e-9)
    log = [json.loads(line) for line in open(os.path.join(rig.options["log_dir"], "stops.jsonl"))]
    assert any(e["reason"] == res["info"]["aborted"] for e in log)
    assert log[-1]["kind"] == "safe pose"


def _steps_for(threshold_s: float, frame_period_s: float) -> int:
    return math.ceil((threshold_s + frame_period_s) / DT) + 1


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


def test_emergency_stop_by_code_ctrl_c_and_key(rig, tmp_path):
    res = _run(rig, lambda env: env.unwrapped.backend.estop.trigger("emergency stop: test"))
    assert res["abort_step"] == FAULT_STEP and res["info"]["aborted"] == "emergency stop: test"
    _check_safe_stop(rig, res)

    # Ctrl-C: SIGINT delivered to this process during the episode
    res = _run(rig, lambda env: os.kill(os.getpid(), signal.SIGINT))
    assert res["abort_step"] == FAULT_STEP and res["info"]["aborted"] == "emergency stop: Ctrl-C"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    # a key on the operator's terminal (a pseudo-terminal here)
    master, slave = os.openpty()
    with os.fdopen(slave, "r") as tty_in:
        rig.options = dict(rig.options, estop=EmergencyStop(stdin=tty_in))
        res = _run(rig, lambda env: os.write(master, b" "))
    os.close(master)
    assert res["abort_step"] == FAULT_STEP and res["info"]["aborted"] == "emergency stop: key ' ' pressed"


def test_arm_exception_mid_episode_stops_and_homes_the_other_arm(rig):
    def inject(env):
        rig.hw.arms["left"].fail_after = rig.hw.arms["left"].n_commands

    res = _run(rig, inject, env_id="egogym/HandOver-v0")
    assert res["abort_step"] == FAULT_STEP
    assert res["info"]["aborted"].startswith("arm left: sending a command raised RuntimeError")
    _check_safe_stop(rig, res, arms=("left", "right"), failed=("left",))


@pytest.mark.parametrize("camera,mode,threshold", [
    ("right_wrist_img", "frozen", "frozen_after_s"),
    ("right_wrist_img", "same_image", "frozen_after_s"),
    ("right_wrist_img", "silent", "stale_after_s"),
    ("front_img_1", "frozen", "frozen_after_s"),
    ("front_img_1", "dropped", "stale_after_s"),
])
def test_camera_faults_stop_within_a_step_of_the_threshold(rig, camera, mode, threshold):
    res = _run(rig, lambda env: rig.hw.camera(camera).inject(mode, rig.clock.now()))
    limits = res["backend"].config.safety
    period = 1 / 30 if camera == "front_img_1" else 1 / 60
    assert FAULT_STEP < res["abort_step"] <= FAULT_STEP + _steps_for(getattr(limits, threshold), period)
    assert res["info"]["aborted"].startswith(f"camera {camera}:")
    _check_safe_stop(rig, res)


def test_dropped_realsense_stops_in_the_same_step(rig):
    res = _run(rig, lambda env: rig.hw.camera("right_wrist_img").inject("dropped", rig.clock.now()))
    assert res["abort_step"] == FAULT_STEP
    assert "camera right_wrist_img (D405 serial D405-R) dropped: device D405-R disconnected" in res["info"]["aborted"]
    _check_safe_stop(rig, res)


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
