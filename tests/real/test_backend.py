"""RealBackend through gymnasium.make with fakes: observations, the operator console,
start-up errors, and the property that no policy output reaches the arms out of limits."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egogym.core.errors import UserError
from egogym.real.console import OperatorConsole, OperatorQuit
from egogym.real.devices import MissingDriver, load_drivers
from egogym.core.spec import EGOMIMIC

from .conftest import SIZE, Rig, assert_commands_safe, write_calibration


def test_make_reset_step_observe(rig):
    rig.answers = ["", "2", "y", "toy bounced once"]
    env = rig.make_env()
    obs, info = env.reset(seed=3)
    assert set(obs) == {"front_img_1", "right_wrist_img", "joint_positions", "ee_pose"}
    assert obs["front_img_1"].shape == SIZE + (3,) and obs["front_img_1"].dtype == np.uint8
    assert obs["right_wrist_img"].shape == SIZE + (3,)
    assert env.observation_space.contains(obs)
    home = EGOMIMIC.arm("right").home_command
    b = env.unwrapped.backend
    lim = b.config.safety
    # measured at home within the tolerances of the verified move home (sag, lag)
    np.testing.assert_allclose(obs["joint_positions"][:6], np.clip(home, b.guard.lower, b.guard.upper)[:6],
                               atol=lim.home_tolerance)
    assert abs(obs["joint_positions"][6] - 1.0) <= lim.home_gripper_tolerance
    assert b.time == 0.0
    for k in range(25):
        obs, r, term, trunc, info = env.step(obs["joint_positions"] + 0.01)
        assert not term and info["aborted"] is None
    assert info["time_s"] == pytest.approx(25 / 50)
    # ee_pose is FK of the measured joints through the calibration's T_cam_base
    from egogym.core import geometry
    from egogym.core import kinematics

    p = kinematics.pinch_in_base(EGOMIMIC.arm("right"), obs["joint_positions"][:6])
    np.testing.assert_allclose(obs["ee_pose"], geometry.transform_points(b.calibration.T_cam_base["right"], p))
    score = env.unwrapped.finish_episode()
    assert (score.points, score.success, score.aborted, score.notes) == (2, True, None, "toy bounced once")
    assert score.terms["steps"] == 25 and score.terms["control_rate_hz"] == pytest.approx(50.0)
    assert any("operator" not in p and "Scene ready" in p for p in rig.prompts)
    ops = [json.loads(line) for line in open(f"{rig.options['log_dir']}/operator.jsonl")]
    assert ops == [{"episode": 0, "points": 2, "success": True, "aborted": None, "notes": "toy bounced once",
                    "terms": score.terms}]
    env.close()
    assert rig.hw.nodes_started == 0


def test_aria_undistortion_rotates_clockwise(rig):
    """A raw image whose rows carry their index shows them as columns, right to left."""
    rig.answers = [""]
    env = rig.make_env()
    env.reset(seed=0)
    cam = env.unwrapped.backend.camera_devices["front_img_1"]
    raw = np.zeros((48, 48, 3), np.uint8)
    raw[:, :, 0] = np.arange(48)[:, None] * 5  # row index, top to bottom
    up = cam.undistort(raw)
    assert up.shape == SIZE + (3,)
    centre_row = up[SIZE[0] // 2, :, 0].astype(int)
    assert (centre_row > 0).sum() > SIZE[1] // 2
    assert np.all(np.diff(centre_row[centre_row > 0]) <= 0)  # raw top row ends up on the right
    env.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-7, 7)),
                         min_size=7, max_size=7), min_size=1, max_size=15))
def test_no_command_outside_the_limits_whatever_the_policy(options, actions):
    rig = Rig(options)
    rig.answers = ["", "0", "n", ""]
    env = rig.make_env()
    env.reset(seed=0)
    for a in actions:
        _, _, term, _, info = env.step(np.array(a))
        if term:
            assert "non-finite" in info["aborted"]
            break
    env.unwrapped.finish_episode()
    env.close()
    assert_commands_safe(rig.hw.arms["right"], "right", env.unwrapped.backend.config.safety)


def test_bad_options_and_calibration_are_one_clear_line(rig, options, tmp_path):
    with pytest.raises(UserError, match="real backend option 'calibraton' is unknown; did you mean 'calibration'"):
        _make(rig, dict(options, calibraton="x"))
    bad = dict(options)
    del bad["gripper_motor_range"]
    with pytest.raises(UserError, match="needs 'gripper_motor_range'"):
        _make(rig, bad)
    with pytest.raises(UserError, match=r"max_tracking_error=0.3 rad is within the lag .* = 0.50 rad"):
        _make(rig, dict(options, moving_time=0.4))
    with pytest.raises(UserError, match=r"accel_time=0.3 s: at most half of moving_time=0.2 s"):
        _make(rig, dict(options, accel_time=0.3))
    with pytest.raises(UserError, match="d405_serials has no entry for camera 'right_wrist_img'"):
        _make(rig, dict(options, d405_serials={}))
    with pytest.raises(UserError, match="no calibration file"):
        _make(rig, dict(options, calibration=str(tmp_path / "missing.json")))
    T = np.eye(4)
    T[0, 0] = 2.0
    path = write_calibration(tmp_path / "scaled.json", {"left": T, "right": T})
    with pytest.raises(UserError, match=r"T_cam_base\['right'\] is not a 4x4 rigid transform"):
        _make(rig, dict(options, calibration=path))
    path = write_calibration(tmp_path / "no_right.json", {"left": np.eye(4)})
    with pytest.raises(UserError, match="no T_cam_base for arm 'right'"):
        _make(rig, dict(options, calibration=path))


def _make(rig, opts):
    import gymnasium as gym

    import egogym  # noqa: F401

    return gym.make("egogym/ObjectInBowl-v0", backend="real", image_size=SIZE,
                    backend_options=dict(opts, drivers=rig.hw.drivers, clock=rig.clock, input_fn=rig.input_fn))


def test_hardware_file_supplies_options(rig, options, tmp_path):
    hw = tmp_path / "hardware.json"
    from_file = {k: v for k, v in options.items() if k != "calibration"}
    from_file["gripper_motor_range"] = {"right": [-0.5, 1.4], "left": [-0.6, 1.45]}
    from_file["moving_time"] = 0.22
    hw.write_text(json.dumps(from_file))
    rig.answers = [""]
    env = _make(rig, {"hardware": str(hw), "calibration": options["calibration"], "moving_time": 0.21})
    b = env.unwrapped.backend
    assert b.config.gripper_motor_range == {"right": (-0.5, 1.4), "left": (-0.6, 1.45)}  # from the file
    assert b.config.d405_serials == options["d405_serials"]
    assert b.config.moving_time == 0.21  # an option overrides the file
    assert b.arm_drivers["right"].gripper.motor_range == (-0.5, 1.4)  # and reaches the driver
    env.reset(seed=0)
    env.close()
    with pytest.raises(UserError, match="hardware file .*missing.json does not exist"):
        _make(Rig(options), {"hardware": str(tmp_path / "missing.json"), "calibration": options["calibration"]})


def test_missing_vendor_packages_say_what_to_install():
    with pytest.raises(MissingDriver) as e:
        load_drivers(arms=True, aria=True, realsense=True)
    msg = str(e.value)
    assert "\n" not in msg
    assert "comes with the Interbotix ROS 2" in msg and "pip install projectaria-client-sdk" in msg
    assert "pip install pyrealsense2" in msg


def test_console_reprompts_and_quits():
    answers = iter(["x", "", "-1", "three", "3", "maybe", "y", "ok"])
    out = []
    c = OperatorConsole(lambda p: next(answers), out.append)
    from egogym.tasks import make_task

    task = make_task("object_in_bowl")
    c.prepare(task, 0)
    s = c.score(task, None, 40.0)
    assert (s.points, s.success, s.notes) == (3, True, "ok")
    assert any("'x': press Enter" in o for o in out) and any("'three': enter a whole number" in o for o in out)
    assert any(task.operator_instructions(None) in o for o in out)
    answers = iter(["a", "toy fell off the table", "reset it"])
    s = OperatorConsole(lambda p: next(answers), out.append).score(task, None, 10.0)
    assert s.aborted == "operator: toy fell off the table" and s.notes == "reset it"
    with pytest.raises(OperatorQuit):
        OperatorConsole(lambda p: "q", out.append).prepare(task, 1)
    with pytest.raises(OperatorQuit, match="EOF"):
        OperatorConsole(lambda p: (_ for _ in ()).throw(EOFError()), out.append).prepare(task, 1)


def test_derived_aria_views_come_from_the_twin_at_the_measured_joints(options):
    """The real backend computes front_img_1_masked / _line at run time (egogym.sim.arm_views):
    the same views the twin gives for the measured joints through this robot's calibration."""
    from egogym.sim.arm_views import TwinArmViews

    rig = Rig(options)
    rig.answers = ["", "0", "n", ""]
    env = rig.make_env(max_episode_steps=5, cameras=("front_img_1", "front_img_1_masked", "front_img_1_line",
                                                     "right_wrist_img"))
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs) >= {"front_img_1", "front_img_1_masked", "front_img_1_line"}
        b = env.unwrapped.backend
        twin = TwinArmViews(b.spec, b.calibration, b.image_size, b.arms)
        masked, line = twin(obs["front_img_1"], obs["joint_positions"])
        np.testing.assert_array_equal(obs["front_img_1_masked"], masked)
        np.testing.assert_array_equal(obs["front_img_1_line"], line)
        assert obs["front_img_1_line"].shape == obs["front_img_1"].shape
        assert twin.mask(obs["joint_positions"]).sum() > 0  # the arm is in view: the views are not trivial
        twin.close()
    finally:
        env.close()


def test_the_operator_sets_up_the_seeds_placement(rig, capsys):
    """On the robot the console shows the placement the task draws for the seed, and the record's
    start is that placement: the same one a sim episode of the seed has (what `egogym compare`
    pairs)."""
    import gymnasium as gym

    rig.answers = [""]
    env = rig.make_env(task_options={"distractors": ["mug"]})
    _, info = env.reset(seed=100004)
    shown = capsys.readouterr().out
    sim = gym.make("egogym/ObjectInBowl-v0", image_size=(16, 16), cameras=(), task_options={"distractors": ["mug"]})
    _, sim_info = sim.reset(seed=100004)
    sim.close()
    start = sim_info["start"]
    assert info["start"] == start and start["distractor"] == "mug"
    for x, y in (start["toy_xy"], start["bowl_xy"], start["distractor_xy"]):
        assert f"x={x:.2f} m, y={y:+.2f} m" in shown
    assert f"the {start['toy_colour']} {start['toy']}" in shown
    env.close()
