"""EgoEnv: one Gymnasium interface over the MuJoCo twin and the real robot.

`EgoEnv = Backend + Task`. The backend touches the world (sim or real, one protocol);
the task says what counts. Spaces come from the spec.
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from egogym.core.arms import JOINTS_PER_ARM, Arms
from egogym.core.protocols import Backend, Score
from egogym.core.spec import (ARIA_IMAGE_SIZE, EGOMIMIC, Calibration, check_image_size, RobotSpec, command_bounds,
                              observation_bounds)
from egogym.core.views import DEFAULT_CAMERAS, DERIVED_VIEWS, FRONT
from egogym.tasks import Task, make_task


class EgoEnv(gym.Env):
    """## EgoMimic robot environment

    Two ViperX 300 S arms hung from a torso, an Aria on the upper body and a D405 on
    each wrist (see `egogym.core.spec`). Control at 50 Hz (`spec.control_hz`).

    ### Action space
    `Box(lower, upper, (Arms.joint_width,), float64)` (7 per arm): absolute joint targets, per arm
    [waist, shoulder, elbow, forearm_roll, wrist_angle, wrist_rotate] in radians, then
    the gripper in [0, 1] (0 closed, 1 open); arms left then right. Out-of-range
    commands are clipped to the joint limits; `info["applied_action"]` holds what was
    sent. `arms="right"` gives EgoMimic's 7-D single-arm layout, `arms="both"` 14-D.

    ### Observation space
    Dict with EgoMimic's key names:
    - `front_img_1`: Aria RGB (H, W, 3) uint8, linear camera (focal 266.5 px at 480x640,
      scaled with the image size);
    - `right_wrist_img`, `left_wrist_img`: D405 RGB (H, W, 3) uint8 (those asked for);
    - `front_img_1_masked`, `front_img_1_line` (when asked for in `cameras`): the Aria image
      with both arms blacked out, and the same with a red line drawn along the active
      arms (`DERIVED_VIEWS`), as EgoMimic's policies see it;
    - `joint_positions`: (`Arms.joint_width`,) float64, the layout of the action;
    - `ee_pose`: (`Arms.xyz_width`,) float64, each arm's pinch point (m) in the current Aria
      camera frame (OpenCV: x right, y down, z forward).

    ### Rewards
    1 for each point the task scores on that step, else 0 (the sum over an episode is
    the episode's points). Shaping quantities are reported in `info["reward_terms"]`.

    ### Starting state
    Arms at the spec's home pose with grippers open; task objects placed and dressed
    (colours, lights, distractor: the task's appearance axes) as the task's
    `sample_episode` draws from the seed given to `reset` (the same seed gives the same
    episode, in sim and on the robot, where the operator is shown the placement).

    ### Episode end
    Tasks are continuous (the toy is re-placed after each point): episodes are
    truncated by the time limit (40 s = 2000 steps for the registered ids).
    `terminated` is True only when the backend aborts (e.g. a safety stop on hardware).

    ### Arguments
    - `task`: a task name (`egogym.tasks.TASKS`) or a `Task` declaration; `task_options`: its
      options (placement regions, toys, colours, lights, distractors: `egogym.tasks.ObjectInBowl`).
    - `backend`: "sim" (default) or "real"; `backend_options`: kwargs of RealBackend.
    - `arms`: "right", "left", "both" or an `egogym.core.arms.Arms` (default: the task's);
      `env.arms` is the `Arms`.
    - `cameras`: spec camera names and `DERIVED_VIEWS` in the observation (default: Aria +
      the active wrists).
    - `image_size`: (height, width) of every camera image, default (480, 640).
    - `render_mode`: None or "rgb_array" (the Aria image).
    - `robot`: the `RobotSpec` (default `egogym.core.spec.EGOMIMIC`); `env.robot` holds it
      (`env.spec` is Gymnasium's registration record).

    ### Info
    `applied_action`, `points`, `success`, `new_points`, `reward_terms`, `time_s`, and
    `aborted` (a reason or None).
    `reset` returns `points` (0), `success` (False), `time_s` (0.0) and `start`: the
    episode's start as the task drew it (JSON-able, `Episode.to_dict`), in sim and on hardware
    alike. For ObjectInBowl/HandOver: {"toy": shape, "toy_xy": [x, y] (m), "toy_yaw": heading
    (rad), "bowl_xy": [x, y] (m), "toy_colour", "table_colour", "light", "distractor",
    "distractor_xy"}, world frame (later re-placements of the toy after a point are not in it);
    the same seed gives the same start.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, task: str | Task = "object_in_bowl", task_options: dict | None = None,
                 backend: str = "sim", backend_options: dict | None = None, arms: str | Arms | None = None,
                 cameras: Sequence[str] | None = None, image_size: Sequence[int] = ARIA_IMAGE_SIZE,
                 render_mode: str | None = None, robot: RobotSpec = EGOMIMIC):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}: use None or 'rgb_array'")
        if isinstance(task, Task) and task_options:
            raise ValueError("task_options are for a task given by name; a Task declaration carries its own options")
        self.task = task if isinstance(task, Task) else make_task(task, **(task_options or {}))
        self.arms = Arms.parse(arms or self.task.default_arms)
        self.task.check_arms(self.arms)
        cameras = tuple(cameras) if cameras is not None else DEFAULT_CAMERAS[self.arms.label]
        spec = self.robot = robot
        for c in cameras:
            if c not in DERIVED_VIEWS:
                spec.camera(c)  # raises on an unknown name
        self.cameras, self.image_size = cameras, check_image_size(image_size)
        self.render_mode = render_mode
        self.backend: Backend = _make_backend(backend, spec, self.task, self.arms.names, cameras, self.image_size,
                                              backend_options or {})
        lo, hi = command_bounds(spec, self.arms)
        self.action_space = gym.spaces.Box(lo, hi, dtype=np.float64)
        h, w = self.image_size
        spaces: dict[str, gym.Space] = {c: gym.spaces.Box(0, 255, (h, w, 3), np.uint8) for c in cameras}
        spaces["joint_positions"] = gym.spaces.Box(*observation_bounds(spec, self.arms), dtype=np.float64)
        spaces["ee_pose"] = gym.spaces.Box(-10.0, 10.0, (self.arms.xyz_width,), np.float64)
        self.observation_space = gym.spaces.Dict(spaces)
        self.metadata = {**self.metadata, "render_fps": int(round(spec.control_hz))}
        self._last_obs: dict[str, np.ndarray] | None = None
        self._images_next = True
        # What a step that renders nothing returns for each camera: one read-only black frame per
        # key (no allocation per step), so that every observation stays inside observation_space.
        self._blank = {c: np.zeros((h, w, 3), np.uint8) for c in cameras}
        for frame in self._blank.values():
            frame.setflags(write=False)

    @property
    def calibration(self) -> Calibration:
        """Intrinsics and extrinsics at this env's image size."""
        return self.backend.calibration

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.backend.reset(self.np_random)
        self._images_next = True
        self._last_obs = self.backend.observe()
        return self._last_obs, {"points": 0, "success": False, "time_s": 0.0, "start": self.backend.episode_start()}

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action has shape {action.shape}; this env (arms={self.arms.label!r}) takes "
                             f"{self.action_space.shape}: {JOINTS_PER_ARM} values per arm")
        applied = self.backend.apply(action)
        score = self.backend.judge()
        images, self._images_next = self._images_next, True
        skip = not images and getattr(self.backend, "skips_images", False)
        self._last_obs = {**self._blank, **self.backend.observe(images=False)} if skip else self.backend.observe()
        info = {"applied_action": applied, "points": score.points, "new_points": score.new_points,
                "success": score.success, "reward_terms": dict(score.terms), "time_s": self.backend.time,
                "aborted": score.aborted}
        return self._last_obs, float(score.new_points), score.aborted is not None, False, info

    def request_images(self, wanted: bool) -> None:
        """Whether the observation of the next `step` carries its camera images (default True).

        Applies to that one step only. With False the sim does not render, and each camera key of
        the observation holds a black, read-only frame (the space's contract kept for wrappers and
        checkers; the real robot reads every frame anyway: its watchdog checks each one): for
        steps whose images no policy reads
        (a chunking policy looks once a second; `egogym.core.protocols.reads_images`).
        Rendering never changes the simulation, so episodes are the same either way."""
        self._images_next = bool(wanted)

    def finish_episode(self) -> Score:
        """The episode's final score (sim: the running score; real: the operator's entry)."""
        return self.backend.finish()

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._last_obs is not None and FRONT in self._last_obs:
            return self._last_obs[FRONT]
        return self.backend.render(FRONT)

    def close(self):
        self.backend.close()


def _make_backend(kind: str, spec: RobotSpec, task: Task, arms, cameras, image_size, options: dict) -> Backend:
    if kind == "sim":
        if options:
            raise ValueError(f"backend_options {sorted(options)} are for backend='real'; the sim takes none")
        from egogym.sim.backend import SimBackend

        return SimBackend(spec, task, arms, cameras, image_size)
    if kind == "real":
        from egogym.real.backend import RealBackend

        return RealBackend(spec, task, arms, cameras, image_size, **options)
    raise ValueError(f"backend={kind!r}: use 'sim' or 'real'")
