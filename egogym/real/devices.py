"""Adapters over the vendor drivers, and where those drivers are imported.

- `load_drivers` imports `interbotix_xs_modules` / `interbotix_common_modules` (ROS 2),
  `aria.sdk` (projectaria-client-sdk), `projectaria_tools.core.calibration` and
  `pyrealsense2`, only those the asked-for arms and cameras need, when a RealBackend
  starts. Missing ones raise `MissingDriver` with one line saying what to install.
- `ArmDriver`: one follower arm (`InterbotixManipulatorXS`): at start-up a time-based
  motion profile (moving_time / accel_time in ms, read back), the gripper rebooted, its
  current limit written and read back; joint targets through
  `arm.set_joint_positions(q, blocking=False)`, the gripper through
  `core.robot_write_joint_command("gripper", motor_rad)` (both publishes), state from
  `core.joint_states` with its header.stamp (`ArmState`).
- `GripperMap`: the one mapping between the normalized gripper and the gripper motor, through
  the driver's finger formula.
- `call_with_timeout`: every vendor call that can block without end runs under a timeout.
- `RealSenseCamera`: a D405's colour stream through a `pyrealsense2.pipeline`.
- `AriaCamera`: the Aria's RGB stream through `aria.sdk`, undistorted with
  projectaria_tools' calibration functions to the spec's linear camera and rotated upright.

`Drivers` is the seam tests use: it holds the modules (real or the fakes of
`egogym.real.fakes`) every adapter talks to.
"""
from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from egogym.core.arms import ANGLES_PER_ARM, JOINTS_PER_ARM
from egogym.core.errors import UserError
from egogym.real.safety import CommandSink, FrameStamp, image_digest
from egogym.core.spec import ArmSpec, CameraSpec

LOG = logging.getLogger("egogym.real")


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

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """Wait until `event` is set or `timeout_s` seconds passed; True if it was set."""
        ...


class WallClock:
    """The machine's monotonic clock."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        return event.wait(timeout_s)


class DriverTimeout(Exception):
    """A blocking driver call did not return within its timeout (message: which call, how long)."""


def call_with_timeout(clock: Clock, timeout_s: float, what: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
    """fn(*args, **kwargs) in a worker thread; its result, its exception, or DriverTimeout
    after timeout_s seconds of `clock` (the worker is then abandoned: a daemon thread).

    Vendor calls that block without a timeout of their own go through this: Interbotix's
    service calls (`wait_until_future_complete` with no timeout), its construction (which
    waits for xs_sdk forever), the Aria SDK's connect / start / stop, a RealSense start."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e
        finally:
            done.set()

    worker = threading.Thread(target=run, daemon=True, name=f"egogym driver call: {what}"[:60])
    done.worker = worker  # type: ignore[attr-defined]  # lets a fake clock tell a hung call from a slow one
    worker.start()
    if not clock.wait(done, timeout_s):
        raise DriverTimeout(f"{what} did not return within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ---- arms -------------------------------------------------------------------------
CURRENT_UNIT_MA = 2.69
"""mA per unit of the gripper motor's Current_Limit register (Dynamixel XM430)."""


@dataclass(frozen=True)
class GripperMap:
    """The one mapping between the normalized gripper value and the gripper motor.

    The driver (Interbotix/interbotix_xs_driver, src/xs_driver.cpp,
    `convert_angular_position_to_linear`) publishes the finger position (m) of the gripper
    motor angle theta (rad) through the horn-and-arm linkage: r sin(theta) +
    sqrt(L^2 - (r cos(theta))^2), with r = horn_radius and L = arm_length of the motor
    config (vx300s: 0.022 m, 0.036 m). The normalized value g in [0, 1] is linear in that
    finger position between the calibrated closed and open motor angles: g = 0 at
    finger(closed), 1 at finger(open). Commands go g -> finger -> theta (the linkage
    inverted); measurements read the driver's left_finger -> g. A commanded g therefore
    reads back as g once the gripper arrived.

    motor_range: (closed, open) gripper motor angles (rad), both on the linkage's monotonic
    branch (-pi/2, pi/2), closed the narrower."""

    motor_range: tuple[float, float]
    horn_radius: float = 0.022
    arm_length: float = 0.036

    def finger(self, theta: float) -> float:
        """Gripper motor angle (rad) -> finger position (m), the driver's formula."""
        r, L = self.horn_radius, self.arm_length
        return r * math.sin(theta) + math.sqrt(L * L - (r * math.cos(theta)) ** 2)

    def motor(self, finger: float) -> float:
        """Finger position (m) -> gripper motor angle (rad): the formula inverted (law of cosines)."""
        r, L = self.horn_radius, self.arm_length
        s = (r * r + finger * finger - L * L) / (2.0 * r * finger)
        return math.asin(float(np.clip(s, -1.0, 1.0)))

    @property
    def finger_range(self) -> tuple[float, float]:
        """(closed, open) finger positions (m)."""
        return self.finger(self.motor_range[0]), self.finger(self.motor_range[1])

    def check(self, what: str) -> None:
        """Raise ValueError naming `what` when the range cannot be mapped one to one."""
        closed, opened = self.motor_range
        for x in (closed, opened):
            if not -math.pi / 2 < x < math.pi / 2:
                raise ValueError(f"{what}={self.motor_range!r}: {x:.3f} rad is off the gripper linkage's one-to-one "
                                 f"range (-1.571, 1.571); re-read the closed and open gripper positions off "
                                 f"joint_states")
        fc, fo = self.finger_range
        if not fo - fc > 0.002:
            raise ValueError(f"{what}={self.motor_range!r}: closed opens the fingers {1000 * fc:.1f} mm and open "
                             f"{1000 * fo:.1f} mm; give (closed, open) with open at least 2 mm wider (swap them?)")

    def to_motor(self, g: float) -> float:
        """Normalized gripper value (clipped to [0, 1]) -> gripper motor angle (rad)."""
        fc, fo = self.finger_range
        return self.motor(fc + float(np.clip(g, 0.0, 1.0)) * (fo - fc))

    def from_finger(self, finger: float) -> float:
        """The driver's left_finger position (m) -> normalized gripper value (not clipped)."""
        fc, fo = self.finger_range
        return (float(finger) - fc) / (fo - fc)


@dataclass
class ArmState:
    """One joint_states message of an arm, in the backend's layout.

    position: [6 joints (rad), gripper normalized (GripperMap)]; velocity: rad/s (gripper:
    its motor, rad/s); effort: motor currents (mA; the gripper's last); stamp: the
    message's header.stamp (s, ROS time: the driver machine's clock, not the backend's);
    gripper_motor: the gripper motor angle (rad)."""

    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray
    stamp: float
    gripper_motor: float


class ArmDriver(CommandSink):
    """One follower ViperX 300 S through an `InterbotixManipulatorXS` (ROS 2).

    gripper: the GripperMap of this arm (its calibrated motor range);
    moving_time, accel_time: the arm's time-based motion profile (s): each joint target is
    reached in moving_time, accelerating for accel_time (`start` sets the profile type to
    "time", so the Profile_Velocity / Profile_Acceleration registers hold milliseconds);
    gripper_current_ma: the gripper motor's Current_Limit (mA), written at start-up;
    clock, timeout_s: every service call (blocking in the vendor code) gives up after
    timeout_s seconds with DriverTimeout. Publishing targets and reading joint_states never
    block."""

    def __init__(self, bot: Any, arm: ArmSpec, gripper: GripperMap, moving_time: float, accel_time: float,
                 gripper_current_ma: float = 800.0, clock: Clock | None = None, timeout_s: float = 5.0,
                 gripper_name: str = "gripper", name: str | None = None):
        self.bot, self.arm = bot, arm
        self.name = name or arm.name
        self.gripper = gripper
        self.moving_time, self.accel_time = float(moving_time), float(accel_time)
        self.gripper_current_ma = float(gripper_current_ma)
        self.clock = clock or WallClock()
        self.timeout_s = float(timeout_s)
        self.gripper_name = gripper_name

    def _call(self, what: str, fn: Callable[..., Any], *args) -> Any:
        return call_with_timeout(self.clock, self.timeout_s, f"arm {self.name}: {what}", fn, *args)

    def start(self) -> None:
        """Gripper rebooted (clears a latched overload), its current limit written and read
        back, current-based position mode; the arm in position mode with a time-based
        profile of moving_time / accel_time, read back; the gripper's measured position
        checked against the calibrated range; torque on.

        Raises UserError (a setting that did not take, a gripper outside its range) or
        DriverTimeout."""
        core, g = self.bot.core, self.gripper_name
        self._call(f"robot_reboot_motors('single', {g!r}, False)", core.robot_reboot_motors, "single", g, False)
        raw = int(round(self.gripper_current_ma / CURRENT_UNIT_MA))
        self._call(f"robot_set_motor_registers Current_Limit={raw}", core.robot_set_motor_registers,
                   "single", g, "Current_Limit", raw)
        got = self._call("robot_get_motor_registers Current_Limit", core.robot_get_motor_registers,
                         "single", g, "Current_Limit")
        if list(got) != [raw]:
            raise UserError(f"arm {self.name}: the gripper's Current_Limit reads {list(got)} after writing {raw} "
                            f"({self.gripper_current_ma:g} mA); it is an EEPROM register: torque the gripper off "
                            f"(or reboot it) and start again")
        self._call("robot_set_operating_modes gripper current_based_position", core.robot_set_operating_modes,
                   "single", g, "current_based_position")
        mt, at = int(round(self.moving_time * 1000)), int(round(self.accel_time * 1000))
        self._call("robot_set_operating_modes arm position (time profile)", core.robot_set_operating_modes,
                   "group", "arm", "position", "time", mt, at)
        # arm.py keeps its own moving_time for set_joint_positions' speed check: bring it in line
        self._call("set_trajectory_time", self.bot.arm.set_trajectory_time, self.moving_time, self.accel_time)
        self.check_profile()
        state = self.read_state()
        lo, hi = sorted(self.gripper.motor_range)
        if not lo - 0.15 <= state.gripper_motor <= hi + 0.15:
            raise UserError(f"arm {self.name}: the gripper motor reads {state.gripper_motor:.3f} rad, outside "
                            f"gripper_motor_range {self.gripper.motor_range} by more than 0.15 rad; re-read the "
                            f"closed and open positions off joint_states into the hardware file")
        self._call("robot_torque_enable arm", core.robot_torque_enable, "group", "arm", True)
        self._call("robot_torque_enable gripper", core.robot_torque_enable, "single", g, True)

    def check_profile(self) -> None:
        """The arm motors hold a time-based profile of moving_time / accel_time (ms), or UserError."""
        core = self.bot.core
        mt, at = int(round(self.moving_time * 1000)), int(round(self.accel_time * 1000))
        drive = self._call("robot_get_motor_registers Drive_Mode", core.robot_get_motor_registers,
                           "group", "arm", "Drive_Mode")
        pv = self._call("robot_get_motor_registers Profile_Velocity", core.robot_get_motor_registers,
                        "group", "arm", "Profile_Velocity")
        pa = self._call("robot_get_motor_registers Profile_Acceleration", core.robot_get_motor_registers,
                        "group", "arm", "Profile_Acceleration")
        if not all(int(d) & 0b100 for d in drive) or list(pv) != [mt] * len(pv) or list(pa) != [at] * len(pa):
            raise UserError(f"arm {self.name}: the motion profile did not take (Drive_Mode {list(drive)}, "
                            f"Profile_Velocity {list(pv)}, Profile_Acceleration {list(pa)}; wanted the time bit "
                            f"0x04 and {mt} / {at} ms); set profile_type: time, profile_velocity: {mt}, "
                            f"profile_acceleration: {at} for the arm group in xs_sdk's mode config and relaunch it")

    def reboot_gripper(self) -> None:
        """Reboot the gripper motor (clears an overload shutdown), torque back on."""
        self._call(f"robot_reboot_motors('single', {self.gripper_name!r}, True)", self.bot.core.robot_reboot_motors,
                   "single", self.gripper_name, True)

    def hardware_errors(self) -> dict[str, int]:
        """Motors whose Hardware_Error_Status is non-zero (bit 5: overload), by name."""
        core = self.bot.core
        arm = self._call("robot_get_motor_registers Hardware_Error_Status", core.robot_get_motor_registers,
                         "group", "arm", "Hardware_Error_Status")
        grip = self._call("robot_get_motor_registers Hardware_Error_Status", core.robot_get_motor_registers,
                          "single", self.gripper_name, "Hardware_Error_Status")
        names = list(self.arm.joint_names) + [self.gripper_name]
        return {n: int(v) for n, v in zip(names, list(arm) + list(grip)) if int(v)}

    def gripper_to_motor(self, g: float) -> float:
        """Normalized gripper value in [0, 1] -> gripper motor position (rad)."""
        return self.gripper.to_motor(g)

    def send(self, q: np.ndarray, gripper: float) -> None:
        """Publish 6 joint targets (rad) and the gripper target (normalized); never blocks.

        Raises RuntimeError when Interbotix's own check (limits, |step| / moving_time within
        the joints' velocity limits) refuses the targets: nothing was published then."""
        ok = self.bot.arm.set_joint_positions([float(x) for x in q], blocking=False)
        if ok is False:
            raise RuntimeError("set_joint_positions refused the target (Interbotix's own limit and speed check)")
        self.bot.core.robot_write_joint_command(self.gripper_name, self.gripper.to_motor(gripper))

    def read_state(self) -> ArmState:
        """The last joint_states message (see ArmState); RuntimeError when none or incomplete."""
        js = self.bot.core.joint_states
        if js is None:
            raise RuntimeError("no joint_states received yet (is the xs_sdk node running?)")
        idx = {n: i for i, n in enumerate(js.name)}
        names = list(self.arm.joint_names) + [self.gripper_name, "left_finger"]
        missing = [n for n in names if n not in idx]
        if missing:
            raise RuntimeError(f"joint_states lacks {missing}")
        pos, vel, eff = (np.asarray(x, dtype=float) for x in (js.position, js.velocity, js.effort))
        order = [idx[n] for n in names[:JOINTS_PER_ARM]]  # the joints, then the gripper motor
        position = np.r_[pos[order[:ANGLES_PER_ARM]], self.gripper.from_finger(pos[idx["left_finger"]])]
        velocity = vel[order] if len(vel) == len(pos) else np.full(JOINTS_PER_ARM, np.nan)
        effort = eff[order] if len(eff) == len(pos) else np.full(JOINTS_PER_ARM, np.nan)
        stamp = float(js.header.stamp.sec) + 1e-9 * float(js.header.stamp.nanosec)
        return ArmState(position, velocity, effort, stamp, float(pos[idx[self.gripper_name]]))

    def read(self) -> np.ndarray:
        """Measured [6 joints (rad), gripper normalized] from the last joint_states message."""
        return self.read_state().position

    def torque_off(self) -> None:
        self._call("robot_torque_enable arm off", self.bot.core.robot_torque_enable, "group", "arm", False)
        self._call("robot_torque_enable gripper off", self.bot.core.robot_torque_enable, "single",
                   self.gripper_name, False)


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

    poll() takes the newest frame without blocking (`pipeline.poll_for_frames`, which
    returns an empty frameset when nothing new came, an unplugged camera included: that
    shows as staleness, never as an exception). A frame is stamped with the clock time at
    which it was first seen and its device timestamp (`get_timestamp()`, ms -> s).
    start() waits at most start_timeout_s for a first frame (`wait_for_frames` raises after
    its own timeout); pipeline start and stop give up after timeout_s (DriverTimeout)."""

    def __init__(self, rs: Any, name: str, serial: str, image_size: tuple[int, int], clock: Clock,
                 stream: tuple[int, int, int] = (640, 480, 60), start_timeout_s: float = 5.0,
                 timeout_s: float = 5.0):
        self.rs, self.name, self.serial = rs, name, serial
        self.image_size, self.clock = tuple(image_size), clock
        self.stream, self.start_timeout_s, self.timeout_s = stream, start_timeout_s, timeout_s
        self.pipeline = None
        self.intrinsics: np.ndarray | None = None  # 3x3 K of the colour stream at its own size
        self._latest: Frame | None = None

    def start(self) -> None:
        rs = self.rs
        w, h, fps = self.stream
        pipeline = rs.pipeline()
        cfg = rs.config()
        cfg.enable_device(self.serial)
        cfg.enable_stream(rs.stream.color, w, h, rs.format.rgb8, fps)
        what = f"camera {self.name} (D405 serial {self.serial})"
        try:
            profile = call_with_timeout(self.clock, self.timeout_s, f"{what}: pipeline.start", pipeline.start, cfg)
        except (RuntimeError, DriverTimeout) as e:
            raise CameraFault(f"{what} did not start: {e}") from e
        self.pipeline = pipeline
        try:
            intr = profile.get_stream(rs.stream.color).as_video_stream_profile().get_intrinsics()
            self.intrinsics = np.array([[intr.fx, 0.0, intr.ppx], [0.0, intr.fy, intr.ppy], [0.0, 0.0, 1.0]])
            frames = pipeline.wait_for_frames(int(self.start_timeout_s * 1000))
            self._take(frames)
        except BaseException as e:
            self.stop()
            if isinstance(e, RuntimeError):
                raise CameraFault(f"{what} did not start: {e}") from e
            raise

    def _take(self, frames: Any) -> None:
        color = frames.get_color_frame()
        if not color:
            return
        n = int(color.get_frame_number())
        t_dev = float(color.get_timestamp()) / 1000.0
        if self._latest is not None and (self._latest.stamp.number, self._latest.stamp.t_device) == (n, t_dev):
            return
        raw = np.asanyarray(color.get_data())
        img = resize_rgb(np.array(raw, dtype=np.uint8, copy=True), self.image_size)
        self._latest = Frame(img, FrameStamp(n, self.clock.now(), image_digest(raw), t_dev))

    def poll(self) -> None:
        frames = self.pipeline.poll_for_frames()
        if frames:
            self._take(frames)

    def latest(self) -> Frame | None:
        return self._latest

    def stop(self) -> None:
        if self.pipeline is not None:
            pipeline, self.pipeline = self.pipeline, None
            call_with_timeout(self.clock, self.timeout_s, f"camera {self.name}: pipeline.stop", pipeline.stop)


class AriaCamera:
    """The Aria's RGB stream, undistorted to the spec's linear camera and rotated upright.

    The linear camera: focal `spec.focal_px` scaled by H / `spec.at_height`, principal
    point at the image centre, at image_size = (H, W) after the rotation. The raw Aria
    RGB image is sideways: it is undistorted to a linear image H pixels wide and W tall,
    then rotated 90 degrees clockwise (as EgoMimic does) to (H, W). Frames arrive on the
    SDK's thread (`on_image_received`), each stamped with the clock time it arrived and
    its `capture_timestamp_ns` (the glasses' clock, s); undistortion runs in `poll()` once
    per new frame. A raw image must have the size of the device calibration's RGB camera
    (a streaming profile whose resolution differs stops with CameraFault, never a silent
    resample). `on_streaming_client_failure` makes the next poll raise CameraFault.
    Blocking SDK calls (connect, start/stop streaming, subscribe) give up after timeout_s."""

    CAMERA_LABEL = "camera-rgb"

    def __init__(self, sdk: Any, calibration_module: Any, spec: CameraSpec, image_size: tuple[int, int],
                 clock: Clock, interface: str = "usb", device_ip: str | None = None,
                 profile: str = "profile18", start_timeout_s: float = 5.0, timeout_s: float = 5.0):
        self.sdk, self.calib_mod, self.spec = sdk, calibration_module, spec
        self.name = spec.name
        self.image_size, self.clock = tuple(image_size), clock
        self.interface, self.device_ip, self.profile = interface, device_ip, profile
        self.start_timeout_s, self.timeout_s = start_timeout_s, timeout_s
        self.focal_px = spec.focal_px * self.image_size[0] / spec.at_height
        self._lock = threading.Lock()
        self._raw: tuple[np.ndarray, int, float, float] | None = None
        self._latest: Frame | None = None
        self._failure: str | None = None
        self._device_client = self._device = self._manager = self._client = None
        self._streaming = False
        self._src_calib = self._dst_calib = None

    # The SDK calls these on its own thread.
    def on_image_received(self, image: np.ndarray, record: Any) -> None:
        # record.camera_id is a plain int; the SDK's CameraId members compare equal only to themselves
        if int(record.camera_id) != int(self.sdk.CameraId.Rgb):
            return
        with self._lock:
            self._raw = (image, int(record.frame_number), self.clock.now(), 1e-9 * float(record.capture_timestamp_ns))

    def on_streaming_client_failure(self, reason: Any, message: str) -> None:
        with self._lock:
            self._failure = f"{reason}: {message}"

    def _call(self, what: str, fn: Callable[..., Any], *args) -> Any:
        return call_with_timeout(self.clock, self.timeout_s, f"camera {self.name} (Aria): {what}", fn, *args)

    def start(self) -> None:
        """Connect, stream, parse the calibration, subscribe, wait for a first frame.
        Whatever fails, everything started so far is stopped before CameraFault is raised."""
        try:
            self._start()
        except BaseException as e:
            try:
                self.stop()
            except Exception as stop_error:  # keep the start-up error; report the other
                LOG.error("camera %s (Aria): releasing after a failed start: %s", self.name, stop_error)
            if isinstance(e, (RuntimeError, DriverTimeout, CameraFault)):
                raise CameraFault(str(e) if isinstance(e, CameraFault) else
                                  f"camera {self.name} (Aria) did not start: {e}") from e
            raise

    def _start(self) -> None:
        sdk, cm = self.sdk, self.calib_mod
        self._device_client = sdk.DeviceClient()
        cfg = sdk.DeviceClientConfig()
        if self.device_ip:
            cfg.ip_v4_address = self.device_ip
        self._device_client.set_client_config(cfg)
        self._device = self._call("DeviceClient.connect", self._device_client.connect)
        self._manager = self._device.streaming_manager
        scfg = sdk.StreamingConfig()
        scfg.profile_name = self.profile
        if self.interface == "usb":
            scfg.streaming_interface = sdk.StreamingInterface.Usb
        scfg.security_options.use_ephemeral_certs = True
        self._manager.streaming_config = scfg
        self._call("start_streaming", self._manager.start_streaming)
        self._streaming = True
        device_calib = cm.device_calibration_from_json_string(
            self._call("sensors_calibration", self._manager.sensors_calibration))
        if device_calib is None:
            raise CameraFault(f"camera {self.name} (Aria): the glasses' calibration did not parse "
                              f"(device_calibration_from_json_string returned None); reconnect the glasses or "
                              f"update projectaria_tools")
        self._src_calib = device_calib.get_camera_calib(self.CAMERA_LABEL)
        if self._src_calib is None:
            raise CameraFault(f"camera {self.name} (Aria): the device calibration has no {self.CAMERA_LABEL!r} camera")
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
        self._call("subscribe", self._client.subscribe)
        t_end = self.clock.now() + self.start_timeout_s
        while self._raw is None and self.clock.now() < t_end:
            self.clock.sleep(0.005)
        if self._raw is None:
            raise CameraFault(f"camera {self.name} (Aria): no RGB frame within {self.start_timeout_s} s of subscribing")
        self.poll()

    def undistort(self, raw: np.ndarray) -> np.ndarray:
        """Raw (sideways, fisheye) Aria RGB -> upright linear image (H, W, 3) uint8."""
        want_w, want_h = (int(x) for x in self._src_calib.get_image_size())
        if raw.shape[:2] != (want_h, want_w):
            raise CameraFault(f"camera {self.name} (Aria): raw RGB image is {raw.shape[1]}x{raw.shape[0]} px but its "
                              f"calibration is for {want_w}x{want_h}; stream a profile at the calibration's "
                              f"resolution (aria_profile) or rescale the calibration")
        lin = self.calib_mod.distort_by_calibration(raw, self._dst_calib, self._src_calib)
        up = np.rot90(np.asarray(lin), k=-1)  # 90 degrees clockwise
        if up.shape[:2] != self.image_size:
            raise CameraFault(f"camera {self.name}: undistorted image is {up.shape[:2]}, expected {self.image_size}")
        return np.ascontiguousarray(up, dtype=np.uint8)

    def poll(self) -> None:
        with self._lock:
            raw, failure = self._raw, self._failure
        if failure is not None:
            raise CameraFault(f"camera {self.name} (Aria): streaming client failed: {failure}")
        if raw is None:
            return
        image, n, t, t_dev = raw
        if self._latest is not None and (self._latest.stamp.number, self._latest.stamp.t_device) == (n, t_dev):
            return
        self._latest = Frame(self.undistort(image), FrameStamp(n, t, image_digest(image), t_dev))

    def latest(self) -> Frame | None:
        return self._latest

    def stop(self) -> None:
        """Unsubscribe, stop streaming, disconnect: each step that started, each tried even if
        an earlier one fails (the first failure is raised afterwards)."""
        errors: list[BaseException] = []
        steps = []
        if self._client is not None:
            steps.append(("unsubscribe", self._client.unsubscribe))
        if self._manager is not None and self._streaming:
            steps.append(("stop_streaming", self._manager.stop_streaming))
        if self._device_client is not None and self._device is not None:
            steps.append(("disconnect", lambda: self._device_client.disconnect(self._device)))
        for what, fn in steps:
            try:
                self._call(what, fn)
            except Exception as e:
                errors.append(e)
        self._client = self._manager = self._device = None
        self._streaming = False
        if errors:
            raise errors[0]


def linear_intrinsics(spec: CameraSpec, size: Sequence[int]) -> np.ndarray:
    """K of the spec's linear camera at size = (H, W): focal scaled with H, centred."""
    f = spec.focal_px * size[0] / spec.at_height
    return np.array([[f, 0.0, size[1] / 2.0], [0.0, f, size[0] / 2.0], [0.0, 0.0, 1.0]])
