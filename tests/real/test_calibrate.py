"""Hand-eye calibration: recovers a known T_cam_base from FK points; the file loads in the backend."""
from __future__ import annotations

import numpy as np
import pytest

from egogym.core import geometry
from egogym.real.backend import load_checked_calibration
from egogym.real.calibrate import pinch_points, solve_T_cam_base, write_calibration
from egogym.core.kinematics import axis_rotation
from egogym.core.spec import EGOMIMIC


def test_hand_eye_recovers_the_transform(tmp_path):
    rng = np.random.default_rng(1)
    arm = EGOMIMIC.arm("right")
    q = rng.uniform(arm.lower[:6] * 0.5, arm.upper[:6] * 0.5, size=(12, 6))
    p_base = pinch_points(EGOMIMIC, "right", q)
    T_true = geometry.make_transform(axis_rotation(np.array([1.0, 0.2, 0.1]), 2.5), np.array([0.1, -0.3, 0.7]))
    p_cam = geometry.transform_points(T_true, p_base) + rng.normal(0, 0.001, p_base.shape)
    T, rms = solve_T_cam_base(p_base, p_cam)
    np.testing.assert_allclose(T, T_true, atol=5e-3)
    assert rms < 0.003
    K = np.array([[380.0, 0, 320], [0, 380.0, 240], [0, 0, 1]])
    write_calibration(tmp_path / "c.json", EGOMIMIC, {"right": T}, {"right_wrist_img": K})
    cal = load_checked_calibration(str(tmp_path / "c.json"), EGOMIMIC, ("right",), ("front_img_1", "right_wrist_img"),
                                   (240, 320))
    np.testing.assert_allclose(cal.K("right_wrist_img"), np.diag([0.5, 0.5, 1]) @ K)
    np.testing.assert_allclose(cal.T_cam_base["right"], T)
    with pytest.raises(ValueError, match="collinear"):
        solve_T_cam_base(np.outer(np.arange(5), [1.0, 0, 0]), np.outer(np.arange(5), [0, 1.0, 0]))
