"""Adapters over the vendor drivers, and where those drivers are imported.

- `load_drivers` imports `interbotix_xs_modules` / `interbotix_common_modules` (ROS 2),
  `aria.sdk` (projectaria-client-sdk), `projectaria_tools.core.calibration` and
  `pyrealsense2`, only those the asked-for arms and cameras need, when a RealBackend
  starts. Missing ones raise `MissingDriver` with one line saying what to install.
- `ArmDriver`: one follower arm (`InterbotixManipulatorXS`): joint targets through
  `arm.set_joint_positions(q, blocking=False)`, the gripper through
  `core.robot_write_joint_command("gripper", motor_rad)`, state from `core.joint_states`.
- `RealSenseCamera`: a D405's colour stream through a `pyrealsense2.pipeline`.
- `AriaCamera`: the Aria's RGB stream through `aria.sdk`, undistorted with
  projectaria_tools' calibration functions to the spec's linear camera and rotated upright.

`Drivers` is the seam tests use: it holds the modules (real or the fakes of
`egogym.real.fakes`) every adapter talks to.
"""
from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from egogym.core.errors import UserError
from egogym.real.safety import CommandSink, FrameStamp, image_digest
from egogym.core.spec import ArmSpec, CameraSpec


class MissingDriver(UserError):
    """A vendor package the real backend needs is not installed (one line: what to install)."""


INSTALL_HINTS = {
    "interbotix_xs_modules": "interbotix_xs_modules is not installed: it is not on PyPI; it comes with the Interbotix "
                             "ROS 2 arm install (interbotix_xsarm_control); source that workspace "
                             "(source ~/interbotix_ws/install/setup.bash) in this shell",
    "aria.sdk": "aria.sdk is not installed: pip install projectaria-client-sdk (or pip install -e '.[real]')",
    "projectaria_tools": "projectaria_tools is not installed: pip install projectaria-tools==2.3.0 "
                         "(or pip install -e '.[aria]')",
    "pyrealsense2": "pyrealsense2 is not installed: pip install pyrealsense2 (and apt-get install libusb-1.0-0)",
}


@dataclass
class Drivers:
    """The vendor modules a RealBackend talks to.

    interbotix_arm: has `InterbotixManipulatorXS` (interbotix_xs_modules.xs_robot.arm);
    interbotix_robot: has `create_interbotix_global_node`, `robot_startup`, `robot_shutdown`
      (interbotix_common_modules.common_robot.robot);
    aria_sdk: `aria.sdk`; aria_calibration: `projectaria_tools.core.calibration`;
    realsense: `pyrealsense2`. Unneeded ones may be None."""

    interbotix_arm: Any = None
    interbotix_robot: Any = None
    aria_sdk: Any = None
    aria_calibration: Any = None
    realsense: Any = None


def _import(name: str, hint_key: str, missing: list[str]) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        missing.append(INSTALL_HINTS[hint_key])
        return None


def load_drivers(arms: bool, aria: bool, realsense: bool) -> Drivers:
    """Import the vendor modules needed; raise MissingDriver naming every missing one."""
    missing: list[str] = []
    d = Drivers()
    if arms:
        d.interbotix_arm = _import("interbotix_xs_modules.xs_robot.arm", "interbotix_xs_modules", missing)
        if d.interbotix_arm is not None:
            d.interbotix_robot = _import("interbotix_common_modules.common_robot.robot", "interbotix_xs_modules",
                                         missing)
    if aria:
        d.aria_sdk = _import("aria.sdk", "aria.sdk", missing)
        d.aria_calibration = _import("projectaria_tools.core.calibration", "projectaria_tools", missing)
    if realsense:
        d.realsense = _import("pyrealsense2", "pyrealsense2", missing)
    if missing:
        raise MissingDriver("; ".join(dict.fromkeys(missing)))
    return d


class Clock(Protocol):
    """Time source of the control loop (seconds, monotonic) and how to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """The machine's monotonic clock."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


# ---- arms -------------------------------------------------------------------------
class ArmDriver(CommandSink):
    """One follower ViperX 300 S through an `InterbotixManipulatorXS` (ROS 2).

    gripper_motor_range: (closed, open) position of the gripper motor (rad) that the
    normalized gripper values 0 and 1 map to (per robot; from the hardware file).
    moving_time, accel_time: Interbotix's time-based profile for each joint target (s)."""

    def __init__(self, bot: Any, arm: ArmSpec, gripper_motor_range: tuple[float, float],
                 moving_time: float, accel_time: float, gripper_name: str = "gripper"):
        self.bot, self.arm = bot, arm
        self.gripper_motor_range = (float(gripper_motor_range[0]), float(gripper_motor_range[1]))
        self.moving_time, self.accel_time = moving_time, accel_time
        self.gripper_name = gripper_name

    def start(self) -> None:
        """Position mode for the arm group and the gripper, torque on, the time profile set."""
        core = self.bot.core
        core.robot_set_operating_modes("group", "arm", "position")
        core.robot_set_operating_modes("single", self.gripper_name, "current_based_position")
        core.robot_torque_enable("group", "arm", True)
        core.robot_torque_enable("single", self.gripper_name, True)
        self.bot.arm.set_trajectory_time(moving_time=self.moving_time, accel_time=self.accel_time)

    def gripper_to_motor(self, g: float) -> float:
        """Normalized gripper value in [0, 1] -> gripper motor position (rad)."""
        closed, opened = self.gripper_motor_range
        g = float(np.clip(g, 0.0, 1.0))
        return float(np.clip((1.0 - g) * closed + g * opened, min(closed, opened), max(closed, opened)))

    def send(self, q: np.ndarray, gripper: float) -> None:
        ok = self.bot.arm.set_joint_positions([float(x) for x in q], blocking=False)
        if ok is False:
            raise RuntimeError("set_joint_positions refused the target (Interbotix's own limit check)")
        self.bot.core.robot_write_joint_command(self.gripper_name, self.gripper_to_motor(gripper))

    def read(self) -> np.ndarray:
        """Measured [6 joints (rad), gripper in [0, 1]] from the driver's joint_states."""
        js = self.bot.core.joint_states
        if js is None:
            raise RuntimeError("no joint_states received yet (is the xs_sdk node running?)")
        pos = dict(zip(js.name, js.position))
        names = list(self.arm.joint_names) + ["left_finger"]
        missing = [n for n in names if n not in pos]
        if missing:
            raise RuntimeError(f"joint_states lacks {missing}")
        q = np.array([pos[n] for n in self.arm.joint_names], dtype=float)
        g = float(self.arm.gripper.from_finger(pos["left_finger"]))
        return np.concatenate([q, [g]])

    def torque_off(self) -> None:
        self.bot.core.robot_torque_enable("group", "arm", False)
        self.bot.core.robot_torque_enable("single", self.gripper_name, False)


# ---- cameras ----------------------------------------------------------------------
@dataclass
class Frame:
    """A processed camera frame: image (H, W, 3) uint8 at the backend's image size."""

    image: np.ndarray
    stamp: FrameStamp


class CameraFault(Exception):
    """A camera stopped working (disconnected, pipeline error); message names it."""


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 -> size = (H, W), bilinear (PIL)."""
    if image.shape[:2] == tuple(size):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR))


class RealSenseCamera:
    """A D405's colour stream (RGB8), resized to image_size = (H, W).

    poll() takes the newest frame without blocking (`pipeline.poll_for_frames`); a frame
    is stamped with the clock time at which its frame number was first seen."""

    def __init__(self, rs: Any, name: str, serial: str, image_size: tuple[int, int], clock: Clock,
                 stream: tuple[int, int, int] = (640, 480, 60), start_timeout_s: float = 5.0):
        self.rs, self.name, self.serial = rs, name, serial
        self.image_size, self.clock = tuple(image_size), clock
        self.stream, self.start_timeout_s = stream, start_timeout_s
        self.pipeline = None
        self.intrinsics: np.ndarray | None = None  # 3x3 K of the colour stream at its own size
        self._latest: Frame | None = None

    def start(self) -> None:
        rs = self.rs
        w, h, fps = self.stream
        self.pipeline = rs.pipeline()
        cfg = rs.config()
        cfg.enable_device(self.serial)
        cfg.enable_stream(rs.stream.color, w, h, rs.format.rgb8, fps)
        try:
            profile = self.pipeline.start(cfg)
            intr = profile.get_stream(rs.stream.color).as_video_stream_profile().get_intrinsics()
            self.intrinsics = np.array([[intr.fx, 0.0, intr.ppx], [0.0, intr.fy, intr.ppy], [0.0, 0.0, 1.0]])
            frames = self.pipeline.wait_for_frames(int(self.start_timeout_s * 1000))
        except RuntimeError as e:
            raise CameraFault(f"camera {self.name} (D405 serial {self.serial}) did not start: {e}") from e
        self._take(frames)

    def _take(self, frames: Any) -> None:
        color = frames.get_color_frame()
        if not color:
            return
        n = int(color.get_frame_number())
        if self._latest is not None and self._latest.stamp.number == n:
            return
        raw = np.asanyarray(color.get_data())
        img = resize_rgb(np.array(raw, dtype=np.uint8, copy=True), self.image_size)
        self._latest = Frame(img, FrameStamp(n, self.clock.now(), image_digest(raw)))

    def poll(self) -> None:
        try:
            frames = self.pipeline.poll_for_frames()
        except RuntimeError as e:
            raise CameraFault(f"camera {self.name} (D405 serial {self.serial}) dropped: {e}") from e
        if frames:
            self._take(frames)

    def latest(self) -> Frame | None:
        return self._latest

    def stop(self) -> None:
        if self.pipeline is not None:
            try:
                self.pipeline.stop()
            finally:
                self.pipeline = None


class AriaCamera:
    """The Aria's RGB stream, undistorted to the spec's linear camera and rotated upright.

    The linear camera: focal `spec.focal_px` scaled by H / `spec.at_height`, principal
    point at the image centre, at image_size = (H, W) after the rotation. The raw Aria
    RGB image is sideways: it is undistorted to a linear image H pixels wide and W tall,
    then rotated 90 degrees clockwise (as EgoMimic does) to (H, W). Frames arrive on the SDK's thread (`on_image_received`);
    undistortion runs in `latest()` once per new frame."""

    CAMERA_LABEL = "camera-rgb"

    def __init__(self, sdk: Any, calibration_module: Any, spec: CameraSpec, image_size: tuple[int, int],
                 clock: Clock, interface: str = "usb", device_ip: str | None = None,
                 profile: str = "profile18", start_timeout_s: float = 5.0):
        self.sdk, self.calib_mod, self.spec = sdk, calibration_module, spec
        self.name = spec.name
        self.image_size, self.clock = tuple(image_size), clock
        self.interface, self.device_ip, self.profile = interface, device_ip, profile
        self.start_timeout_s = start_timeout_s
        self.focal_px = spec.focal_px * self.image_size[0] / spec.at_height
        self._lock = threading.Lock()
        self._raw: tuple[np.ndarray, int, float] | None = None
        self._latest: Frame | None = None
        self._device_client = self._device = self._manager = self._client = None
        self._src_calib = self._dst_calib = None

    # The SDK calls these on its own thread.
    def on_image_received(self, image: np.ndarray, record: Any) -> None:
        if record.camera_id != self.sdk.CameraId.Rgb:
            return
        with self._lock:
            self._raw = (image, int(record.frame_number), self.clock.now())

    def start(self) -> None:
        sdk, cm = self.sdk, self.calib_mod
        try:
            self._device_client = sdk.DeviceClient()
            cfg = sdk.DeviceClientConfig()
            if self.device_ip:
                cfg.ip_v4_address = self.device_ip
            self._device_client.set_client_config(cfg)
            self._device = self._device_client.connect()
            self._manager = self._device.streaming_manager
            scfg = sdk.StreamingConfig()
            scfg.profile_name = self.profile
            if self.interface == "usb":
                scfg.streaming_interface = sdk.StreamingInterface.Usb
            scfg.security_options.use_ephemeral_certs = True
            self._manager.streaming_config = scfg
            self._manager.start_streaming()
            device_calib = cm.device_calibration_from_json_string(self._manager.sensors_calibration())
            self._src_calib = device_calib.get_camera_calib(self.CAMERA_LABEL)
            h, w = self.image_size
            # Before the clockwise rotation the image is h wide and w tall.
            self._dst_calib = cm.get_linear_camera_calibration(h, w, self.focal_px, self.CAMERA_LABEL,
                                                               self._src_calib.get_transform_device_camera())
            self._client = self._manager.streaming_client
            sub = self._client.subscription_config
            sub.subscriber_data_type = sdk.StreamingDataType.Rgb
            sub.message_queue_size[sdk.StreamingDataType.Rgb] = 1
            self._client.subscription_config = sub
            self._client.set_streaming_client_observer(self)
            self._client.subscribe()
        except RuntimeError as e:
            raise CameraFault(f"camera {self.name} (Aria) did not start: {e}") from e
        t_end = self.clock.now() + self.start_timeout_s
        while self._raw is None and self.clock.now() < t_end:
            self.clock.sleep(0.005)
        if self._raw is None:
            raise CameraFault(f"camera {self.name} (Aria): no RGB frame within {self.start_timeout_s} s of subscribing")

    def undistort(self, raw: np.ndarray) -> np.ndarray:
        """Raw (sideways, fisheye) Aria RGB -> upright linear image (H, W, 3) uint8."""
        lin = self.calib_mod.distort_by_calibration(raw, self._dst_calib, self._src_calib)
        up = np.rot90(np.asarray(lin), k=-1)  # 90 degrees clockwise
        if up.shape[:2] != self.image_size:
            raise CameraFault(f"camera {self.name}: undistorted image is {up.shape[:2]}, expected {self.image_size}")
        return np.ascontiguousarray(up, dtype=np.uint8)

    def poll(self) -> None:
        with self._lock:
            raw = self._raw
        if raw is None:
            return
        image, n, t = raw
        if self._latest is not None and self._latest.stamp.number == n:
            return
        self._latest = Frame(self.undistort(image), FrameStamp(n, t, image_digest(image)))

    def latest(self) -> Frame | None:
        return self._latest

    def stop(self) -> None:
        try:
            if self._client is not None:
                self._client.unsubscribe()
            if self._manager is not None:
                self._manager.stop_streaming()
            if self._device_client is not None and self._device is not None:
                self._device_client.disconnect(self._device)
        finally:
            self._client = self._manager = self._device = None


def linear_intrinsics(spec: CameraSpec, size: Sequence[int]) -> np.ndarray:
    """K of the spec's linear camera at size = (H, W): focal scaled with H, centred."""
    f = spec.focal_px * size[0] / spec.at_height
    return np.array([[f, 0.0, size[1] / 2.0], [0.0, f, size[0] / 2.0], [0.0, 0.0, 1.0]])
