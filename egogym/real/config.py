"""Configuration of the real robot: which devices, how to reach them, the safety limits.

Nothing here is a calibration number: intrinsics and the hand-eye extrinsics live in
the calibration file (`calibration`, written by `egogym.real.calibrate`), per-robot
hardware values (gripper motor range, serial numbers) in a hardware JSON file or the
backend options. Options given to `RealBackend` override the hardware file's keys.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from egogym.core.configs import nearest
from egogym.real.devices import GripperMap
from egogym.real.safety import SafetyLimits
from egogym.core.spec import RobotSpec


@dataclass(frozen=True)
class RealConfig:
    """Settings of one real robot (validated on construction; units in each comment)."""

    calibration: str  # path of the calibration JSON (egogym.core.spec.Calibration.save format)
    gripper_motor_range: dict[str, tuple[float, float]]  # arm -> (closed, open) gripper motor position (rad)
    d405_serials: dict[str, str] = field(default_factory=dict)  # wrist camera name -> D405 serial number
    robot_names: dict[str, str] = field(default_factory=lambda: {"left": "follower_left", "right": "follower_right"})
    robot_model: str = "vx300s"  # Interbotix model name of the follower arms
    d405_stream: tuple[int, int, int] = (640, 480, 60)  # colour stream (width px, height px, fps)
    aria_interface: str = "usb"  # "usb" or "wifi"
    aria_device_ip: str | None = None  # the glasses' IP for Wi-Fi streaming
    aria_profile: str = "profile18"  # Aria streaming profile
    moving_time: float = 0.2  # s each joint target takes (time-based profile, set at start-up)
    accel_time: float = 0.1  # s of acceleration / deceleration within it (at most moving_time / 2)
    gripper_current_limit_ma: float = 800.0  # mA, the gripper motor's Current_Limit (written at start-up)
    gripper_horn_radius: float = 0.022  # m, gripper linkage of the motor config (vx300s.yaml horn_radius)
    gripper_arm_length: float = 0.036  # m, idem (vx300s.yaml arm_length)
    start_timeout_s: float = 5.0  # s to wait for each camera's first frame
    driver_timeout_s: float = 10.0  # s any blocking driver call (a service call, a connect) may take
    safety: SafetyLimits = field(default_factory=SafetyLimits)
    log_dir: str | None = None  # folder for stops.jsonl and operator.jsonl (None: logging only)
    # Teleoperation (`egogym collect --embodiment real`, egogym.pipelines.teleop); unused by evaluations.
    leader_names: dict[str, str] = field(default_factory=lambda: {"left": "leader_left", "right": "leader_right"})
    leader_model: str = "wx250s"  # Interbotix model name of the WidowX leader arms
    leader_gripper_range: dict[str, tuple[float, float]] = field(default_factory=dict)  # arm -> leader gripper
    # joint (closed, open) position (rad), mapped to the follower's normalized gripper 0 and 1

    def __post_init__(self) -> None:
        if self.aria_interface not in ("usb", "wifi"):
            raise ValueError(f"aria_interface={self.aria_interface!r}: use 'usb' or 'wifi'")
        if self.aria_interface == "wifi" and not self.aria_device_ip:
            raise ValueError("aria_interface='wifi' needs aria_device_ip (the glasses' IP, from the companion app)")
        for name in ("moving_time", "accel_time", "start_timeout_s", "driver_timeout_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r}: give a number of seconds > 0")
        if self.accel_time > self.moving_time / 2 + 1e-9:
            raise ValueError(f"accel_time={self.accel_time} s: at most half of moving_time={self.moving_time} s "
                             f"(the time-based profile accelerates and decelerates within moving_time)")
        if not 100.0 <= self.gripper_current_limit_ma <= 3200.0:
            raise ValueError(f"gripper_current_limit_ma={self.gripper_current_limit_ma}: give 100 to 3200 mA "
                             f"(ALOHA-style grippers use about 800)")
        for name in ("gripper_horn_radius", "gripper_arm_length"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 < v < 0.2):
                raise ValueError(f"{name}={v!r}: give the gripper linkage length in m (vx300s: 0.022 and 0.036)")
        if self.gripper_arm_length <= self.gripper_horn_radius:
            raise ValueError("gripper_arm_length must exceed gripper_horn_radius (the linkage of the motor config)")
        for key in ("gripper_motor_range", "leader_gripper_range"):
            for arm, rng in getattr(self, key).items():
                if len(rng) != 2 or not all(math.isfinite(float(x)) for x in rng) or rng[0] == rng[1]:
                    raise ValueError(f"{key}[{arm!r}]={rng!r}: give (closed, open) positions in rad")

    def gripper_map(self, arm: str) -> GripperMap:
        """The gripper mapping of `arm` (its calibrated motor range through the linkage)."""
        return GripperMap(self.gripper_motor_range[arm], self.gripper_horn_radius, self.gripper_arm_length)

    def check_for(self, spec: RobotSpec, arms: Sequence[str], cameras: Sequence[str]) -> None:
        """Every active arm and camera has what it needs; raise ValueError naming the missing key."""
        for a in arms:
            if a not in self.gripper_motor_range:
                raise ValueError(f"gripper_motor_range has no entry for arm {a!r}: add "
                                 f"\"gripper_motor_range\": {{\"{a}\": [closed_rad, open_rad]}} to the hardware file")
            self.gripper_map(a).check(f"gripper_motor_range[{a!r}]")
        lag = self.safety.max_joint_step * spec.control_hz * self.moving_time / 2.0
        if self.safety.max_tracking_error <= lag:
            raise ValueError(f"safety.max_tracking_error={self.safety.max_tracking_error} rad is within the lag of the "
                             f"motion profile at the rate limit (max_joint_step x control_hz x moving_time / 2 = "
                             f"{lag:.2f} rad): a healthy arm would stop; raise it or lower moving_time")
            if a not in self.robot_names:
                raise ValueError(f"robot_names has no entry for arm {a!r}: add its Interbotix robot_name")
        for c in cameras:
            if spec.camera(c).device == "d405" and c not in self.d405_serials:
                raise ValueError(f"d405_serials has no entry for camera {c!r}: add its serial "
                                 f"(rs-enumerate-devices lists them) to the hardware file")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "RealConfig":
        """Build from backend options; `hardware` (a JSON file path) supplies defaults."""
        opts = dict(options)
        merged: dict[str, Any] = {}
        hw = opts.pop("hardware", None)
        if hw is not None:
            path = Path(hw)
            if not path.exists():
                raise FileNotFoundError(f"hardware file {path} does not exist; write one as docs/HARDWARE.md shows")
            merged.update(json.loads(path.read_text()))
        merged.update(opts)
        known = [f.name for f in fields(cls)]
        for key in merged:
            if key not in known:
                raise ValueError(f"real backend option {key!r} is unknown; {nearest(key, known)}")
        for key in ("calibration", "gripper_motor_range"):
            if key not in merged:
                raise ValueError(f"the real backend needs {key!r} (in backend_options or the hardware file; "
                                 f"see docs/HARDWARE.md)")
        if isinstance(merged.get("safety"), Mapping):
            merged["safety"] = SafetyLimits.from_dict(merged["safety"])
        merged["gripper_motor_range"] = {k: tuple(float(x) for x in v) for k, v in merged["gripper_motor_range"].items()}
        if "leader_gripper_range" in merged:
            merged["leader_gripper_range"] = {k: tuple(float(x) for x in v)
                                              for k, v in merged["leader_gripper_range"].items()}
        if "d405_stream" in merged:
            merged["d405_stream"] = tuple(int(x) for x in merged["d405_stream"])
        merged["calibration"] = str(merged["calibration"])
        return cls(**merged)
