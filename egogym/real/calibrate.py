"""Hand-eye calibration of the real robot into a calibration file (never into code).

The procedure (docs/HARDWARE.md): fix an AprilTag at the pinch point of a gripper, move
the arm through N >= 6 well-spread poses, and at each pose record the joint angles and
the tag centre's position in the (undistorted, upright) Aria camera frame, e.g. from an
AprilTag detector's pose with the linear camera K. Forward kinematics gives the same
point in the arm's base frame; `solve_T_cam_base` fits the rigid transform between the
two point sets (least squares, Kabsch), and `write_calibration` stores it with the
intrinsics in the file `RealBackend` loads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from egogym.core import kinematics
from egogym.core.arms import ANGLES_PER_ARM
from egogym.real.devices import linear_intrinsics
from egogym.core.spec import ARIA_IMAGE_SIZE, Calibration, RobotSpec
from egogym.core.views import FRONT


def solve_T_cam_base(p_base: np.ndarray, p_cam: np.ndarray) -> tuple[np.ndarray, float]:
    """Rigid T (4x4) with p_cam ~ T @ p_base, and the RMS residual (m).

    p_base, p_cam: (N, 3) corresponding points (m), N >= 3 and not collinear."""
    a, b = np.asarray(p_base, float), np.asarray(p_cam, float)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3 or a.shape[0] < 3:
        raise ValueError(f"hand-eye: need two (N, 3) point sets with N >= 3; got {a.shape} and {b.shape}")
    ca, cb = a.mean(0), b.mean(0)
    H = (a - ca).T @ (b - cb)
    if np.linalg.matrix_rank(a - ca, tol=1e-6) < 2:
        raise ValueError("hand-eye: the poses are (nearly) collinear; spread the gripper over the workspace")
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, cb - R @ ca
    resid = b - (a @ R.T + T[:3, 3])
    return T, float(np.sqrt((resid ** 2).sum(1).mean()))


def pinch_points(spec: RobotSpec, arm: str, joints: np.ndarray) -> np.ndarray:
    """(N, 3) pinch points (m, base frame) for (N, >=6) joint angles (rad)."""
    return np.stack([kinematics.pinch_in_base(spec.arm(arm), q[:ANGLES_PER_ARM]) for q in np.asarray(joints, float)])


def write_calibration(path: str | Path, spec: RobotSpec, T_cam_base: Mapping[str, np.ndarray],
                      wrist_intrinsics: Mapping[str, np.ndarray], wrist_size: tuple[int, int] = ARIA_IMAGE_SIZE,
                      aria_size: tuple[int, int] = ARIA_IMAGE_SIZE) -> Calibration:
    """Save a calibration file: the Aria's linear camera K, each D405's K (as the device reports
    it, at wrist_size = (H, W)), and T_cam_base per arm."""
    K = {FRONT: linear_intrinsics(spec.camera(FRONT), aria_size)}
    sizes = {FRONT: tuple(aria_size)}
    for cam, k in wrist_intrinsics.items():
        spec.camera(cam)
        K[cam], sizes[cam] = np.asarray(k, float), tuple(wrist_size)
    cal = Calibration(K, sizes, {a: np.asarray(T, float) for a, T in T_cam_base.items()}, source=str(path))
    cal.save(path)
    return cal
