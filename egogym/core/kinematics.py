"""Forward kinematics of the ViperX 300 S from the spec's joint declarations (numpy only).

Used by the real backend (ee_pose from joint readings), its hand-eye calibration, and the
policies' validation videos (the joint head's chunk drawn in Aria pixels).

The chain is the one `egogym.core.spec.VX300S_JOINTS` declares (and the MuJoCo twin is
built from): each joint's child body sits at `offset` (m) in its parent's frame and
rotates about `axis` (child frame) by the joint angle. The pinch point is
`gripper.pinch_offset` ahead of gripper_link along its x axis. Frames: an arm's base
frame is its `base_link` (z up along the first joint axis; on EgoMimic the base is
hung upside-down, which the calibration's T_cam_base accounts for).
"""
from __future__ import annotations

import numpy as np

from egogym.core import geometry
from egogym.core.arms import ANGLES_PER_ARM, Arms
from egogym.core.spec import ArmSpec, Calibration


def axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation by `angle` (rad) about the unit vector `axis` (Rodrigues)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    K = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + np.sin(angle) * K + (1.0 - np.cos(angle)) * (K @ K)


def link_poses(arm: ArmSpec, q: np.ndarray) -> np.ndarray:
    """T_base_link for each of the 6 joint bodies (shoulder_link .. gripper_link).

    q: (6,) joint angles (rad) in the spec's order. Returns (6, 4, 4)."""
    q = np.asarray(q, dtype=float)
    if q.shape[0] < len(arm.joints) or not np.all(np.isfinite(q[: len(arm.joints)])):
        raise ValueError(f"forward kinematics needs {len(arm.joints)} finite joint angles; got {q!r}")
    T = np.eye(4)
    out = []
    for j, angle in zip(arm.joints, q[: len(arm.joints)]):
        T = T @ geometry.make_transform(axis_rotation(np.asarray(j.axis, float), float(angle)), np.asarray(j.offset, float))
        out.append(T.copy())
    return np.stack(out)


def pinch_in_base(arm: ArmSpec, q: np.ndarray) -> np.ndarray:
    """The pinch point (m, (3,)) in the arm's base frame for joint angles q (rad, 6 or 7 values)."""
    T = link_poses(arm, q)[-1]
    return geometry.transform_points(T, np.array([arm.gripper.pinch_offset, 0.0, 0.0]))


def keypoints_in_base(arm: ArmSpec, q: np.ndarray) -> np.ndarray:
    """(8, 3) points along the arm (m, base frame): base origin, each joint body, pinch point.

    The same points `SimBackend.arm_keypoints` gives (there in the world frame)."""
    Ts = link_poses(arm, q)
    return np.concatenate([np.zeros((1, 3)), Ts[:, :3, 3], pinch_in_base(arm, q)[None]], axis=0)


def pinch_in_camera(arms: tuple[ArmSpec, ...], calibration: Calibration, joints: np.ndarray) -> np.ndarray:
    """Pinch points (m) in the Aria (`front_img_1`) camera frame, OpenCV axes.

    joints: (..., `Arms.joint_width`) in the env's layout of these arms (per arm 6 joints (rad)
    + gripper; the gripper does not move the pinch point). Returns (..., `Arms.xyz_width`), xyz
    per arm like `ee_pose`, through each arm's `calibration.T_cam_base` (which includes its mount).
    """
    joints = np.asarray(joints, dtype=float)
    layout = Arms.parse([arm.name for arm in arms])
    if joints.shape[-1] != layout.joint_width:
        raise ValueError(f"joints have {joints.shape[-1]} values; {len(arms)} arm(s) take {layout.joint_width}")
    flat = joints.reshape(-1, joints.shape[-1])
    out = []
    for i, arm in enumerate(arms):
        if arm.name not in calibration.T_cam_base:
            raise KeyError(f"calibration has no T_cam_base for arm {arm.name!r} (has {sorted(calibration.T_cam_base)})")
        p = np.stack([pinch_in_base(arm, q[Arms.joints(i)]) for q in flat])
        out.append(geometry.transform_points(np.asarray(calibration.T_cam_base[arm.name], float), p))
    return np.concatenate(out, axis=-1).reshape(joints.shape[:-1] + (layout.xyz_width,))


POSITION_JOINTS = (0, 1, 2)
"""The joints that place the pinch point (waist, shoulder, elbow); the wrist orients it."""


def position_ik(arm: ArmSpec, target_base: np.ndarray, q_init: np.ndarray, joints: tuple[int, ...] = POSITION_JOINTS,
                iterations: int = 12, tolerance: float = 1e-4, damping: float = 1e-3) -> tuple[np.ndarray, float]:
    """Joint angles that put the pinch point at `target_base` (m, the arm's base frame),
    moving only `joints` from `q_init` (6 or 7 values, rad; a 7th, the gripper, is kept).

    Damped least squares (Levenberg-Marquardt) on a finite-difference Jacobian, each step
    clipped to the spec's joint limits. Returns (q like q_init, final error in m); an
    unreachable target gives the closest reachable point and its error (never raises for
    reach). Numpy only, so that the policies layer needs no simulator for it."""
    q = np.array(q_init, dtype=float)
    target = np.asarray(target_base, dtype=float)
    lo, hi = arm.lower[:ANGLES_PER_ARM], arm.upper[:ANGLES_PER_ARM]
    idx = list(joints)
    err = target - pinch_in_base(arm, q)
    eps = 1e-5
    for _ in range(iterations):
        if np.linalg.norm(err) < tolerance:
            break
        J = np.empty((3, len(idx)))
        for c, j in enumerate(idx):
            dq = q.copy()
            dq[j] += eps
            J[:, c] = (pinch_in_base(arm, dq) - (target - err)) / eps
        step = np.linalg.solve(J.T @ J + damping * np.eye(len(idx)), J.T @ err)
        q[idx] = np.clip(q[idx] + step, lo[idx], hi[idx])
        err = target - pinch_in_base(arm, q)
    return q, float(np.linalg.norm(err))
