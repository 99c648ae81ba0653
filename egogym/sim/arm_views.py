"""The masked and line Aria views on the real robot, rendered from the twin.

EgoMimic's co-trained policy reads `front_img_1_line`: the Aria image with the arms blacked
out and a red line along them. On hardware there is no segmentation to black them out with,
so `TwinArmViews` poses the MuJoCo twin's arms at the measured joint angles, places the
twin's Aria where the real calibration says the camera is (`T_cam_base` of the reference
arm, `K` of `front_img_1`), renders the arms' segmentation, and draws the mask and the line
with the same function the sim and the human data use (`egogym.core.views.mask_and_line`).
Its cost is one small segmentation render per policy query (no network), which is why it is
the default here rather than SAM2 prompted with projected keypoints (the recorder's option).

Approximations, stated: the twin's links are capsules and boxes, so the mask follows the
real arm's silhouette to within the difference of shapes (a few pixels at 480x640); the
principal point is taken at the image centre (MuJoCo's camera model), as in the linear
Aria camera of the spec; arms that are not driven are drawn at their home pose.
"""
from __future__ import annotations

import math

import mujoco
import numpy as np
from dm_control import mjcf

from egogym.core import geometry, kinematics
from egogym.core.arms import Arms
from egogym.core.spec import Calibration, RobotSpec, check_image_size
from egogym.core.views import FRONT, join_polylines, mask_and_line
from egogym.sim.scene import (arm_geoms, arm_qpos_addresses, body_pose, build_robot_scene, camera_element_name,
                              own_renderers)


class TwinArmViews:
    """Callable (front image, measured joints) -> (masked, line) images.

    spec: the robot; calibration: the real robot's (intrinsics of `front_img_1`, T_cam_base
    of every arm in `arms`); image_size: (H, W) px of the Aria images; arms: the driven arms,
    layout order (joints come as 7 per arm: 6 angles in rad, the gripper in [0, 1]).
    """

    def __init__(self, spec: RobotSpec, calibration: Calibration, image_size: tuple[int, int],
                 arms: tuple[str, ...]):
        self.spec, self.arms = spec, tuple(arms)
        self.image_size = check_image_size(image_size)
        missing = [a for a in self.arms if a not in calibration.T_cam_base]
        if missing:
            raise ValueError(f"calibration has no T_cam_base for arm(s) {missing}: the line view needs them")
        self.calibration = calibration
        self.K = calibration.K(FRONT, self.image_size)
        self.physics = mjcf.Physics.from_mjcf_model(build_robot_scene(spec, offscreen_size=self.image_size))
        m, d = self.physics.model.ptr, self.physics.data.ptr
        self.model, self.data = m, d
        self._qadr = arm_qpos_addresses(m, spec)
        self._cam = m.camera(camera_element_name(spec, FRONT)).id
        h = self.image_size[0]
        m.cam_fovy[self._cam] = math.degrees(2.0 * math.atan(0.5 * h / self.K[1, 1]))
        mujoco.mj_kinematics(m, d)
        ref = self.arms[-1]
        T_world_base = body_pose(d, m.body(f"{ref}/base_link").id)
        T_world_cam = T_world_base @ geometry.invert(np.asarray(calibration.T_cam_base[ref], float))
        self._cam_pos = T_world_cam[:3, 3].copy()
        self._cam_xmat = (T_world_cam[:3, :3] @ geometry.R_CV_FROM_MJ.T).ravel()  # OpenCV -> MuJoCo axes
        self._arm_geoms = arm_geoms(m, spec)
        self._renderer: mujoco.Renderer | None = None

    def mask(self, joints: np.ndarray) -> np.ndarray:
        """(H, W) bool: the twin's arms at `joints`, seen through the real calibration."""
        joints = np.asarray(joints, dtype=float)
        arms = Arms.parse(self.arms)
        if joints.shape != (arms.joint_width,):
            raise ValueError(f"joints of shape {joints.shape}; arms {self.arms} take {arms.joint_width} values")
        blocks = arms.split_joints(joints)
        m, d = self.model, self.data
        for arm in self.spec.arms:
            q = blocks.get(arm.name, arm.home_command)
            joints, fingers = self._qadr[arm.name]
            d.qpos[joints] = q[:6]
            d.qpos[fingers] = arm.gripper.to_finger(float(np.clip(q[6], 0.0, 1.0)))
        mujoco.mj_kinematics(m, d)
        d.cam_xpos[self._cam] = self._cam_pos  # after the kinematics, which would put it back on the torso
        d.cam_xmat[self._cam] = self._cam_xmat
        if self._renderer is None:
            h, w = self.image_size
            self._renderer = mujoco.Renderer(m, h, w)
            own_renderers(self, first_renderer=True)
            self._renderer.enable_segmentation_rendering()
        self._renderer.update_scene(d, camera=self._cam)
        seg = self._renderer.render()
        return (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & np.isin(seg[..., 0], self._arm_geoms)

    def line_points(self, joints: np.ndarray) -> np.ndarray:
        """(N, 2) px: each driven arm's keypoints (base, joints, pinch point) through its
        calibration, NaN rows between arms."""
        uv = []
        for i, a in enumerate(self.arms):
            p_base = kinematics.keypoints_in_base(self.spec.arm(a), np.asarray(joints)[Arms.joints(i)][:6])
            T = np.asarray(self.calibration.T_cam_base[a], float)
            uv.append(geometry.project(self.K, geometry.transform_points(T, p_base)))
        return join_polylines(uv)

    def __call__(self, front: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(front_img_1_masked, front_img_1_line) of one Aria frame (H, W, 3) uint8."""
        return mask_and_line(front, self.mask(joints), self.line_points(joints))

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
