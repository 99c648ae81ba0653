"""The EgoMimic robot, declared once.

Everything that sim and real share about the robot lives here: arm kinematics,
joint limits and gains, the gripper, the cameras and where they are mounted, and the
control rate. The MuJoCo scene is built from these declarations; the real backend
checks commands against them; every HDF5 file carries the calibration derived from
them.

Frames and units (used everywhere in egogym):
- metres, radians, seconds; world frame z up, the table in front of the robot along +x,
  the robot's left along +y;
- camera frames follow OpenCV: x right, y down, z forward (optical axis). Pixel
  coordinates are continuous, (0, 0) the top-left corner of the top-left pixel, so the
  principal point of a centred camera is (W/2, H/2);
- joint layouts are per arm [6 arm joints, gripper in [0, 1] (0 closed, 1 open)],
  arms in the order left then right.

Calibration numbers (intrinsics, camera-from-arm-base extrinsics) are never typed in
code: the sim computes them from the compiled model (`egogym.sim.scene`), the real
robot loads them from a calibration file written by its hand-eye calibration.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from egogym.core.arms import ARM_NAMES

ARIA_IMAGE_SIZE = (480, 640)
"""(height, width) px of EgoMimic's Aria frames (REFERENCE §2): the default image size of
every camera, and the size at which the Aria's focal length is given."""
ARIA_FOCAL_PX = 266.5
"""Focal length (px) of the Aria's linear camera as EgoMimic uses it, at ARIA_IMAGE_SIZE (REFERENCE §2)."""


R_UPRIGHT_FROM_SENSOR = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
"""p_upright = R @ p_sensor: the camera frame of the upright Aria image (the RGB sensor's
image rotated 90 degrees clockwise, `np.rot90(img, k=-1)`, as EgoMimic shows it) from the
sensor's own camera frame (the Aria's RGB sensor is mounted sideways)."""


MAX_IMAGE_SIDE = 4096
"""Largest image height or width (px) an env renders: a typo like 100000 x 100000 would ask
for a 28 GiB frame."""


def check_image_size(size, flag: str = "image_size") -> tuple[int, int]:
    """(height, width) as ints, each in 16..MAX_IMAGE_SIDE px; ValueError naming `flag` otherwise."""
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{flag}={size!r}: give (height, width) in pixels") from None
    if not (16 <= h <= MAX_IMAGE_SIDE and 16 <= w <= MAX_IMAGE_SIDE):
        raise ValueError(f"{flag}=({h}, {w}): each side must be in 16..{MAX_IMAGE_SIDE} px")
    return h, w


def aria_focal_px(height: int) -> float:
    """The Aria's linear-camera focal length (px) at an image `height` (px): ARIA_FOCAL_PX scaled."""
    return ARIA_FOCAL_PX * height / ARIA_IMAGE_SIZE[0]
"""Bimanual order everywhere: left first, then right."""


@dataclass(frozen=True)
class JointSpec:
    """One revolute joint of the ViperX 300 S (REFERENCE §4).

    offset: position of the child body in its parent body's frame (m).
    axis: rotation axis in the child body's frame.
    lower, upper: position limits (rad). kp: position-actuator gain (N m / rad).
    """

    name: str
    body: str
    offset: tuple[float, float, float]
    axis: tuple[float, float, float]
    lower: float
    upper: float
    kp: float


@dataclass(frozen=True)
class GripperSpec:
    """Parallel gripper: two mirrored slide fingers.

    finger_range: per-finger slide position (m), closed to open. The normalized gripper
    value g in [0, 1] maps linearly onto it (0 closed, 1 open).
    """

    finger_offset: tuple[float, float, float] = (0.0687, 0.0, 0.0)
    finger_range: tuple[float, float] = (0.021, 0.057)
    kp: float = 300.0
    pinch_offset: float = 0.1  # pinch point ahead of gripper_link along its x axis (m)

    def to_finger(self, g: np.ndarray | float) -> np.ndarray:
        """Normalized gripper value(s) -> finger slide position (m)."""
        lo, hi = self.finger_range
        return lo + np.clip(g, 0.0, 1.0) * (hi - lo)

    def from_finger(self, q: np.ndarray | float) -> np.ndarray:
        """Finger slide position (m) -> normalized gripper value in [0, 1]."""
        lo, hi = self.finger_range
        return np.clip((np.asarray(q) - lo) / (hi - lo), 0.0, 1.0)


VX300S_JOINTS: tuple[JointSpec, ...] = (
    JointSpec("waist", "shoulder_link", (0, 0, 0.079), (0, 0, 1), -3.14158, 3.14158, 25.0),
    JointSpec("shoulder", "upper_arm_link", (0, 0, 0.04805), (0, 1, 0), -1.85005, 1.25664, 76.0),
    JointSpec("elbow", "upper_forearm_link", (0.05955, 0, 0.3), (0, 1, 0), -1.76278, 1.6057, 106.0),
    JointSpec("forearm_roll", "lower_forearm_link", (0.2, 0, 0), (1, 0, 0), -3.14158, 3.14158, 35.0),
    JointSpec("wrist_angle", "wrist_link", (0.1, 0, 0), (0, 1, 0), -1.8675, 2.23402, 8.0),
    JointSpec("wrist_rotate", "gripper_link", (0.069744, 0, 0), (1, 0, 0), -3.14158, 3.14158, 7.0),
)


@dataclass(frozen=True)
class ArmSpec:
    """One ViperX 300 S hung upside-down from the torso.

    mount_pos: world position of the arm base (m). The base frame is the world frame
    rotated 180 degrees about x (z points down), as on the EgoMimic robot.
    home: joint positions of the start pose (rad), 6 values; the gripper starts open.
    """

    name: str
    mount_pos: tuple[float, float, float]
    home: tuple[float, ...]
    joints: tuple[JointSpec, ...] = VX300S_JOINTS
    gripper: GripperSpec = GripperSpec()
    # Base orientation (w, x, y, z): 180 degrees about x, i.e. hung upside-down.
    mount_quat: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 0.0)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def lower(self) -> np.ndarray:
        """Lower limits of the 7-D command [6 joints (rad), gripper (normalized)]."""
        return np.array([j.lower for j in self.joints] + [0.0])

    @property
    def upper(self) -> np.ndarray:
        """Upper limits of the 7-D command [6 joints (rad), gripper (normalized)]."""
        return np.array([j.upper for j in self.joints] + [1.0])

    @property
    def home_command(self) -> np.ndarray:
        """Start pose as a 7-D command, gripper open."""
        return np.array(list(self.home) + [1.0])


@dataclass(frozen=True)
class CameraSpec:
    """A camera: which device, where it is mounted, and its optics.

    parent: "torso" or "<arm>/gripper_link" (the body it is fixed to).
    pos: position in the parent frame (m). look_at: for torso cameras, a world point the
    optical axis passes through; for wrist cameras, a point in the parent frame.
    up: a direction (same frame as look_at) that appears upward in the image.
    focal_px, at_height: focal length in pixels at the reference image height (linear
    camera, square pixels); intrinsics scale with the resolution asked for.
    size: default (height, width) in pixels.
    """

    name: str
    device: str
    parent: str
    pos: tuple[float, float, float]
    look_at: tuple[float, float, float]
    up: tuple[float, float, float]
    focal_px: float
    at_height: int
    size: tuple[int, int] = ARIA_IMAGE_SIZE

    @property
    def fovy_deg(self) -> float:
        """Vertical field of view (degrees) implied by the declared focal length."""
        return math.degrees(2.0 * math.atan(0.5 * self.at_height / self.focal_px))


def focal_for_fovy(fovy_deg: float, height: int) -> float:
    """Focal length (px) of a linear camera with vertical field of view fovy at height."""
    return 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)


@dataclass(frozen=True)
class RobotSpec:
    """The whole robot: two arms on a torso, an Aria, two D405 wrist cameras."""

    arms: tuple[ArmSpec, ArmSpec]
    cameras: tuple[CameraSpec, ...]
    control_hz: float = 50.0
    physics_dt: float = 0.002  # s, MuJoCo timestep
    torso_pos: tuple[float, float, float] = (-0.36, 0.0, 0.0)  # foot of the torso column
    table_height: float = 0.75  # m, top surface

    def arm(self, name: str) -> ArmSpec:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(f"unknown arm {name!r}: choose one of {ARM_NAMES}")

    def camera(self, name: str) -> CameraSpec:
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(f"unknown camera {name!r}: choose from {[c.name for c in self.cameras]}")

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return int(round(1.0 / (self.control_hz * self.physics_dt)))


def command_bounds(spec: RobotSpec, arms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits of a command in the joint layout of `arms` (`Arms.joint_width` values)."""
    lo = np.concatenate([spec.arm(a).lower for a in arms])
    hi = np.concatenate([spec.arm(a).upper for a in arms])
    return lo, hi


JOINT_LIMIT_SLACK = 0.25
"""rad: how far a measured arm joint may stand outside its limits. Limits are not rigid: MuJoCo's
are soft constraints (with the twin's stiff limit settings, random targets on both arms for 10,000
steps swung a forearm roll 0.098 rad past its limit; 0.88 rad with MuJoCo's defaults) and real
servos overshoot a commanded stop. Observations state this range (`observation_bounds`); commands
stay within the limits (`command_bounds`)."""


def observation_bounds(spec: RobotSpec, arms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a measured joint layout of `arms`: the limits widened by JOINT_LIMIT_SLACK for the
    arm joints; the gripper, a normalised [0, 1] value, keeps its bounds."""
    lo, hi = command_bounds(spec, arms)
    slack = np.concatenate([np.append(np.full(len(spec.arm(a).joints), JOINT_LIMIT_SLACK), 0.0) for a in arms])
    return lo - slack, hi + slack


# The D405 wrist cameras: about 58 degrees vertical field of view.
D405_FOVY_DEG = 58.0

EGOMIMIC = RobotSpec(
    arms=(
        ArmSpec("left", mount_pos=(-0.12, 0.24, 1.30), home=(0.0, -0.458, 1.344, 0.0, -1.756, 0.0)),
        ArmSpec("right", mount_pos=(-0.12, -0.24, 1.30), home=(0.0, -0.458, 1.344, 0.0, -1.756, 0.0)),
    ),
    cameras=(
        CameraSpec("front_img_1", "aria", "torso", pos=(-0.07, 0.0, 1.42),
                   look_at=(0.30, 0.0, 0.75), up=(1.0, 0.0, 0.0),
                   focal_px=ARIA_FOCAL_PX, at_height=ARIA_IMAGE_SIZE[0]),
        CameraSpec("left_wrist_img", "d405", "left/gripper_link", pos=(0.02, 0.0, 0.055),
                   look_at=(0.2, 0.0, -0.01), up=(0.0, 0.0, 1.0),
                   focal_px=focal_for_fovy(D405_FOVY_DEG, ARIA_IMAGE_SIZE[0]), at_height=ARIA_IMAGE_SIZE[0]),
        CameraSpec("right_wrist_img", "d405", "right/gripper_link", pos=(0.02, 0.0, 0.055),
                   look_at=(0.2, 0.0, -0.01), up=(0.0, 0.0, 1.0),
                   focal_px=focal_for_fovy(D405_FOVY_DEG, ARIA_IMAGE_SIZE[0]), at_height=ARIA_IMAGE_SIZE[0]),
    ),
)


@dataclass(frozen=True)
class Calibration:
    """Camera calibration that travels with data and with a robot.

    intrinsics[camera]: 3x3 K for the image size in image_sizes[camera] (px).
    image_sizes[camera]: (height, width).
    T_cam_base[arm]: 4x4 transform taking points in that arm's base frame into the
      Aria (`front_img_1`) camera frame (OpenCV convention).
    T_gripper_cam[camera]: 4x4 pose of a wrist camera in its gripper_link frame.
    source: where the numbers came from ("sim model", a calibration file path, a preset).
    """

    intrinsics: dict[str, np.ndarray]
    image_sizes: dict[str, tuple[int, int]]
    T_cam_base: dict[str, np.ndarray]
    T_gripper_cam: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def K(self, camera: str, size: tuple[int, int] | None = None) -> np.ndarray:
        """Intrinsics of `camera` rescaled to `size` = (height, width)."""
        K = np.array(self.intrinsics[camera], dtype=float)
        if size is None or tuple(size) == tuple(self.image_sizes[camera]):
            return K
        h0, w0 = self.image_sizes[camera]
        s = np.diag([size[1] / w0, size[0] / h0, 1.0])
        return s @ K

    def to_dict(self) -> dict:
        return {
            "intrinsics": {k: np.asarray(v).tolist() for k, v in self.intrinsics.items()},
            "image_sizes": {k: list(v) for k, v in self.image_sizes.items()},
            "T_cam_base": {k: np.asarray(v).tolist() for k, v in self.T_cam_base.items()},
            "T_gripper_cam": {k: np.asarray(v).tolist() for k, v in self.T_gripper_cam.items()},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict, source: str | None = None) -> "Calibration":
        for key in ("intrinsics", "image_sizes", "T_cam_base"):
            if key not in d:
                raise KeyError(f"calibration lacks {key!r}: write it with Calibration.save")
        return cls(
            intrinsics={k: np.array(v, dtype=float) for k, v in d["intrinsics"].items()},
            image_sizes={k: tuple(int(x) for x in v) for k, v in d["image_sizes"].items()},
            T_cam_base={k: np.array(v, dtype=float) for k, v in d["T_cam_base"].items()},
            T_gripper_cam={k: np.array(v, dtype=float) for k, v in d.get("T_gripper_cam", {}).items()},
            source=source if source is not None else d.get("source", ""),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no calibration file; run the hand-eye calibration (docs/HARDWARE.md)")
        return cls.from_dict(json.loads(path.read_text()), source=str(path))
