"""Teleoperated demos on the fake robot: the leaders drive the followers through the guard,
takes are kept / discarded at the console, demos land in the sim's HDF5 format, a killed
or quit session keeps its demos and resumes, and `egogym collect --embodiment real` runs."""
from __future__ import annotations

import io
import json
import sys

import h5py
import numpy as np
import pytest

from egogym.core import geometry, kinematics
from egogym.core.errors import UserError
from egogym.data.commands import validate_file
from egogym.real.console import OperatorQuit
from egogym.pipelines.teleop import CapsuleMasker, TeleopRecorder, make_masker
from egogym.core.spec import EGOMIMIC

from egogym.real.safety import SafetyLimits

from .conftest import SIZE, Rig, assert_commands_safe

LEADER_RANGE = (-0.8, 0.5)


class FakeMasker:
    """Same interface as the SAM2 arm masker: the bounding box of the finite, in-image points."""

    def __init__(self):
        self.calls: list[np.ndarray] = []

    def mask(self, image, points_uv):
        self.calls.append(np.asarray(points_uv))
        h, w = image.shape[:2]
        pts = np.asarray(points_uv, float)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        pts = pts[geometry.in_image(pts, h, w)]
        out = np.zeros((h, w), bool)
        if len(pts):
            c0, r0 = np.floor(pts.min(0)).astype(int)
            c1, r1 = np.ceil(pts.max(0)).astype(int)
            out[r0:r1 + 1, c0:c1 + 1] = True
        return out


@pytest.fixture
def teleop_options(options):
    return dict(options, leader_gripper_range={"left": list(LEADER_RANGE), "right": list(LEADER_RANGE)})


def _recorder(rig, out, masker=None, **kw):
    opts = dict(rig.options, drivers=rig.hw.drivers, clock=rig.clock)
    return TeleopRecorder(out, opts, masker or FakeMasker(), image_size=SIZE, input_fn=rig.input_fn,
                          print_fn=lambda *a: None, **kw)


def test_takes_are_recorded_through_the_guard_into_the_robot_schema(teleop_options, tmp_path):
    rig = Rig(teleop_options)
    # demo 0 kept; demo 1: first take discarded, second kept
    rig.answers = ["", "y", "first take", "", "n", "", "keep", ""]
    masker = FakeMasker()
    out = tmp_path / "real.hdf5"
    rec = _recorder(rig, out, masker, max_steps=20)
    try:
        names = rec.run(2)
        guard = rec.backend.guard
        lower, upper, step = guard.lower, guard.upper, guard.max_step
    finally:
        rec.close()
    assert names == ["demo_0", "demo_1"]
    assert sum("Keep this take" in p for p in rig.prompts) == 3
    assert validate_file(out, deep=True)[0] == []
    leader = rig.hw.leaders["right"]
    assert leader.core.torque[("group", "arm")] is False  # the leader is moved by hand
    with h5py.File(out, "r") as f:
        data = f["data"]
        assert data.attrs["embodiment"] == "real-vx300s" and data.attrs["domain"] == "robot"
        assert json.loads(data.attrs["env_args"])["source"] == "teleop"
        g = data["demo_0"]
        assert g.attrs["num_samples"] == 20 and g.attrs["episode"] == 0 and g.attrs["notes"] == "first take"
        assert data["demo_1"].attrs["episode"] == 1
        act = g["actions"][()]
        obs = {k: g["obs"][k][()] for k in g["obs"]}
    assert set(obs) == {"front_img_1", "front_img_1_masked", "front_img_1_line", "right_wrist_img",
                        "joint_positions", "ee_pose"}
    assert obs["front_img_1"].shape == (20,) + SIZE + (3,)
    # the measured joints follow the commands (the fake follower lags by its time-based profile)
    lim = SafetyLimits()
    assert np.all(np.abs(obs["joint_positions"][1:, :6] - act[:-1, :6]) < lim.max_tracking_error)
    assert np.ptp(act[:, 0]) > 0.01  # the waist moved with the leader
    assert np.all((act >= lower - 1e-12) & (act <= upper + 1e-12))
    # ee_pose: forward kinematics of the measured joints through the calibration's T_cam_base
    T = np.asarray(rec.env.calibration.T_cam_base["right"])
    for t in (0, 19):
        p = kinematics.pinch_in_base(EGOMIMIC.arm("right"), obs["joint_positions"][t, :6])
        np.testing.assert_allclose(obs["ee_pose"][t], geometry.transform_points(T, p), atol=1e-9)
    # masks come from the masker (prompted with the projected keypoints), the line is red
    assert len(masker.calls) == 40 and masker.calls[0].shape == (8, 2)
    m = np.all(obs["front_img_1_masked"] == 0, axis=-1) & np.any(obs["front_img_1"] != 0, axis=-1)
    assert m.any()
    red = np.all(obs["front_img_1_line"] == (255, 0, 0), axis=-1)
    assert red.any()
    # every command the follower received is inside the limits and within one step of the last
    sent = rig.hw.arms["right"].arm_commands()
    assert np.all((sent >= lower[:6] - 1e-12) & (sent <= upper[:6] + 1e-12))
    assert_commands_safe(rig.hw.arms["right"], "right", SafetyLimits())


def test_wild_leader_never_drives_the_follower_out_of_limits_and_nan_discards(teleop_options, tmp_path):
    rig = Rig(teleop_options)
    home = EGOMIMIC.arm("right").home_command
    rng = np.random.default_rng(0)
    wild = np.concatenate([np.tile(home, (5, 1)), rng.uniform(-9, 9, (40, 7))])  # synced, then wild jumps
    wild_nan = wild.copy()
    wild_nan[20, 3] = np.nan
    rig.hw.leaders.clear()
    rig.answers = ["", "y", "", ""]  # take 1 kept; take 2 stops (NaN) and is discarded; then q
    out = tmp_path / "real.hdf5"
    rec = _recorder(rig, out, max_steps=30)
    try:
        leader = rig.hw.leaders["right"]
        leader.script(wild)
        assert rec.run(1) == ["demo_0"]
        guard = rec.backend.guard
        sent = rig.hw.arms["right"].arm_commands()
        assert np.all((sent >= guard.lower[:6] - 1e-12) & (sent <= guard.upper[:6] + 1e-12))
        assert_commands_safe(rig.hw.arms["right"], "right", SafetyLimits())
        assert guard.clamped_steps > 0
        leader.script(wild_nan)
        rig.answers = ["", "q"]
        n_before = len(sent)
        with pytest.raises(OperatorQuit):
            rec.run(2)
        stops = rec.backend.stop_log.entries
        assert any(e["reason"].startswith("non-finite command: right forearm_roll") for e in stops)
        after = rig.hw.arms["right"].arm_commands()[n_before:]
        assert np.all(np.isfinite(after))
    finally:
        rec.close()
    with h5py.File(out, "r") as f:
        assert sorted(f["data"].keys()) == ["demo_0"]  # the stopped take was not written


def test_leader_failure_stops_the_take_and_homes_the_follower(teleop_options, tmp_path):
    rig = Rig(teleop_options)
    rig.answers = ["", "q"]
    rec = _recorder(rig, tmp_path / "real.hdf5", max_steps=40)
    try:
        leader = rig.hw.leaders["right"]
        orig = leader.current

        def failing():
            if leader.reads > 15:
                leader.fail_reads = True
            return orig()

        leader.current = failing
        with pytest.raises(OperatorQuit):
            rec.run(1)
        reasons = [e["reason"] for e in rec.backend.stop_log.entries]
        assert any(r.startswith("leader arm: reading joint states raised RuntimeError") for r in reasons)
        np.testing.assert_allclose(rec.backend.guard.sent, rec.backend.guard.home_target(), atol=1e-9)
    finally:
        rec.close()
    with h5py.File(tmp_path / "real.hdf5", "r") as f:
        assert [k for k in f["data"].keys() if k.startswith("demo")] == []


def test_quit_keeps_demos_and_resume_records_the_rest(teleop_options, tmp_path):
    out = tmp_path / "real.hdf5"
    rig = Rig(teleop_options)
    rig.answers = ["", "y", "", "q"]
    rec = _recorder(rig, out, max_steps=10)
    try:
        with pytest.raises(KeyboardInterrupt):
            rec.run(3)
    finally:
        rec.close()
    before = validate_file(out)[0]
    assert before == []
    with pytest.raises(UserError, match="--resume"):
        _recorder(Rig(teleop_options), out, max_steps=10)
    rig2 = Rig(teleop_options)
    rig2.answers = ["", "y", "", "", "y", ""]
    rec2 = _recorder(rig2, out, max_steps=10, resume=True)
    try:
        assert rec2.missing(3) == [1, 2]
        assert rec2.run(3) == ["demo_1", "demo_2"]
    finally:
        rec2.close()
    with h5py.File(out, "r") as f:
        assert sorted(int(f["data"][d].attrs["episode"]) for d in f["data"] if d.startswith("demo")) == [0, 1, 2]


def test_missing_leader_gripper_range_is_one_line(options, tmp_path):
    rig = Rig(options)
    with pytest.raises(UserError, match="leader_gripper_range has no entry for arm 'right'"):
        _recorder(rig, tmp_path / "x.hdf5")


def test_sam2_arm_masker_clicks_the_keypoints_inside_the_image():
    from egogym.data.sam2_masks import Sam2HandMasker
    from egogym.pipelines.teleop import Sam2ArmMasker

    class Predictor:  # SAM2ImagePredictor's interface
        def set_image(self, image):
            self.shape = image.shape[:2]

        def predict(self, point_coords, point_labels, multimask_output):
            self.points, self.labels = point_coords, point_labels
            m = np.zeros((1,) + self.shape, np.float32)
            m[0, :5] = 1.0
            return m, np.ones(1), None

    pred = Predictor()
    mask = Sam2ArmMasker(Sam2HandMasker(pred)).mask(
        np.zeros((24, 32, 3), np.uint8), np.array([[3.0, 4.0], [40.0, 5.0], [np.nan, np.nan], [10.0, 20.0]]))
    # In-image keypoints only, as SAM2 pixel indices (egogym's continuous coordinates - 0.5).
    np.testing.assert_allclose(pred.points, np.array([[3.0, 4.0], [10.0, 20.0]]) - 0.5)
    assert list(pred.labels) == [1, 1] and mask.dtype == bool and mask[:5].all() and not mask[5:].any()


def test_capsule_masker_and_sam2_needs_a_checkpoint():
    m = CapsuleMasker(radius_px=2.0).mask(np.zeros((24, 32, 3), np.uint8), np.array([[4.0, 4.0], [20.0, 4.0],
                                                                                      [np.nan, np.nan]]))
    assert m[4, 12] and m[5, 20] and not m[10, 12] and not m[4, 25]
    with pytest.raises(UserError, match="--sam2-checkpoint"):
        make_masker("sam2", None)


def test_cli_collect_real_with_fake_drivers(teleop_options, tmp_path, monkeypatch, capsys):
    from egogym.cli import main

    hw = tmp_path / "hardware.json"
    hw.write_text(json.dumps(teleop_options))
    out = tmp_path / "cli.hdf5"
    argv = ["collect", "--embodiment", "real", "--episodes", "1", "--out", str(out), "--hardware", str(hw),
            "--drivers", "fake", "--masker", "capsule", "--image-size", str(SIZE[0]), str(SIZE[1]),
            "--max-steps", "8", "--no-progress"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ny\nfrom the CLI\n"))
    assert main(argv) == 0
    assert "wrote 1 demo(s)" in capsys.readouterr().out
    assert validate_file(out, deep=True)[0] == []
    with h5py.File(out, "r") as f:
        assert f["data/demo_0"].attrs["num_samples"] == 8
        assert json.loads(f["data"].attrs["env_args"])["masker"] == "capsule"
    assert main(argv[:-1] + ["--no-progress"]) == 2  # exists without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(["collect", "--embodiment", "real", "--episodes", "1", "--out", str(tmp_path / "y.hdf5")]) == 2
    assert "--hardware" in capsys.readouterr().err
