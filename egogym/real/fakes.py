"""Fake hardware that speaks the vendors' APIs: for tests and operator rehearsals.

- Interbotix (ROS 2): `InterbotixManipulatorXS(robot_model, group_name, gripper_name,
  robot_name, node)` with `.arm` (set_joint_positions, set_trajectory_time,
  get_joint_commands), `.gripper` (grasp, release, set_pressure) and `.core`
  (joint_states, robot_set_operating_modes, robot_torque_enable,
  robot_write_joint_command); `create_interbotix_global_node`, `robot_startup`,
  `robot_shutdown`.
- pyrealsense2: `pipeline()` (start, wait_for_frames, poll_for_frames, stop), `config()`
  (enable_device, enable_stream), `stream.color`, `format.rgb8`, frames with
  get_frame_number / get_timestamp / get_data, a profile with the stream's intrinsics.
- aria.sdk: DeviceClient / DeviceClientConfig / StreamingConfig, a device whose
  `streaming_manager` starts streaming, returns `sensors_calibration()` JSON and has a
  `streaming_client` (subscription_config, set_streaming_client_observer, subscribe)
  that calls `on_image_received(image, record)`.
- projectaria_tools.core.calibration: device_calibration_from_json_string,
  get_linear_camera_calibration, distort_by_calibration (a pinhole resampler: the fake
  Aria lens has no distortion).

`FakeHardware` builds all of them on one clock and injects faults: a frozen camera
(counter stops, or the same image with advancing numbers), a dropped camera (the
driver raises, or frames stop), an arm that raises. Every command an arm receives is
kept in `FakeArm.sent` for checking. `FakeLeaderArm` is a WidowX leader arm (an
`InterbotixManipulatorXS` too, reached by its `leader_names` robot name) whose
joint_states replay a scripted trajectory; it refuses every command.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from egogym.real.devices import Drivers
from egogym.core.spec import ArmSpec, RobotSpec

FAKE_START_POSE = (0.0, -1.6, 1.5, 0.0, 0.6, 0.0)
"""Where fake arms start (rad): a rest pose inside the limits, away from home."""


class FakeClock:
    """A clock whose sleep advances time instantly and notifies listeners (fake devices)."""

    def __init__(self, start: float = 1000.0):
        self.t = start
        self.listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        for fn in list(self.listeners):
            fn(self.t)


# ---- Interbotix ---------------------------------------------------------------------
ARM_JOINT_NAMES = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")


class FakeArmGroup:
    def __init__(self, owner: "FakeArm"):
        self._o = owner
        self.moving_time, self.accel_time = 2.0, 0.3

    def set_trajectory_time(self, moving_time: float | None = None, accel_time: float | None = None) -> None:
        if moving_time is not None:
            self.moving_time = moving_time
        if accel_time is not None:
            self.accel_time = accel_time

    def set_joint_positions(self, joint_positions, moving_time=None, accel_time=None, blocking=True) -> bool:
        o = self._o
        q = [float(x) for x in joint_positions]
        if len(q) != 6:
            raise ValueError(f"set_joint_positions: 6 positions expected, got {len(q)}")
        o.n_commands += 1
        if o.fail_after is not None and o.n_commands > o.fail_after:
            raise RuntimeError(f"[xs_sdk] {o.robot_name}: motor 'shoulder' hardware error (overload)")
        o.sent.append(("arm", np.array(q), blocking))
        o.commanded[:6] = q
        o.position[:6] = q  # the fake tracks its target at once
        return True

    def get_joint_commands(self) -> list[float]:
        return list(self._o.commanded[:6])

    def go_to_home_pose(self, *a, **k) -> bool:
        return self.set_joint_positions([0.0] * 6, blocking=True)

    def go_to_sleep_pose(self, *a, **k) -> bool:
        return self.set_joint_positions(list(FAKE_START_POSE), blocking=True)


class FakeGripper:
    def __init__(self, owner: "FakeArm"):
        self._o = owner
        self.pressure = 0.5

    def set_pressure(self, pressure: float) -> None:
        self.pressure = pressure

    def grasp(self, delay: float = 0.0) -> None:
        self._o.core.robot_write_joint_command("gripper", self._o.gripper_motor_range[0])

    def release(self, delay: float = 0.0) -> None:
        self._o.core.robot_write_joint_command("gripper", self._o.gripper_motor_range[1])


class FakeCore:
    def __init__(self, owner: "FakeArm"):
        self._o = owner
        self.modes: dict[tuple[str, str], str] = {}
        self.torque: dict[tuple[str, str], bool] = {}

    @property
    def joint_states(self):
        o = self._o
        if o.fail_reads:
            raise RuntimeError(f"{o.robot_name}: joint_states stopped (xs_sdk node gone)")
        finger = float(o.arm_spec.gripper.to_finger(o.gripper_norm))
        return SimpleNamespace(name=list(ARM_JOINT_NAMES) + ["gripper", "left_finger", "right_finger"],
                               position=list(o.position[:6]) + [o.gripper_motor, finger, -finger],
                               velocity=[0.0] * 9, effort=[0.0] * 9)

    def robot_set_operating_modes(self, cmd_type, name, mode, profile_type="velocity", profile_velocity=0,
                                  profile_acceleration=0) -> None:
        self.modes[(cmd_type, name)] = mode

    def robot_torque_enable(self, cmd_type, name, enable) -> None:
        self.torque[(cmd_type, name)] = bool(enable)

    def robot_write_joint_command(self, joint_name: str, command: float) -> None:
        o = self._o
        if joint_name != "gripper":
            raise ValueError(f"fake robot has no single joint {joint_name!r}")
        if o.core.modes.get(("single", "gripper")) != "current_based_position":
            raise RuntimeError("gripper not in position mode: call robot_set_operating_modes first")
        o.sent.append(("gripper", float(command), False))
        o.gripper_motor = float(command)
        lo, hi = o.gripper_motor_range
        o.gripper_norm = float(np.clip((command - lo) / (hi - lo), 0.0, 1.0))


class FakeArm:
    """A fake `InterbotixManipulatorXS` (ROS 2 API). Faults: fail_after (commands), fail_reads."""

    def __init__(self, hardware: "FakeHardware", robot_model: str, group_name: str = "arm",
                 gripper_name: str = "gripper", robot_name: str | None = None, node: Any = None, **kwargs):
        arm_name = hardware.arm_for_robot_name(robot_name)
        self.robot_name, self.robot_model = robot_name, robot_model
        self.arm_spec: ArmSpec = hardware.spec.arm(arm_name)
        self.gripper_motor_range = hardware.gripper_motor_range[arm_name]
        self.position = np.array(FAKE_START_POSE, dtype=float)
        self.commanded = self.position.copy()
        self.gripper_norm = 0.5
        self.gripper_motor = float(np.mean(self.gripper_motor_range))
        self.sent: list[tuple[str, Any, bool]] = []
        self.n_commands = 0
        self.fail_after: int | None = None
        self.fail_reads = False
        self.arm = FakeArmGroup(self)
        self.gripper = FakeGripper(self)
        self.core = FakeCore(self)
        hardware.arms[arm_name] = self

    def arm_commands(self) -> np.ndarray:
        """(N, 6) every joint target received (rad)."""
        rows = [q for kind, q, _ in self.sent if kind == "arm"]
        return np.array(rows).reshape(-1, 6)

    def gripper_commands(self) -> np.ndarray:
        """(N,) every gripper motor target received (rad)."""
        return np.array([q for kind, q, _ in self.sent if kind == "gripper"], dtype=float)


class FakeLeaderCore(FakeCore):
    """The leader's `core`: joint_states from the scripted trajectory; no joint commands."""

    @property
    def joint_states(self):
        o = self._o
        if o.fail_reads:
            raise RuntimeError(f"{o.robot_name}: joint_states stopped (xs_sdk node gone)")
        row = o.current()
        closed, opened = o.gripper_range
        grip = closed + float(row[6]) * (opened - closed)
        return SimpleNamespace(name=list(ARM_JOINT_NAMES) + ["gripper", "left_finger", "right_finger"],
                               position=[float(x) for x in row[:6]] + [grip, 0.03, -0.03],
                               velocity=[0.0] * 9, effort=[0.0] * 9)

    def robot_write_joint_command(self, joint_name: str, command: float) -> None:
        raise AssertionError(f"a command ({joint_name} <- {command}) was sent to leader arm {self._o.robot_name}")


class FakeLeaderGroup:
    def __init__(self, owner: "FakeLeaderArm"):
        self._o = owner

    def set_joint_positions(self, *a, **k):
        raise AssertionError(f"set_joint_positions was called on leader arm {self._o.robot_name}")

    def set_trajectory_time(self, *a, **k) -> None:
        pass


class FakeLeaderArm:
    """A WidowX leader arm moved by a scripted hand: joint_states replay `trajectory`.

    trajectory: (N, 7) rows [6 joint angles (rad), gripper normalized in [0, 1]] at
    `rate_hz`, starting at the first joint_states read after construction or `script()`;
    after the last row it holds that row, or with loop=True starts over. The gripper
    joint reads as `gripper_range` (closed, open) rad interpolated by the normalized value.
    The default script is a 4 s periodic motion around the follower's home command."""

    def __init__(self, hardware: "FakeHardware", arm_name: str, robot_model: str = "wx250s",
                 robot_name: str | None = None, **kwargs):
        self.robot_name, self.robot_model, self.clock = robot_name, robot_model, hardware.clock
        self.arm_spec: ArmSpec = hardware.spec.arm(arm_name)
        self.gripper_range = tuple(hardware.leader_gripper_range.get(arm_name, (-0.8, 0.5)))
        self.fail_reads = False
        self.reads = 0
        home = np.asarray(self.arm_spec.home_command, float)
        t = np.arange(0.0, 4.0, 0.02)
        wave = np.sin(2 * np.pi * t / 4.0)[:, None]
        amp = np.array([0.3, 0.15, -0.15, 0.0, 0.2, 0.1])
        self.script(np.concatenate([home[:6] + wave * amp, np.clip(0.5 + 0.4 * wave, 0, 1)], axis=1), 50.0, loop=True)
        self.arm = FakeLeaderGroup(self)
        self.gripper = SimpleNamespace(set_pressure=lambda p: None)
        self.core = FakeLeaderCore(self)
        hardware.leaders[arm_name] = self

    def script(self, trajectory: np.ndarray, rate_hz: float = 50.0, loop: bool = False) -> None:
        """Replace the trajectory ((N, 7), see the class docstring); it starts at the next read."""
        traj = np.asarray(trajectory, float)
        if traj.ndim != 2 or traj.shape[1] != 7 or len(traj) < 1:
            raise ValueError(f"leader trajectory has shape {traj.shape}; give (N, 7)")
        self.trajectory, self.rate_hz, self.loop = traj, float(rate_hz), loop
        self._t0: float | None = None

    def current(self) -> np.ndarray:
        """The row being played now (7,)."""
        now = self.clock.now()
        if self._t0 is None:
            self._t0 = now
        self.reads += 1
        k = int(round((now - self._t0) * self.rate_hz))
        k = k % len(self.trajectory) if self.loop else min(k, len(self.trajectory) - 1)
        return self.trajectory[k]


# ---- RealSense ----------------------------------------------------------------------
class FakeColorFrame:
    def __init__(self, number: int, t_ms: float, image: np.ndarray):
        self._n, self._t, self._img = number, t_ms, image

    def get_frame_number(self) -> int:
        return self._n

    def get_timestamp(self) -> float:
        return self._t

    def get_data(self) -> np.ndarray:
        return self._img

    def __bool__(self) -> bool:
        return True


class FakeFrameset:
    def __init__(self, color: FakeColorFrame | None):
        self._color = color

    def get_color_frame(self):
        return self._color

    def __bool__(self) -> bool:
        return self._color is not None

    def size(self) -> int:
        return int(self._color is not None)


class FakeRsDevice:
    """A D405 on the fake USB bus. mode: ok | frozen (counter stops) | same_image | dropped | silent."""

    def __init__(self, serial: str, clock, width: int, height: int, fps: int, seed: int):
        self.serial, self.clock = serial, clock
        self.width, self.height, self.fps = width, height, fps
        self.mode, self.fault_at = "ok", float("inf")
        self.mode_after = "ok"
        self.t_start = clock.now()
        self._seed = seed
        self._frozen_n: int | None = None
        self.K = np.array([[0.9 * width, 0, width / 2], [0, 0.9 * width, height / 2], [0, 0, 1.0]])

    def inject(self, mode: str, at: float) -> None:
        if mode not in ("frozen", "same_image", "dropped", "silent"):
            raise ValueError(f"fault mode {mode!r}")
        self.mode_after, self.fault_at = mode, at

    def clear(self) -> None:
        """The device works again (a replugged cable)."""
        self.mode_after, self.fault_at, self._frozen_n = "ok", float("inf"), None

    def _mode(self) -> str:
        return self.mode_after if self.clock.now() >= self.fault_at else "ok"

    def image(self, n: int) -> np.ndarray:
        img = np.zeros((self.height, self.width, 3), np.uint8)
        img[..., 0] = (np.arange(self.width)[None, :] * 7 + self._seed) % 256
        img[..., 1] = n % 256
        img[..., 2] = (n // 256) % 256
        return img

    def current(self) -> FakeFrameset:
        mode = self._mode()
        if mode == "dropped":
            raise RuntimeError(f"device {self.serial} disconnected (No such device)")
        if mode == "silent":
            return FakeFrameset(None)
        n = int((self.clock.now() - self.t_start) * self.fps) + 1
        if mode == "frozen":
            self._frozen_n = self._frozen_n or n
            n = self._frozen_n
            img = self.image(n)
        elif mode == "same_image":
            img = self.image(0)
        else:
            img = self.image(n)
        return FakeFrameset(FakeColorFrame(n, (self.clock.now() - self.t_start) * 1000.0, img))


class FakeRsConfig:
    def __init__(self):
        self.serial: str | None = None
        self.streams: list[tuple] = []

    def enable_device(self, serial: str) -> None:
        self.serial = serial

    def enable_stream(self, stream, width, height, fmt, fps) -> None:
        self.streams.append((stream, width, height, fmt, fps))


class FakeRsPipeline:
    def __init__(self, hardware: "FakeHardware"):
        self._hw = hardware
        self.device: FakeRsDevice | None = None

    def start(self, config: FakeRsConfig):
        dev = self._hw.realsense_devices.get(config.serial)
        if dev is None:
            raise RuntimeError(f"No device connected with serial {config.serial}")
        (_, w, h, fmt, fps), = config.streams
        if (w, h, fps) != (dev.width, dev.height, dev.fps) or fmt != "rgb8":
            raise RuntimeError(f"Couldn't resolve requests ({w}x{h} {fmt} @ {fps})")
        self.device = dev
        intr = SimpleNamespace(width=w, height=h, fx=dev.K[0, 0], fy=dev.K[1, 1], ppx=dev.K[0, 2], ppy=dev.K[1, 2],
                               model="brown_conrady", coeffs=[0.0] * 5)
        vsp = SimpleNamespace(get_intrinsics=lambda: intr)
        stream = SimpleNamespace(as_video_stream_profile=lambda: vsp)
        return SimpleNamespace(get_stream=lambda s: stream)

    def wait_for_frames(self, timeout_ms: int = 5000) -> FakeFrameset:
        fs = self.device.current()
        if not fs:
            raise RuntimeError(f"Frame didn't arrive within {timeout_ms}")
        return fs

    def poll_for_frames(self) -> FakeFrameset:
        return self.device.current()

    def stop(self) -> None:
        self.device = None


# ---- Aria ---------------------------------------------------------------------------
@dataclass
class FakeCameraCalibration:
    """Pinhole calibration (the fake lens has no distortion)."""

    label: str
    width: int
    height: int
    focal: float
    T_device_camera: Any = None

    def get_image_size(self) -> np.ndarray:
        return np.array([self.width, self.height])

    def get_focal_lengths(self) -> np.ndarray:
        return np.array([self.focal, self.focal])

    def get_principal_point(self) -> np.ndarray:
        return np.array([self.width / 2.0, self.height / 2.0])

    def get_label(self) -> str:
        return self.label

    def get_transform_device_camera(self):
        return self.T_device_camera


class FakeDeviceCalibration:
    def __init__(self, d: dict):
        self._cams = {c["label"]: FakeCameraCalibration(c["label"], c["width"], c["height"], c["focal"], "T")
                      for c in d["cameras"]}

    def get_camera_calib(self, label: str):
        return self._cams.get(label)


def _distort_by_calibration(image: np.ndarray, dst: FakeCameraCalibration, src: FakeCameraCalibration) -> np.ndarray:
    v, u = np.mgrid[0:dst.height, 0:dst.width] + 0.5
    x = (u - dst.width / 2.0) / dst.focal
    y = (v - dst.height / 2.0) / dst.focal
    us = np.floor(x * src.focal + src.width / 2.0).astype(int)
    vs = np.floor(y * src.focal + src.height / 2.0).astype(int)
    ok = (us >= 0) & (us < src.width) & (vs >= 0) & (vs < src.height)
    out = np.zeros((dst.height, dst.width) + image.shape[2:], image.dtype)
    out[ok] = image[vs[ok], us[ok]]
    return out


class FakeAria:
    """The glasses: an RGB stream at `fps`. mode: ok | frozen (same frame number again) |
    dropped (no more frames)."""

    def __init__(self, clock, raw_size: int = 48, focal: float = 20.0, fps: float = 30.0):
        self.clock, self.raw_size, self.focal, self.fps = clock, raw_size, focal, fps
        self.mode_after, self.fault_at = "ok", float("inf")
        self.observer = None
        self.streaming = False
        self._n = 0
        self._t_next = clock.now()
        self._thread: threading.Thread | None = None

    def inject(self, mode: str, at: float) -> None:
        if mode not in ("frozen", "dropped"):
            raise ValueError(f"fault mode {mode!r}")
        self.mode_after, self.fault_at = mode, at

    def clear(self) -> None:
        """The glasses stream again."""
        self.mode_after, self.fault_at = "ok", float("inf")

    def calibration_json(self) -> str:
        return json.dumps({"cameras": [{"label": "camera-rgb", "width": self.raw_size, "height": self.raw_size,
                                        "focal": self.focal}]})

    def image(self, n: int) -> np.ndarray:
        s = self.raw_size
        img = np.zeros((s, s, 3), np.uint8)
        img[..., 0] = (np.arange(s)[:, None] * 5) % 256  # rows: shows the rotation
        img[..., 1] = n % 256
        return img

    def tick(self, now: float) -> None:
        if not self.streaming or self.observer is None or now < self._t_next:
            return
        mode = self.mode_after if now >= self.fault_at else "ok"
        if mode == "dropped":
            return
        if mode == "ok":
            self._n += 1
        self._t_next = now + 1.0 / self.fps
        record = SimpleNamespace(camera_id="rgb", frame_number=self._n, capture_timestamp_ns=int(now * 1e9))
        self.observer.on_image_received(self.image(self._n), record)

    def start_thread(self) -> None:
        def run():
            while self.streaming:
                self.tick(self.clock.now())
                time.sleep(0.5 / self.fps)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()


def _aria_sdk(aria: FakeAria, clock) -> SimpleNamespace:
    class StreamingClient:
        def __init__(self):
            self.subscription_config = SimpleNamespace(subscriber_data_type=None, message_queue_size={})

        def set_streaming_client_observer(self, observer) -> None:
            aria.observer = observer

        def subscribe(self) -> None:
            if not aria.streaming:
                raise RuntimeError("not streaming: call start_streaming first")
            if isinstance(clock, FakeClock):
                clock.listeners.append(aria.tick)
                aria.tick(clock.now())
            else:
                aria.start_thread()

        def unsubscribe(self) -> None:
            aria.observer = None
            if isinstance(clock, FakeClock) and aria.tick in clock.listeners:
                clock.listeners.remove(aria.tick)

    class StreamingManager:
        def __init__(self):
            self.streaming_config = None
            self.streaming_client = StreamingClient()

        def start_streaming(self) -> None:
            if self.streaming_config is None:
                raise RuntimeError("set streaming_config first")
            aria.streaming = True

        def stop_streaming(self) -> None:
            aria.streaming = False

        def sensors_calibration(self) -> str:
            return aria.calibration_json()

    class DeviceClient:
        def set_client_config(self, cfg) -> None:
            self.cfg = cfg

        def connect(self):
            return SimpleNamespace(streaming_manager=StreamingManager())

        def disconnect(self, device) -> None:
            pass

    return SimpleNamespace(
        DeviceClient=DeviceClient,
        DeviceClientConfig=lambda: SimpleNamespace(ip_v4_address=None),
        StreamingConfig=lambda: SimpleNamespace(profile_name=None, streaming_interface=None,
                                                security_options=SimpleNamespace(use_ephemeral_certs=False)),
        StreamingInterface=SimpleNamespace(Usb="usb", WifiStation="wifi"),
        StreamingDataType=SimpleNamespace(Rgb="rgb", Slam="slam", Imu="imu"),
        CameraId=SimpleNamespace(Rgb="rgb", Slam1="slam1", Slam2="slam2"),
    )


# ---- the whole robot ------------------------------------------------------------------
@dataclass
class FakeHardware:
    """Fake arms, D405s and Aria on one clock, with the `Drivers` that reach them."""

    spec: RobotSpec
    clock: Any
    robot_names: dict[str, str]
    gripper_motor_range: dict[str, tuple[float, float]]
    d405_serials: dict[str, str]
    d405_stream: tuple[int, int, int] = (32, 24, 60)
    arms: dict[str, FakeArm] = field(default_factory=dict)
    realsense_devices: dict[str, FakeRsDevice] = field(default_factory=dict)
    aria: FakeAria | None = None
    nodes_started: int = 0
    leader_names: dict[str, str] = field(default_factory=lambda: {"left": "leader_left", "right": "leader_right"})
    leader_gripper_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    leaders: dict[str, FakeLeaderArm] = field(default_factory=dict)

    def __post_init__(self) -> None:
        w, h, fps = self.d405_stream
        for i, serial in enumerate(self.d405_serials.values()):
            self.realsense_devices[serial] = FakeRsDevice(serial, self.clock, w, h, fps, seed=40 * i)
        self.aria = FakeAria(self.clock)

    @classmethod
    def for_config(cls, spec: RobotSpec, cfg, clock) -> "FakeHardware":
        """Fakes matching a RealConfig (robot names, serials, stream size)."""
        return cls(spec, clock, dict(cfg.robot_names), dict(cfg.gripper_motor_range), dict(cfg.d405_serials),
                   tuple(cfg.d405_stream), leader_names=dict(cfg.leader_names),
                   leader_gripper_range=dict(cfg.leader_gripper_range))

    def arm_for_robot_name(self, robot_name: str | None) -> str:
        for arm, name in self.robot_names.items():
            if name == robot_name:
                return arm
        raise RuntimeError(f"no robot named {robot_name!r} (is its xs_sdk launched?)")

    def camera(self, name: str) -> FakeRsDevice | FakeAria:
        """The fake device behind a spec camera name."""
        if self.spec.camera(name).device == "aria":
            return self.aria
        return self.realsense_devices[self.d405_serials[name]]

    @property
    def drivers(self) -> Drivers:
        hw = self

        def make_node(name: str = "egogym"):
            return SimpleNamespace(name=name)

        def startup(node=None) -> None:
            hw.nodes_started += 1

        def shutdown(node=None) -> None:
            hw.nodes_started -= 1

        def manipulator(**kw):
            for arm, name in hw.leader_names.items():
                if kw.get("robot_name") == name:
                    return FakeLeaderArm(hw, arm, **kw)
            return FakeArm(hw, **kw)

        arm_mod = SimpleNamespace(InterbotixManipulatorXS=manipulator)
        robot_mod = SimpleNamespace(create_interbotix_global_node=make_node, robot_startup=startup,
                                    robot_shutdown=shutdown)
        rs = SimpleNamespace(pipeline=lambda: FakeRsPipeline(hw), config=FakeRsConfig,
                             stream=SimpleNamespace(color="color", depth="depth"),
                             format=SimpleNamespace(rgb8="rgb8", bgr8="bgr8", z16="z16"))
        calib = SimpleNamespace(device_calibration_from_json_string=lambda s: FakeDeviceCalibration(json.loads(s)),
                                get_linear_camera_calibration=lambda w, h, f, label, T=None: FakeCameraCalibration(
                                    label, int(w), int(h), float(f), T),
                                distort_by_calibration=_distort_by_calibration)
        return Drivers(interbotix_arm=arm_mod, interbotix_robot=robot_mod, aria_sdk=_aria_sdk(self.aria, self.clock),
                       aria_calibration=calib, realsense=rs)
