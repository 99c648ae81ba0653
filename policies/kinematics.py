"""Joint chunks into the Aria camera frame (numpy only, no torch).

Used to draw the joint head's chunk (purple) in validation videos: joints -> pinch
point in the arm's base frame (`egogym.real.kinematics.pinch_in_base`, the chain of
`egogym.spec.JointSpec` offsets and axes plus `GripperSpec.pinch_offset`) -> Aria
camera frame (`Calibration.T_cam_base[arm]`, which includes the arm's mounting) ->
pixels (`egogym.geometry.project`, done by the caller).
"""
from __future__ import annotations

import numpy as np

from egogym import geometry
from egogym.real.kinematics import pinch_in_base
from egogym.spec import ArmSpec, Calibration


def pinch_in_camera(arms: tuple[ArmSpec, ...], calibration: Calibration, joints: np.ndarray) -> np.ndarray:
    """Pinch points (m) in the Aria (`front_img_1`) camera frame, OpenCV axes.

    joints: (..., 7 * len(arms)) in the env's layout (per arm 6 joints (rad) + gripper;
    the gripper does not move the pinch point). Returns (..., 3 * len(arms)), xyz per arm
    like `ee_pose`.
    """
    joints = np.asarray(joints, dtype=float)
    if joints.shape[-1] != 7 * len(arms):
        raise ValueError(f"joints have {joints.shape[-1]} values; {len(arms)} arm(s) take {7 * len(arms)}")
    flat = joints.reshape(-1, joints.shape[-1])
    out = []
    for i, arm in enumerate(arms):
        if arm.name not in calibration.T_cam_base:
            raise KeyError(f"calibration has no T_cam_base for arm {arm.name!r} (has {sorted(calibration.T_cam_base)})")
        p = np.stack([pinch_in_base(arm, q[7 * i: 7 * i + 7]) for q in flat])
        out.append(geometry.transform_points(np.asarray(calibration.T_cam_base[arm.name], float), p))
    return np.concatenate(out, axis=-1).reshape(joints.shape[:-1] + (3 * len(arms),))
