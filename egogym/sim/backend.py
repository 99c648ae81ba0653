"""SimBackend: the MuJoCo twin behind the Backend protocol of `egogym.env`."""
from __future__ import annotations

import mujoco
import numpy as np
from dm_control import mjcf

from egogym.core import geometry
from egogym.core.arms import Arms
from egogym.core.spec import Calibration, RobotSpec, command_bounds
from egogym.sim.scene import (arm_keypoints, body_pose, build_robot_scene, calibration_from_model,
                              camera_element_name, camera_pose, own_renderers)
from egogym.core.protocols import Score
from egogym.core.views import DERIVED_VIEWS, FRONT, FRONT_LINE, FRONT_MASKED, join_polylines, mask_and_line
from egogym.sim.tasks import realise
from egogym.tasks import Task


class SimBackend:
    """The MuJoCo twin: position-controlled arms, rendered cameras, task scoring from state.

    task: the declaration (`egogym.tasks`); `sim_task` is its realisation in this model
    (`egogym.sim.tasks`: objects, placement, score), which experts read.
    arms: the arms a command drives, in layout order; the others hold their home pose.
    cameras: spec camera names rendered into observations, at image_size (height, width).
    Renderers are created on first use, so a backend can be built in one process and
    stepped in another (spawn-based vector envs).
    """

    skips_images = True  # observe(images=False) renders nothing

    def __init__(self, spec: RobotSpec, task: Task, arms: tuple[str, ...], cameras: tuple[str, ...],
                 image_size: tuple[int, int]):
        self.spec, self.task, self.arms, self.cameras = spec, task, tuple(arms), tuple(cameras)
        self.image_size = tuple(image_size)
        root = build_robot_scene(spec, offscreen_size=self.image_size)
        self.sim_task = realise(task, self.arms)
        self.sim_task.build(root)
        self.mjcf_root = root
        self.physics = mjcf.Physics.from_mjcf_model(root)
        self.model, self.data = self.physics.model.ptr, self.physics.data.ptr
        m = self.model
        self._qadr, self._act, self._finger_qadr = {}, {}, {}
        for arm in spec.arms:
            a = arm.name
            self._qadr[a] = np.array([m.joint(f"{a}/{j}").qposadr[0] for j in arm.joint_names])
            self._finger_qadr[a] = np.array([m.joint(f"{a}/{f}").qposadr[0] for f in ("left_finger", "right_finger")])
            self._act[a] = np.array([m.actuator(f"{a}/{j}").id for j in arm.joint_names])
        self._finger_act = {a.name: np.array([m.actuator(f"{a.name}/{f}").id for f in ("left_finger", "right_finger")])
                            for a in spec.arms}
        self._pinch = {a.name: m.site(f"{a.name}/pinch").id for a in spec.arms}
        self._cam_ids = {c: m.camera(camera_element_name(spec, c)).id for c in spec.camera_names}
        self.lower, self.upper = command_bounds(spec, self.arms)
        self._renderer: mujoco.Renderer | None = None
        self._seg_renderer: mujoco.Renderer | None = None
        self._arm_geoms: np.ndarray | None = None
        self._targets = {a.name: a.home_command for a in spec.arms}
        self.steps = 0
        own_renderers(self)
        mujoco.mj_forward(m, self.data)
        self.calibration: Calibration = calibration_from_model(m, self.data, spec, self.image_size)
        self.T_cam_world = geometry.invert(camera_pose(m, self.data, self._cam_ids[FRONT]))

    # ---- Backend protocol --------------------------------------------------------
    @property
    def time(self) -> float:
        """Simulated seconds since reset."""
        return self.steps / self.spec.control_hz

    def reset(self, rng: np.random.Generator) -> None:
        """Arms to their home pose (grippers open), task objects placed from `rng`."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        for arm in self.spec.arms:
            self._targets[arm.name] = arm.home_command
            d.qpos[self._qadr[arm.name]] = arm.home
            d.qpos[self._finger_qadr[arm.name]] = arm.gripper.to_finger(1.0)
            self._write_ctrl(arm.name)
        self.sim_task.initialize_episode(self.physics, rng)
        mujoco.mj_forward(m, d)
        self.steps = 0

    def episode_start(self) -> dict:
        """The start of the episode set up by the last reset, as the task drew it
        (`Episode.to_dict`: metres and radians, world frame)."""
        return self.sim_task.episode_start()

    def apply(self, command: np.ndarray) -> np.ndarray:
        """Clip `command` (7 per active arm) to the limits, hold it for one control period.

        Returns the command actually applied (after clipping)."""
        applied = np.clip(np.asarray(command, dtype=np.float64), self.lower, self.upper)
        for i, a in enumerate(self.arms):
            self._targets[a] = applied[Arms.joints(i)]
            self._write_ctrl(a)
        mujoco.mj_step(self.model, self.data, nstep=self.spec.substeps)
        self.steps += 1
        return applied

    def judge(self) -> Score:
        """The task's score from simulator state after the last step."""
        return self.sim_task.update(self.physics)

    def finish(self) -> Score:
        """Final judgement of the episode (in sim: the running score)."""
        return self.sim_task.score

    def observe(self, images: bool = True) -> dict[str, np.ndarray]:
        """Observation dict: images of self.cameras, joint_positions, ee_pose (see EgoEnv).

        images=False skips the renders (the low-dim keys only). Rendering reads the
        simulator's state and never writes it, so skipping it changes nothing else."""
        obs = {c: self.render(c) for c in self.cameras if c not in DERIVED_VIEWS} if images else {}
        if images and any(c in DERIVED_VIEWS for c in self.cameras):
            front = obs[FRONT] if FRONT in obs else self.render(FRONT)
            masked, line = self.masked_and_line(front)
            for c, img in ((FRONT_MASKED, masked), (FRONT_LINE, line)):
                if c in self.cameras:
                    obs[c] = img
        obs["joint_positions"] = self.joint_positions()
        obs["ee_pose"] = self.ee_pose()
        return obs

    def close(self) -> None:
        for r in (self._renderer, self._seg_renderer):
            if r is not None:
                r.close()
        self._renderer = self._seg_renderer = None

    # ---- state -------------------------------------------------------------------
    def last_command(self, arm: str) -> np.ndarray:
        """The 7-D command `arm` holds now (after clipping; its home pose after reset)."""
        return np.array(self._targets[arm], dtype=float)

    def _write_ctrl(self, arm: str) -> None:
        t = self._targets[arm]
        self.data.ctrl[self._act[arm]] = t[:6]
        self.data.ctrl[self._finger_act[arm]] = self.spec.arm(arm).gripper.to_finger(t[6])

    def joint_positions(self, arms: tuple[str, ...] | None = None) -> np.ndarray:
        """Per arm [6 joints (rad), gripper in [0, 1]], arms in layout order."""
        out = []
        for a in arms or self.arms:
            q = self.data.qpos[self._qadr[a]]
            g = self.spec.arm(a).gripper.from_finger(self.data.qpos[self._finger_qadr[a][0]])
            out.append(np.concatenate([q, [g]]))
        return np.concatenate(out)

    def pinch_world(self, arm: str) -> np.ndarray:
        """Pinch point of `arm` (m, world)."""
        return self.data.site_xpos[self._pinch[arm]].copy()

    def ee_pose(self, arms: tuple[str, ...] | None = None) -> np.ndarray:
        """Pinch points (m) in the Aria camera frame (OpenCV), xyz per arm in layout order."""
        pts = np.stack([self.pinch_world(a) for a in arms or self.arms])
        return geometry.transform_points(self.T_cam_world, pts).reshape(-1)

    def arm_keypoints(self, arm: str) -> np.ndarray:
        """(8, 3) points along an arm's links (m, world): `scene.arm_keypoints`."""
        return arm_keypoints(self.model, self.data, self.spec, arm)

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """Points (..., 3) from the world into the Aria camera frame (OpenCV)."""
        return geometry.transform_points(self.T_cam_world, points_world)

    def base_pose(self, arm: str) -> np.ndarray:
        """T_world_base of an arm."""
        return body_pose(self.data, self.model.body(f"{arm}/base_link").id)

    # ---- rendering ---------------------------------------------------------------
    def _make_renderer(self) -> mujoco.Renderer:
        h, w = self.image_size
        r = mujoco.Renderer(self.model, h, w)
        own_renderers(self, first_renderer=True)
        # Software rendering on a CPU: no shadows, reflections or skybox for observations.
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                     mujoco.mjtRndFlag.mjRND_SKYBOX):
            r.scene.flags[flag] = False
        return r

    def render(self, camera: str) -> np.ndarray:
        """RGB image (H, W, 3) uint8 of a spec camera at image_size."""
        if self._renderer is None:
            self._renderer = self._make_renderer()
        self._renderer.update_scene(self.data, camera=self._cam_ids[camera])
        return self._renderer.render()

    def render_segmentation(self, camera: str) -> np.ndarray:
        """(H, W, 2) int32: per pixel (object id, mjtObj type); -1 where nothing is seen."""
        if self._seg_renderer is None:
            self._seg_renderer = self._make_renderer()
            self._seg_renderer.enable_segmentation_rendering()
        self._seg_renderer.update_scene(self.data, camera=self._cam_ids[camera])
        return self._seg_renderer.render()

    def masked_and_line(self, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`front_img_1_masked` and `front_img_1_line` from the Aria image `front`: every arm
        blacked out by the segmentation render, a red line through the active arms'
        projected keypoints (one polyline per arm)."""
        seg = self.render_segmentation(FRONT)
        if self._arm_geoms is None:
            self._arm_geoms = np.concatenate([self.arm_geom_ids(a.name) for a in self.spec.arms])
        mask = (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & np.isin(seg[..., 0], self._arm_geoms)
        K = self.calibration.K(FRONT, self.image_size)
        uv = [geometry.project(K, self.to_camera(self.arm_keypoints(a))) for a in self.arms]
        return mask_and_line(front, mask, join_polylines(uv))

    def arm_geom_ids(self, arm: str) -> np.ndarray:
        """Geom ids of every body of an arm (for segmentation masks)."""
        m = self.model
        prefix = f"{arm}/"
        bodies = [b for b in range(m.nbody) if m.body(b).name.startswith(prefix)]
        return np.flatnonzero(np.isin(m.geom_bodyid, bodies))
