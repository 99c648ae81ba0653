"""Fake hardware that speaks the vendors' APIs and fails the way their code fails.

Every behaviour below is taken from the vendors' sources (cited in each class's
docstring as repository + path); where the vendor code says nothing (how a limp joint
falls, how much a P controller sags under gravity) the docstring says it is our model.

- Interbotix (ROS 2, `InterbotixManipulatorXS` with `.arm`, `.gripper`, `.core`;
  `create_interbotix_global_node`, `robot_startup`, `robot_shutdown`): one global node,
  construction that blocks while xs_sdk is absent, the arm's own limit and speed check,
  publishes that never raise, motors that follow their goal with the profile of their
  drive mode plus gravity sag, `joint_states` = the last message received (with
  `header.stamp`, fingers by the driver's linkage formula). Faults (`FakeArm`):
  `kill_sdk` (joint_states freeze, publishes vanish, service calls hang),
  `overload(joint)` (that motor turns its own torque off: an arm joint falls, the
  gripper stops), `bus_failure` (fresh messages decoded from zeroed buffers).
- pyrealsense2: `poll_for_frames` returns an empty frameset when nothing new came (also
  when the camera is unplugged), `wait_for_frames` raises after its timeout, timestamps
  in ms of the device clock, frame numbers that restart when the device reconnects.
  Faults (`FakeRsDevice.inject`): unplugged, reconnect, lagging.
- aria.sdk + projectaria_tools.core.calibration: records with an integer `camera_id`,
  callbacks on the SDK's own thread with device-clock `capture_timestamp_ns` and jitter,
  a drop as silence followed by `on_streaming_client_failure`, a calibration parse that
  can return None, a fisheye source calibration. Faults (`FakeAria.inject`): dropped,
  lagging; `calibration_broken`.

`FakeHardware` builds all of them on one clock (`FakeClock` in tests: sleeping advances
time at once, so nothing depends on the machine's speed).
"""
from __future__ import annotations

import json
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from egogym.core.arms import ANGLES_PER_ARM, GRIPPER, JOINTS_PER_ARM
from egogym.real.devices import Drivers
from egogym.core.spec import ArmSpec, RobotSpec

FAKE_START_POSE = (0.0, -1.6, 1.5, 0.0, 0.6, 0.0)
"""Where fake arms start (rad): a rest pose inside the limits, away from home."""

ROS_EPOCH_OFFSET_S = 1.7e9
"""ROS time (header.stamp) is the system clock since the epoch, not the backend's clock:
the fakes stamp messages with the fake clock plus this offset."""


class FakeClock:
    """A clock whose sleep advances time at once and notifies listeners (fake devices).

    `wait(event, timeout_s)` is how the backend waits for a driver call running in a
    worker thread: it returns True as soon as the call returns; when the call instead
    blocked in a fake's `hang()` (a driver that will never answer), it advances the
    clock by the timeout and returns False. The outcome never depends on machine speed."""

    def __init__(self, start: float = 1000.0):
        self.t = start
        self.listeners: list[Callable[[float], None]] = []
        self._lock = threading.Lock()
        self._hung: set[int] = set()  # idents of threads blocked in hang()
        self._release = threading.Event()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        for fn in list(self.listeners):
            fn(self.t)

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        worker = getattr(event, "worker", None)  # the thread running the call (call_with_timeout sets it)
        give_up = time.monotonic() + 30.0
        while not event.wait(0.0005):
            with self._lock:
                hung = worker is not None and worker.ident in self._hung
            if hung:
                self.sleep(timeout_s)
                return event.is_set()
            if time.monotonic() > give_up:
                raise RuntimeError("a fake driver call neither returned nor hung within 30 s of wall time")
        return True

    def hang(self) -> None:
        """Block the calling (worker) thread like a driver call that never returns."""
        with self._lock:
            self._hung.add(threading.get_ident())
        self._release.wait()

    def release_hung(self) -> None:
        """Let every hung fake call return (teardown)."""
        self._release.set()


def _hang(clock) -> None:
    if hasattr(clock, "hang"):
        clock.hang()
    else:  # a wall clock: block until the process ends (the caller's timeout gives up on us)
        threading.Event().wait()


# ---- Interbotix -----------------------------------------------------------------------
ARM_JOINT_NAMES = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
MOTOR_NAMES = ARM_JOINT_NAMES + ("gripper",)

JOINT_STATE_RATE_HZ = 100.0
"""interbotix_xsarm_control/config/vx300s.yaml `joint_state_publisher.update_rate`."""
HORN_RADIUS_M, ARM_LENGTH_M = 0.022, 0.036
"""vx300s.yaml `grippers.gripper.horn_radius` / `arm_length` (the driver defaults 0.014 / 0.024
only apply when the motor config leaves them out)."""
VELOCITY_LIMIT_RAW = 131
"""vx300s.yaml `Velocity_Limit` of every motor, in Dynamixel units of 0.229 rev/min (3.14 rad/s)."""
RPM_UNIT = 0.229  # rev/min per Profile_Velocity / Velocity_Limit unit (X-series)
ACCEL_UNIT = 214.577  # rev/min^2 per Profile_Acceleration unit (X-series, velocity-based profile)
CURRENT_UNIT_MA = 2.69  # mA per Current_Limit / Present_Current unit (XM430)
EEPROM_REGISTERS = frozenset({"Drive_Mode", "Operating_Mode", "Current_Limit", "Velocity_Limit",
                              "Min_Position_Limit", "Max_Position_Limit", "Homing_Offset", "Shutdown"})
"""Dynamixel X-series EEPROM area: writable only with torque off (a write with torque on fails,
and xs_driver's `set_motor_registers` ignores the failure)."""
OVERLOAD_BIT = 1 << 5  # Hardware_Error_Status bit of an overload (X-series)
MIN_RADIAN = -3.14159265  # dynamixel_workbench ModelInfo min_radian of the X-series (raw 0)
FALL_ACCEL, FALL_SPEED = 20.0, 2.0  # rad/s^2, rad/s of a limp joint (our model, not vendor code)
GRAVITY_SAG = np.array([0.0, 0.008, 0.006, 0.0, 0.003, 0.0])  # rad of steady-state P error (our model)
HOLD_CURRENT_MA = np.array([40.0, 420.0, 300.0, 30.0, 120.0, 20.0])  # gravity current at rest (our model)


class InterbotixException(Exception):
    """interbotix_common_modules/common_robot/exceptions.py: what the robot module raises."""


def driver_finger_position(theta: float, horn_radius: float = HORN_RADIUS_M, arm_length: float = ARM_LENGTH_M) -> float:
    """xs_driver `convert_angular_position_to_linear`: finger position (m) of a gripper motor
    angle (rad), through the horn-and-arm linkage (as the driver computes it, in float)."""
    a1 = horn_radius * math.sin(theta)
    c = math.sqrt(horn_radius ** 2 - a1 ** 2)
    a2 = math.sqrt(arm_length ** 2 - c ** 2)
    return float(np.float32(a1 + a2))


def _stamp(t: float) -> SimpleNamespace:
    ros = t + ROS_EPOCH_OFFSET_S
    sec = int(math.floor(ros))
    return SimpleNamespace(sec=sec, nanosec=int(round((ros - sec) * 1e9)) % 1_000_000_000)


class _Motor:
    """One Dynamixel as the fakes need it: registers, torque, error status, state."""

    def __init__(self, name: str, position: float):
        self.name = name
        self.p, self.v, self.goal = float(position), 0.0, float(position)
        self.torque = False
        self.error = 0
        self.mode = "position"
        self.regs: dict[str, int] = {"Drive_Mode": 0, "Profile_Velocity": 0, "Profile_Acceleration": 0,
                                     "Velocity_Limit": VELOCITY_LIMIT_RAW, "Current_Limit": 1193,
                                     "Goal_Current": 1193, "Hardware_Error_Status": 0, "Operating_Mode": 3}
        self.limp_dir = -1.0

    def set_torque(self, on: bool) -> None:
        if on and self.error:  # a motor in an error state refuses torque until rebooted
            return
        if on and not self.torque:
            self.goal, self.v = self.p, 0.0
        self.torque = on

    def reboot(self, enable: bool) -> None:
        """Dynamixel reboot: error cleared, RAM back to defaults (profile 0, goal current = limit)."""
        self.error = 0
        self.regs["Hardware_Error_Status"] = 0
        self.regs["Profile_Velocity"] = self.regs["Profile_Acceleration"] = 0
        self.regs["Goal_Current"] = self.regs["Current_Limit"]
        self.torque = False
        self.v = 0.0
        if enable:
            self.set_torque(True)


class FakeArm:
    """A fake `InterbotixManipulatorXS` (ROS 2) driving a simulated ViperX 300 S.

    Vendor behaviour reproduced (Interbotix/interbotix_ros_toolboxes, humble branch,
    interbotix_xs_toolbox/interbotix_xs_modules/interbotix_xs_modules/xs_robot/):
    - core.py `InterbotixRobotXSCore.__init__`: construction loops on
      `wait_for_service(timeout_sec=5.0)` while xs_sdk is absent, then spins until a first
      joint_states message arrives: it blocks forever (here: `FakeClock.hang`);
    - core.py `_joint_state_cb`: `core.joint_states` is the last message received; nothing
      marks it old when messages stop;
    - core.py `robot_write_commands` / `robot_write_joint_command`, arm.py
      `_publish_commands`: a publish, which never raises and needs no subscriber;
    - core.py service calls (`robot_set_operating_modes`, `robot_torque_enable`,
      `robot_reboot_motors`, `robot_set/get_motor_registers`): `wait_until_future_complete`
      with no timeout: they block forever once xs_sdk is gone;
    - arm.py `_check_joint_limits`: targets truncated to 1 mrad, checked against the joint
      limits and against velocity limits as |goal - last command| / moving_time (the cached
      Python-side moving_time); `set_joint_positions` returns False and publishes nothing;
    - arm.py `set_trajectory_time`: writes Profile_Velocity / Profile_Acceleration =
      int(seconds * 1000) only when the value differs from the cached one (2.0 / 0.3 at
      construction, which are therefore never written).
    Driver side (Interbotix/interbotix_xs_driver, src/xs_driver.cpp, and
    Interbotix/interbotix_ros_core humble,
    interbotix_ros_xseries/interbotix_xs_sdk/src/xs_sdk_obj.cpp):
    - `set_operating_modes`: Drive_Mode bit 2 set for profile_type "time", cleared for
      "velocity" (the default); Profile_Velocity / Profile_Acceleration written as given
      (default 0) in the position modes. A time-based profile reaches the goal in
      Profile_Velocity ms; a velocity-based one caps speed at Profile_Velocity x 0.229
      rev/min (0: no cap below Velocity_Limit) and acceleration at Profile_Acceleration x
      214.577 rev/min^2;
    - `set_motor_registers`: writes each motor, ignoring failures (EEPROM writes with
      torque on do not take); `reboot_motors` clears errors, torques on when asked;
    - `robot_update_joint_states`: a message at update_rate (100 Hz) with header.stamp =
      now, names = the motors then left_finger / right_finger, finger = the linkage formula
      of the gripper angle (`driver_finger_position`), finger velocity and effort 0;
    - `read_joint_states`: when the sync read fails it logs and converts the zero-filled
      buffers: every position is `convertValue2Radian(0)` = min_radian (-pi on the
      X-series: ROBOTIS-GIT/dynamixel-workbench,
      dynamixel_workbench_toolbox/src/dynamixel_workbench_toolbox/dynamixel_driver.cpp and
      dynamixel_item.cpp), velocities and currents 0 (`bus_failure`).
    Motor configuration (Interbotix/interbotix_ros_manipulators,
    interbotix_ros_xsarms/interbotix_xsarm_control/config/vx300s.yaml): joint_states at
    100 Hz, Velocity_Limit 131 (x 0.229 rev/min = 3.14 rad/s), gripper horn_radius 0.022 m and
    arm_length 0.036 m.
    Our model (not vendor code): goals followed critically damped within the profile, a
    steady-state sag under gravity (`GRAVITY_SAG`), a limp arm joint falling at up to
    `FALL_SPEED`, gripper current proportional to its position error up to Current_Limit.

    Test hooks: `sent` (every command published: ("arm", q, blocking) / ("gripper", rad,
    False)), `position` (true joint positions, rad), `motors`, the faults above,
    `block_gripper(rad)` (an object between the fingers)."""

    def __init__(self, hardware: "FakeHardware", robot_model: str, group_name: str = "arm",
                 gripper_name: str = "gripper", robot_name: str | None = None, moving_time: float = 2.0,
                 accel_time: float = 0.3, gripper_pressure: float = 0.5, node: Any = None, **kwargs):
        self.hw, self.clock = hardware, hardware.clock
        self.robot_name, self.robot_model = robot_name, robot_model
        if node is None or node is not hardware.global_node:
            raise InterbotixException("no node given: this fake (like egogym) passes the global node explicitly")
        arm_name = hardware.arm_for_robot_name(robot_name)
        self.arm_name = arm_name
        self.arm_spec: ArmSpec = hardware.spec.arm(arm_name)
        self.gripper_motor_range = hardware.gripper_motor_range[arm_name]
        start = list(FAKE_START_POSE) + [float(np.mean(self.gripper_motor_range))]
        self.motors = {n: _Motor(n, p) for n, p in zip(MOTOR_NAMES, start)}
        for n in ARM_JOINT_NAMES:
            self.motors[n].torque = True
        self.motors["gripper"].torque = True
        self.sent: list[tuple[str, Any, bool]] = []
        self.arm_truth: list[np.ndarray] = []  # true arm joint positions when each arm target was published
        self.sdk_alive = True
        self.bus_ok = True
        self._lock = threading.RLock()
        self._t = self.clock.now()
        self._t0_pub = self._t
        self._k_pub = -1
        self._msg = None
        self._gripper_block: float | None = None
        self.group_info = {"mode": "position", "profile_type": "velocity"}
        self.warnings: list[str] = []
        # core.py: wait for xs_sdk's services, then for a first joint_states message
        if not hardware.sdk_running.get(robot_name, True):
            _hang(self.clock)
        self.core = FakeCore(self)
        self.arm = FakeArmGroup(self, moving_time, accel_time)
        self.gripper = SimpleNamespace(set_pressure=lambda p: None, gripper_name=gripper_name)
        hardware.arms[arm_name] = self

    # ---- simulation -----------------------------------------------------------------
    @property
    def position(self) -> np.ndarray:
        """True joint positions now: 6 arm joints and the gripper motor (rad)."""
        with self._lock:
            self._advance(self.clock.now())
            return np.array([self.motors[n].p for n in MOTOR_NAMES])

    def _advance(self, t: float) -> None:
        if t <= self._t:
            return
        n = max(1, int(math.ceil((t - self._t) / 0.002)))
        dt = (t - self._t) / n
        for _ in range(n):
            for i, name in enumerate(MOTOR_NAMES):
                self._step_motor(self.motors[name], i, dt)
        self._t = t

    def _step_motor(self, m: _Motor, i: int, dt: float) -> None:
        vlim = m.regs["Velocity_Limit"] * RPM_UNIT * 2 * math.pi / 60.0
        if i < 6:
            lo, hi = self.arm_spec.lower[i] - 0.05, self.arm_spec.upper[i] + 0.05
        else:
            lo, hi = min(self.gripper_motor_range) - 0.05, max(self.gripper_motor_range) + 0.05
        if not m.torque:
            if i < 6:  # a limp arm joint falls (the arms hang upside down); the gripper stays
                m.v = float(np.clip(m.v + m.limp_dir * FALL_ACCEL * dt, -FALL_SPEED, FALL_SPEED))
            else:
                m.v = 0.0
            m.p += m.v * dt
        else:
            pv, pa = m.regs["Profile_Velocity"], m.regs["Profile_Acceleration"]
            if m.regs["Drive_Mode"] & 0b100 and pv > 0:  # time-based profile: pv ms to the goal
                w = 4.0 / (pv / 1000.0)
                a_cap = vlim / max(pa / 1000.0, 1e-3)
                v_cap = vlim
            else:  # velocity-based profile (0 = no profile: the position loop alone)
                w = 60.0
                v_cap = min(vlim, pv * RPM_UNIT * 2 * math.pi / 60.0) if pv > 0 else vlim
                a_cap = pa * ACCEL_UNIT * 2 * math.pi / 3600.0 if pa > 0 else math.inf
            acc = float(np.clip(w * w * (m.goal - m.p) - 2.0 * w * m.v, -a_cap, a_cap))
            m.v = float(np.clip(m.v + acc * dt, -v_cap, v_cap))
            m.p += m.v * dt
            if MOTOR_NAMES[i] == "gripper" and self._gripper_block is not None:
                closing = 1.0 if self.gripper_motor_range[0] > self.gripper_motor_range[1] else -1.0
                if closing * (m.p - self._gripper_block) > 0:
                    m.p, m.v = self._gripper_block, 0.0
        if m.p < lo or m.p > hi:  # mechanical stop
            m.p, m.v = float(np.clip(m.p, lo, hi)), 0.0

    def _measured(self) -> tuple[list[float], list[float], list[float]]:
        pos, vel, eff = [], [], []
        for i, name in enumerate(MOTOR_NAMES):
            m = self.motors[name]
            if i < 6:
                sag = GRAVITY_SAG[i] * math.cos(m.p) if m.torque else 0.0
                pos.append(m.p - sag)
                eff.append(HOLD_CURRENT_MA[i] * (1.0 + 0.1 * math.cos(m.p)) if m.torque else 0.0)
            else:
                pos.append(m.p)
                limit = m.regs["Goal_Current"] * CURRENT_UNIT_MA
                eff.append(float(np.clip(4000.0 * (m.goal - m.p), -limit, limit)) if m.torque else 0.0)
            vel.append(m.v)
        return pos, vel, eff

    def _publish_state(self, t: float) -> SimpleNamespace:
        self._advance(t)
        if self.bus_ok:
            pos, vel, eff = self._measured()
        else:  # read_joint_states: failed sync read, zero-filled buffers converted
            n = len(MOTOR_NAMES)
            pos, vel, eff = [MIN_RADIAN] * n, [0.0] * n, [0.0] * n
        finger = driver_finger_position(pos[MOTOR_NAMES.index("gripper")])
        pos = [float(np.float32(x)) for x in pos]
        return SimpleNamespace(header=SimpleNamespace(stamp=_stamp(t), frame_id=""),
                               name=list(MOTOR_NAMES) + ["left_finger", "right_finger"],
                               position=pos + [finger, -finger], velocity=vel + [0.0, 0.0], effort=eff + [0.0, 0.0])

    def current_message(self):
        """The last joint_states message received by the Python API (see the class docstring)."""
        with self._lock:
            now = self.clock.now()
            if self.sdk_alive:
                k = int(math.floor((now - self._t0_pub) * JOINT_STATE_RATE_HZ + 1e-9))
                if k > self._k_pub:
                    self._k_pub = k
                    self._msg = self._publish_state(self._t0_pub + k / JOINT_STATE_RATE_HZ)
            return self._msg

    # ---- the driver side of commands -------------------------------------------------
    def _write_goals(self, names, values) -> None:
        with self._lock:
            self._advance(self.clock.now())
            if not (self.sdk_alive and self.bus_ok):
                return  # nobody subscribed, or the bus write failed: dropped without a word
            for n, v in zip(names, values):
                m = self.motors[n]
                if m.torque:
                    m.goal = float(v)

    def service(self, fn: Callable[[], Any]) -> Any:
        """A service call: runs when xs_sdk is up, blocks forever when it is gone."""
        if not self.sdk_alive:
            _hang(self.clock)
        with self._lock:
            self._advance(self.clock.now())
            return fn()

    def names_of(self, cmd_type: str, name: str) -> list[str]:
        if cmd_type == "group":
            if name != "arm":
                raise InterbotixException(f"group {name!r} does not exist in the motor config")
            return list(ARM_JOINT_NAMES)
        if name not in self.motors:
            raise InterbotixException(f"joint {name!r} does not exist in the motor config")
        return [name]

    # ---- faults -----------------------------------------------------------------------
    def kill_sdk(self) -> None:
        """xs_sdk dies: no more joint_states (the last one stays), publishes reach nobody,
        service calls never return. The motors keep their last goal (torque on)."""
        self.current_message()
        self.sdk_alive = False

    def overload(self, joint: str, fall: float = -1.0) -> None:
        """The motor of `joint` detects an overload and turns its own torque off (Dynamixel
        Shutdown, Hardware_Error_Status bit 5). Nothing reaches Python: joint_states keep
        coming, with that joint falling (arm joints, towards `fall` = -1 or +1) or stopped."""
        with self._lock:
            self._advance(self.clock.now())
            m = self.motors[joint]
            m.error |= OVERLOAD_BIT
            m.regs["Hardware_Error_Status"] = m.error
            m.torque = False
            m.limp_dir = float(np.sign(fall) or -1.0)

    def bus_failure(self, on: bool = True) -> None:
        """The Dynamixel bus stops answering: fresh messages decoded from zeroed buffers;
        goal writes fail (the motors hold their last goal)."""
        with self._lock:
            self._advance(self.clock.now())
            self.bus_ok = not on

    def block_gripper(self, motor_rad: float | None) -> None:
        """An object between the fingers: the gripper motor cannot close past motor_rad."""
        with self._lock:
            self._advance(self.clock.now())
            self._gripper_block = motor_rad

    # ---- test helpers -------------------------------------------------------------------
    def arm_commands(self) -> np.ndarray:
        """(N, 6) every joint target published (rad)."""
        rows = [q for kind, q, _ in self.sent if kind == "arm"]
        return np.array(rows).reshape(-1, 6)

    def gripper_commands(self) -> np.ndarray:
        """(N,) every gripper motor target published (rad)."""
        return np.array([q for kind, q, _ in self.sent if kind == "gripper"], dtype=float)


class FakeCore:
    """`InterbotixRobotXSCore` of a FakeArm (see FakeArm's docstring for the sources)."""

    def __init__(self, owner: FakeArm):
        self._o = owner

    @property
    def joint_states(self):
        return self._o.current_message()

    def robot_get_joint_states(self):
        return self._o.current_message()

    def robot_write_joint_command(self, joint_name: str, command: float) -> None:
        o = self._o
        o.sent.append(("gripper" if joint_name == "gripper" else joint_name, float(command), False))
        if joint_name in o.motors:
            o._write_goals([joint_name], [command])

    def robot_write_commands(self, group_name: str, commands) -> None:
        o = self._o
        o.sent.append(("arm", np.array(commands, float), False))
        if group_name == "arm" and len(commands) == 6:
            o._write_goals(ARM_JOINT_NAMES, commands)

    def robot_set_operating_modes(self, cmd_type: str, name: str, mode: str, profile_type: str = "velocity",
                                  profile_velocity: int = 0, profile_acceleration: int = 0) -> None:
        o = self._o

        def run():
            for n in o.names_of(cmd_type, name):
                m = o.motors[n]
                m.regs["Drive_Mode"] = (m.regs["Drive_Mode"] | 0b100) if profile_type == "time" else \
                    (m.regs["Drive_Mode"] & ~0b100)
                m.mode = mode
                if mode in ("position", "ext_position", "linear_position"):
                    m.regs["Profile_Velocity"] = int(profile_velocity)
                    m.regs["Profile_Acceleration"] = int(profile_acceleration)
            if cmd_type == "group":
                o.group_info.update(mode=mode, profile_type=profile_type)
        o.service(run)

    def robot_torque_enable(self, cmd_type: str, name: str, enable: bool) -> None:
        o = self._o
        o.service(lambda: [o.motors[n].set_torque(bool(enable)) for n in o.names_of(cmd_type, name)])

    def robot_reboot_motors(self, cmd_type: str, name: str, enable: bool, smart_reboot: bool = False) -> None:
        o = self._o

        def run():
            for n in o.names_of(cmd_type, name):
                if smart_reboot and not o.motors[n].error:
                    continue
                o.motors[n].reboot(bool(enable))
        o.service(run)

    def robot_set_motor_registers(self, cmd_type: str, name: str, reg: str, value: int) -> None:
        o = self._o

        def run():
            for n in o.names_of(cmd_type, name):
                m = o.motors[n]
                if reg in EEPROM_REGISTERS and m.torque:
                    continue  # the bus write fails; xs_driver ignores it
                m.regs[reg] = int(value)
        o.service(run)

    def robot_get_motor_registers(self, cmd_type: str, name: str, reg: str) -> list[int]:
        o = self._o
        return o.service(lambda: [int(o.motors[n].regs.get(reg, 0)) for n in o.names_of(cmd_type, name)])

    def robot_get_robot_info(self, cmd_type: str, name: str):
        o = self._o

        def run():
            names = o.names_of(cmd_type, name)
            return SimpleNamespace(joint_names=names, num_joints=len(names), mode=o.group_info["mode"],
                                   profile_type=o.group_info["profile_type"])
        return o.service(run)


class FakeArmGroup:
    """arm.py `InterbotixArmXSInterface` of a FakeArm (see FakeArm's docstring)."""

    def __init__(self, owner: FakeArm, moving_time: float, accel_time: float):
        o = self._o = owner
        self.moving_time, self.accel_time = moving_time, accel_time
        info = o.core.robot_get_robot_info("group", "arm")
        if info.profile_type != "time":
            o.warnings.append("Group 'arm' profile_type not set to 'time'.")
        msg = o.current_message()
        self.joint_commands = [msg.position[msg.name.index(n)] for n in ARM_JOINT_NAMES]
        self.lower = np.asarray(o.arm_spec.lower[:6], float)
        self.upper = np.asarray(o.arm_spec.upper[:6], float)
        self.velocity_limits = np.full(6, math.pi)  # the vx300s URDF's joint velocity limits (rad/s)
        self.set_trajectory_time(self.moving_time, self.accel_time)

    def set_trajectory_time(self, moving_time: float | None = None, accel_time: float | None = None) -> None:
        core = self._o.core
        if moving_time is not None and moving_time != self.moving_time:
            self.moving_time = moving_time
            core.robot_set_motor_registers("group", "arm", "Profile_Velocity", int(moving_time * 1000))
        if accel_time is not None and accel_time != self.accel_time:
            self.accel_time = accel_time
            core.robot_set_motor_registers("group", "arm", "Profile_Acceleration", int(accel_time * 1000))

    def _check_joint_limits(self, positions) -> bool:
        theta = [int(x * 1000) / 1000.0 for x in positions]
        for x in range(6):
            if not (self.lower[x] <= theta[x] <= self.upper[x]):
                return False
            if abs(theta[x] - self.joint_commands[x]) / float(self.moving_time) > self.velocity_limits[x]:
                return False
        return True

    def set_joint_positions(self, joint_positions, moving_time=None, accel_time=None, blocking=True) -> bool:
        q = [float(x) for x in joint_positions]
        if not self._check_joint_limits(q):
            return False
        self.set_trajectory_time(moving_time, accel_time)
        self.joint_commands = list(q)
        o = self._o
        o.sent.append(("arm", np.array(q), blocking))
        o.arm_truth.append(o.position[:6])
        o._write_goals(ARM_JOINT_NAMES, q)
        if blocking:
            o.clock.sleep(self.moving_time)
        return True

    def get_joint_commands(self) -> list[float]:
        return list(self.joint_commands)


class FakeLeaderCore:
    """The leader's `core`: joint_states from the scripted trajectory; no joint commands.

    `fail_reads` (joint_states raising) is not a vendor behaviour (the real attribute only
    goes stale); it stays for the teleoperation tests, which exercise teleop.py's handling."""

    def __init__(self, owner: "FakeLeaderArm"):
        self._o = owner
        self.torque: dict[tuple[str, str], bool] = {}

    @property
    def joint_states(self):
        o = self._o
        if o.fail_reads:
            raise RuntimeError(f"{o.robot_name}: joint_states stopped (xs_sdk node gone)")
        row = o.current()
        closed, opened = o.gripper_range
        grip = closed + float(row[GRIPPER]) * (opened - closed)
        return SimpleNamespace(header=SimpleNamespace(stamp=_stamp(o.clock.now()), frame_id=""),
                               name=list(MOTOR_NAMES) + ["left_finger", "right_finger"],
                               position=[float(x) for x in row[:ANGLES_PER_ARM]] + [grip, 0.03, -0.03],
                               velocity=[0.0] * 9, effort=[0.0] * 9)

    def robot_torque_enable(self, cmd_type, name, enable) -> None:
        self.torque[(cmd_type, name)] = bool(enable)

    def robot_set_operating_modes(self, *a, **k) -> None:
        pass

    def robot_write_joint_command(self, joint_name: str, command: float) -> None:
        raise AssertionError(f"a command ({joint_name} <- {command}) was sent to leader arm {self._o.robot_name}")

    def robot_write_commands(self, group_name: str, commands) -> None:
        raise AssertionError(f"a command was sent to leader arm {self._o.robot_name}")


class FakeLeaderGroup:
    def __init__(self, owner: "FakeLeaderArm"):
        self._o = owner

    def set_joint_positions(self, *a, **k):
        raise AssertionError(f"set_joint_positions was called on leader arm {self._o.robot_name}")

    def set_trajectory_time(self, *a, **k) -> None:
        pass


class FakeLeaderArm:
    """A WidowX leader arm moved by a scripted hand: joint_states replay `trajectory`.

    trajectory: (N, JOINTS_PER_ARM) rows [6 joint angles (rad), gripper normalized in [0, 1]] at
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
        self.script(np.concatenate([home[:ANGLES_PER_ARM] + wave * amp, np.clip(0.5 + 0.4 * wave, 0, 1)], axis=1),
                    50.0, loop=True)
        self.arm = FakeLeaderGroup(self)
        self.gripper = SimpleNamespace(set_pressure=lambda p: None)
        self.core = FakeLeaderCore(self)
        hardware.leaders[arm_name] = self

    def script(self, trajectory: np.ndarray, rate_hz: float = 50.0, loop: bool = False) -> None:
        """Replace the trajectory ((N, JOINTS_PER_ARM), see the class docstring); it starts at the next read."""
        traj = np.asarray(trajectory, float)
        if traj.ndim != 2 or traj.shape[1] != JOINTS_PER_ARM or len(traj) < 1:
            raise ValueError(f"leader trajectory has shape {traj.shape}; give (N, {JOINTS_PER_ARM})")
        self.trajectory, self.rate_hz, self.loop = traj, float(rate_hz), loop
        self._t0: float | None = None

    def current(self) -> np.ndarray:
        """The row being played now (JOINTS_PER_ARM,)."""
        now = self.clock.now()
        if self._t0 is None:
            self._t0 = now
        self.reads += 1
        k = int(round((now - self._t0) * self.rate_hz))
        k = k % len(self.trajectory) if self.loop else min(k, len(self.trajectory) - 1)
        return self.trajectory[k]


# ---- RealSense --------------------------------------------------------------------------
class FakeColorFrame:
    """A pyrealsense2 video frame: get_frame_number, get_timestamp (ms, device clock), get_data."""

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
    """A pyrealsense2 frameset; falsy when empty (what `poll_for_frames` returns with nothing new)."""

    def __init__(self, color: FakeColorFrame | None):
        self._color = color

    def get_color_frame(self):
        return self._color

    def __bool__(self) -> bool:
        return self._color is not None

    def size(self) -> int:
        return int(self._color is not None)


class FakeRsDevice:
    """A D405 on the fake USB bus, with faults as librealsense shows them.

    IntelRealSense/librealsense, src/pipeline/pipeline.cpp: `poll_for_frames` is a
    `try_dequeue` of the frame queue: it returns an empty frameset when no new frame came,
    whatever the cause (an unplugged camera included), and never raises once started;
    `wait_for_frames` raises `RuntimeError("Frame didn't arrive within <ms>")` after its
    timeout (after trying to restart a disconnected device); a restarted stream counts
    frames from 1 again and its hardware clock restarts. Frame timestamps are ms.
    Faults (`inject(mode, at)`): "unplugged" (no frames), "reconnect" (no frames for
    `gap_s`, then frames again, numbered from 1 on a restarted clock), "lagging" (frames
    keep arriving but each is older than the last: a USB backlog), "same_image" (frames
    keep their numbers advancing with identical pixels; our model of a stuck sensor)."""

    MODES = ("unplugged", "reconnect", "lagging", "same_image")

    def __init__(self, serial: str, clock, width: int, height: int, fps: int, seed: int):
        self.serial, self.clock = serial, clock
        self.width, self.height, self.fps = width, height, fps
        self.mode_after, self.fault_at, self.gap_s = "ok", float("inf"), 1.0
        self.t_start = clock.now()  # the stream's start on the device clock
        self.dev_clock0 = 5000.0 + seed  # the device clock at t_start (s): not the host's
        self._seed = seed
        self.K = np.array([[0.9 * width, 0, width / 2], [0, 0.9 * width, height / 2], [0, 0, 1.0]])
        self.streaming = False

    def inject(self, mode: str, at: float, gap_s: float = 1.0) -> None:
        if mode not in self.MODES:
            raise ValueError(f"fault mode {mode!r}; known: {self.MODES}")
        self.mode_after, self.fault_at, self.gap_s = mode, at, gap_s

    def clear(self) -> None:
        """The device works again (a replugged cable): a fresh stream, numbered from 1."""
        self.mode_after, self.fault_at = "ok", float("inf")
        self.t_start = self.clock.now()

    def image(self, n: int) -> np.ndarray:
        img = np.zeros((self.height, self.width, 3), np.uint8)
        img[..., 0] = (np.arange(self.width)[None, :] * 7 + self._seed) % 256
        img[..., 1] = n % 256
        img[..., 2] = (n // 256) % 256
        return img

    def newest(self) -> FakeColorFrame | None:
        """The newest frame the device has delivered to the host by now (None: none)."""
        now = self.clock.now()
        t0, clock0 = self.t_start, self.dev_clock0
        mode = self.mode_after if now >= self.fault_at else "ok"
        if mode == "unplugged":  # only the frames captured up to the fault
            now = min(now, self.fault_at)
        elif mode == "reconnect":
            if now < self.fault_at + self.gap_s:
                now = min(now, self.fault_at)
            else:
                t0, clock0 = self.fault_at + self.gap_s, 0.0
        n = int(math.floor((now - t0) * self.fps + 1e-9)) + 1
        if n < 1:
            return None
        t_capture = t0 + (n - 1) / self.fps
        if mode == "lagging":  # new frames keep arriving, each captured longer ago: the backlog grows 0.5 s/s
            t_capture -= 0.5 * (now - self.fault_at)
        img = self.image(0 if mode == "same_image" else n)
        return FakeColorFrame(n, (clock0 + t_capture - t0) * 1000.0, img)


class FakeRsConfig:
    def __init__(self):
        self.serial: str | None = None
        self.streams: list[tuple] = []

    def enable_device(self, serial: str) -> None:
        self.serial = serial

    def enable_stream(self, stream, width, height, fmt, fps) -> None:
        self.streams.append((stream, width, height, fmt, fps))


class FakeRsPipeline:
    """pyrealsense2.pipeline over a FakeRsDevice (see FakeRsDevice's docstring)."""

    def __init__(self, hardware: "FakeHardware"):
        self._hw = hardware
        self.device: FakeRsDevice | None = None
        self._last_n: int | None = None
        self._last_t: float | None = None

    def start(self, config: FakeRsConfig):
        dev = self._hw.realsense_devices.get(config.serial)
        if dev is None or (dev.mode_after == "unplugged" and dev.clock.now() >= dev.fault_at):
            raise RuntimeError("No device connected")
        (_, w, h, fmt, fps), = config.streams
        if (w, h, fps) != (dev.width, dev.height, dev.fps) or fmt != "rgb8":
            raise RuntimeError(f"Couldn't resolve requests ({w}x{h} {fmt} @ {fps})")
        self.device = dev
        dev.streaming = True
        dev.t_start = dev.clock.now()
        intr = SimpleNamespace(width=w, height=h, fx=dev.K[0, 0], fy=dev.K[1, 1], ppx=dev.K[0, 2], ppy=dev.K[1, 2],
                               model="brown_conrady", coeffs=[0.0] * 5)
        vsp = SimpleNamespace(get_intrinsics=lambda: intr)
        stream = SimpleNamespace(as_video_stream_profile=lambda: vsp)
        return SimpleNamespace(get_stream=lambda s: stream)

    def _new(self) -> FakeColorFrame | None:
        f = self.device.newest()
        if f is None or (f.get_frame_number() == self._last_n and f.get_timestamp() == self._last_t):
            return None
        self._last_n, self._last_t = f.get_frame_number(), f.get_timestamp()
        return f

    def wait_for_frames(self, timeout_ms: int = 5000) -> FakeFrameset:
        if self.device is None:
            raise RuntimeError("wait_for_frames cannot be called before start()")
        waited = 0.0
        while waited <= timeout_ms / 1000.0:
            f = self._new()
            if f is not None:
                return FakeFrameset(f)
            step = 1.0 / self.device.fps
            self.device.clock.sleep(step)
            waited += step
        raise RuntimeError(f"Frame didn't arrive within {timeout_ms}")

    def poll_for_frames(self) -> FakeFrameset:
        if self.device is None:
            raise RuntimeError("poll_for_frames cannot be called before start()")
        return FakeFrameset(self._new())

    def stop(self) -> None:
        if self.device is None:
            raise RuntimeError("stop() cannot be called before start()")
        self.device.streaming = False
        self.device = None


# ---- Aria ---------------------------------------------------------------------------------
class FakeSdkEnum:
    """An enum member of aria.sdk (a compiled pybind11 module): `int()` and `.value` give its
    number; it compares equal only to members of its own enum, never to a plain int. That is
    pybind11's behaviour for enums declared without `py::arithmetic()` (pybind/pybind11,
    include/pybind11/pybind11.h, `enum_base::init`: `PYBIND11_ENUM_OP_STRICT("__eq__", ...,
    return false)` when the types differ). Whether aria.sdk's CameraId is declared so is not
    visible (the SDK is closed source); the fake takes the strict case, in which
    `record.camera_id == CameraId.Rgb` is False for the int camera_id of projectaria_tools'
    ImageDataRecord. Comparing `int()` of both is right in either case."""

    def __init__(self, kind: str, name: str, value: int):
        self.kind, self.name, self.value = kind, name, value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __eq__(self, other) -> bool:
        return isinstance(other, FakeSdkEnum) and other.kind == self.kind and other.value == self.value

    def __hash__(self) -> int:
        return hash((self.kind, self.value))

    def __repr__(self) -> str:
        return f"<{self.kind}.{self.name}: {self.value}>"


def _enum(kind: str, **members: int) -> SimpleNamespace:
    return SimpleNamespace(**{k: FakeSdkEnum(kind, k, v) for k, v in members.items()})


CAMERA_ID = _enum("CameraId", Slam1=0, Slam2=1, Rgb=2, EyeTrack=3)


@dataclass
class FakeCameraCalibration:
    """projectaria_tools `CameraCalibration`: a linear (pinhole) or fisheye camera.

    The fisheye model is FISHEYE624 with zero distortion terms: r = f * theta
    (equidistant). `get_image_size()` is [width, height] as in projectaria_tools."""

    label: str
    width: int
    height: int
    focal: float
    model: str = "LINEAR"
    T_device_camera: Any = "T_device_camera"

    def get_image_size(self) -> np.ndarray:
        return np.array([self.width, self.height])

    def get_focal_lengths(self) -> np.ndarray:
        return np.array([self.focal, self.focal])

    def get_principal_point(self) -> np.ndarray:
        return np.array([self.width / 2.0, self.height / 2.0])

    def get_label(self) -> str:
        return self.label

    def get_model_name(self) -> str:
        return self.model

    def get_transform_device_camera(self):
        return self.T_device_camera


class FakeDeviceCalibration:
    def __init__(self, d: dict):
        self._cams = {c["label"]: FakeCameraCalibration(c["label"], c["width"], c["height"], c["focal"], c["model"])
                      for c in d["CameraCalibrations"]}

    def get_camera_calib(self, label: str):
        """None for an unknown label (projectaria_tools returns an optional)."""
        return self._cams.get(label)


def _distort_by_calibration(image: np.ndarray, dst: FakeCameraCalibration, src: FakeCameraCalibration) -> np.ndarray:
    """projectaria_tools `distort_by_calibration`: resample image (taken with src) as seen by
    dst; output (dst.height, dst.width). Like the real one it does not check that the image
    has src's size (projectaria_tools 2.3.0 resamples whatever it is given)."""
    v, u = np.mgrid[0:dst.height, 0:dst.width] + 0.5
    x = (u - dst.width / 2.0) / dst.focal
    y = (v - dst.height / 2.0) / dst.focal
    if src.model == "FISHEYE624":
        r = np.hypot(x, y)
        theta = np.arctan(r)
        scale = np.where(r > 0, src.focal * theta / np.maximum(r, 1e-12), src.focal)
        us, vs = x * scale + src.width / 2.0, y * scale + src.height / 2.0
    else:
        us, vs = x * src.focal + src.width / 2.0, y * src.focal + src.height / 2.0
    us, vs = np.floor(us).astype(int), np.floor(vs).astype(int)
    h, w = image.shape[:2]
    ok = (us >= 0) & (us < w) & (vs >= 0) & (vs < h)
    out = np.zeros((dst.height, dst.width) + image.shape[2:], image.dtype)
    out[ok] = image[vs[ok], us[ok]]
    return out


class FakeAria:
    """The glasses: an RGB stream at `fps` delivered as the Aria client SDK does.

    aria.sdk (projectaria-client-sdk, closed source; its documented observer protocol):
    `on_image_received(image, record)` called on the SDK's own thread, `record` a
    projectaria_tools `ImageDataRecord` (facebookresearch/projectaria_tools,
    core/python/SensorDataPyBind.h: `camera_id` a plain int, "ID of the camera, 0 to N"; `frame_number`,
    `capture_timestamp_ns` on the device's clock, `arrival_timestamp_ns`); a lost stream
    is silence, later `on_streaming_client_failure(reason, message)`. Frames are captured
    every 1/fps with up to +-2 ms jitter (our model). `sensors_calibration()` returns the
    device's calibration JSON; `calibration_broken` makes the parse return None
    (projectaria_tools core/calibration/loader/DeviceCalibrationJson.h declares
    `std::optional<DeviceCalibration> deviceCalibrationFromJson`). The RGB source camera is
    a fisheye (FISHEYE624) of `raw_size` px.
    Faults (`inject(mode, at)`): "dropped" (silence, then the failure callback 1 s later),
    "lagging" (frames keep coming with ever older capture times: a Wi-Fi backlog)."""

    MODES = ("dropped", "lagging")

    def __init__(self, clock, raw_size: int = 48, focal: float = 20.0, fps: float = 30.0, seed: int = 0):
        self.clock, self.raw_size, self.focal, self.fps = clock, raw_size, focal, fps
        self.mode_after, self.fault_at = "ok", float("inf")
        self.observer = None
        self.streaming = False
        self.calibration_broken = False
        self.device_clock0 = 12345.678  # the glasses' clock when the host clock read 0 (s)
        self._rng = np.random.default_rng(seed)
        self._n = 0
        self._t_next = clock.now()
        self._failed = False
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.callback_threads: set[str] = set()

    def inject(self, mode: str, at: float) -> None:
        if mode not in self.MODES:
            raise ValueError(f"fault mode {mode!r}; known: {self.MODES}")
        self.mode_after, self.fault_at = mode, at

    def clear(self) -> None:
        """The glasses stream again."""
        self.mode_after, self.fault_at, self._failed = "ok", float("inf"), False

    def calibration_json(self) -> str:
        return json.dumps({"DeviceClassInfo": {"BuildVersion": "fake", "DeviceClass": "Aria"},
                           "CameraCalibrations": [{"label": "camera-rgb", "width": self.raw_size,
                                                   "height": self.raw_size, "focal": self.focal,
                                                   "model": "FISHEYE624"}]})

    def image(self, n: int) -> np.ndarray:
        s = self.raw_size
        img = np.zeros((s, s, 3), np.uint8)
        img[..., 0] = (np.arange(s)[:, None] * 5) % 256  # rows: shows the rotation
        img[..., 1] = n % 256
        return img

    def _deliver(self, job) -> None:
        kind, args = job
        obs = self.observer
        if obs is None:
            return
        self.callback_threads.add(threading.current_thread().name)
        if kind == "image":
            obs.on_image_received(*args)
        elif hasattr(obs, "on_streaming_client_failure"):
            obs.on_streaming_client_failure(*args)

    def _run(self) -> None:
        while True:
            job, done = self._jobs.get()
            if job is None:
                done.set()
                return
            try:
                self._deliver(job)
            finally:
                done.set()

    def _submit(self, job) -> None:
        if self._thread is None:  # unsubscribed meanwhile
            return
        done = threading.Event()
        self._jobs.put((job, done))
        done.wait()

    def tick(self, now: float) -> None:
        """Deliver what the glasses sent by `now` (clock listener; delivery on the SDK thread)."""
        if not self.streaming or self.observer is None:
            return
        mode = self.mode_after if now >= self.fault_at else "ok"
        if mode == "dropped":
            if not self._failed and now >= self.fault_at + 1.0:
                self._failed = True
                self._submit(("failure", ("ErrorCode.StreamingFailure", "streaming client lost the glasses")))
            return
        while now >= self._t_next:
            self._n += 1
            t_cap = self._t_next + float(self._rng.uniform(-0.002, 0.002))
            if mode == "lagging":
                t_cap -= 0.5 * (now - self.fault_at)
            self._t_next += 1.0 / self.fps
            if now - self._t_next > 1.0 / self.fps:  # long sleep: only the newest frame matters
                continue
            record = SimpleNamespace(camera_id=int(CAMERA_ID.Rgb), frame_number=self._n,
                                     capture_timestamp_ns=int(round((self.device_clock0 + t_cap) * 1e9)),
                                     arrival_timestamp_ns=int(round(now * 1e9)))
            self._submit(("image", (self.image(self._n), record)))

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-aria-sdk")
        self._thread.start()

    def stop_thread(self) -> None:
        if self._thread is not None:
            self._submit(None)
            self._thread = None


def _aria_sdk(aria: FakeAria, clock) -> SimpleNamespace:
    class StreamingClient:
        def __init__(self):
            self.subscription_config = SimpleNamespace(subscriber_data_type=None, message_queue_size={})
            self._wall: threading.Thread | None = None

        def set_streaming_client_observer(self, observer) -> None:
            aria.observer = observer

        def subscribe(self) -> None:
            if not aria.streaming:
                raise RuntimeError("not streaming: call start_streaming first")
            aria._t_next = clock.now()
            aria.start_thread()
            if isinstance(clock, FakeClock):
                clock.listeners.append(aria.tick)
                aria.tick(clock.now())
            else:
                def run():
                    while aria.observer is not None and aria.streaming:
                        aria.tick(clock.now())
                        time.sleep(0.5 / aria.fps)

                self._wall = threading.Thread(target=run, daemon=True, name="fake-aria-wall")
                self._wall.start()

        def unsubscribe(self) -> None:
            aria.observer = None
            if isinstance(clock, FakeClock) and aria.tick in clock.listeners:
                clock.listeners.remove(aria.tick)
            aria.stop_thread()

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
            aria.connected = True
            return SimpleNamespace(streaming_manager=StreamingManager())

        def disconnect(self, device) -> None:
            aria.connected = False

    return SimpleNamespace(
        DeviceClient=DeviceClient,
        DeviceClientConfig=lambda: SimpleNamespace(ip_v4_address=None),
        StreamingConfig=lambda: SimpleNamespace(profile_name=None, streaming_interface=None,
                                                security_options=SimpleNamespace(use_ephemeral_certs=False)),
        StreamingInterface=_enum("StreamingInterface", WifiStation=0, Usb=1),
        StreamingDataType=_enum("StreamingDataType", Rgb=1, Slam=2, Imu=4),
        CameraId=CAMERA_ID,
    )


def _calibration_module(aria: FakeAria) -> SimpleNamespace:
    def parse(s: str):
        if aria.calibration_broken:
            return None
        return FakeDeviceCalibration(json.loads(s))

    return SimpleNamespace(device_calibration_from_json_string=parse,
                           get_linear_camera_calibration=lambda w, h, f, label="", T=None: FakeCameraCalibration(
                               label, int(w), int(h), float(f), "LINEAR", T),
                           distort_by_calibration=_distort_by_calibration)


# ---- the whole robot ----------------------------------------------------------------------
@dataclass
class FakeHardware:
    """Fake arms, D405s and Aria on one clock, with the `Drivers` that reach them.

    One FakeHardware is one process as far as Interbotix is concerned
    (Interbotix/interbotix_ros_toolboxes humble, interbotix_common_toolbox/
    interbotix_common_modules/interbotix_common_modules/common_robot/robot.py): `create_interbotix_global_node`
    raises InterbotixException when a global node exists already (even after shutdown),
    `robot_startup` raises when started already, and `robot_shutdown` before a start-up
    raises NameError (its execution thread global was never defined).
    `sdk_running[robot_name] = False` before a backend starts: that arm's xs_sdk is absent."""

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
    sdk_running: dict[str, bool] = field(default_factory=dict)
    global_node: Any = None
    started: bool = False

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

    def release(self) -> None:
        """Let every hung fake call return (end of a test)."""
        if hasattr(self.clock, "release_hung"):
            self.clock.release_hung()

    @property
    def drivers(self) -> Drivers:
        hw = self

        def make_node(node_name: str = "interbotix_robot_manipulation", namespace=None, *a, **k):
            if hw.global_node is not None:
                raise InterbotixException("Tried to create an Interbotix global node but one already exists.")
            hw.global_node = SimpleNamespace(name=node_name)
            return hw.global_node

        def startup(node=None, *a, **k) -> None:
            if hw.started:
                raise InterbotixException("Startup has already been requested.")
            hw.started = True
            hw.nodes_started += 1

        def shutdown(node=None) -> None:
            if not hw.started:
                raise NameError("name '__interbotix_execution_thread' is not defined")
            hw.nodes_started -= 1

        def manipulator(**kw):
            for arm, name in hw.leader_names.items():
                if kw.get("robot_name") == name:
                    return FakeLeaderArm(hw, arm, **kw)
            return FakeArm(hw, **kw)

        arm_mod = SimpleNamespace(InterbotixManipulatorXS=manipulator)
        robot_mod = SimpleNamespace(create_interbotix_global_node=make_node, robot_startup=startup,
                                    robot_shutdown=shutdown, InterbotixException=InterbotixException)
        rs = SimpleNamespace(pipeline=lambda: FakeRsPipeline(hw), config=FakeRsConfig,
                             stream=SimpleNamespace(color="color", depth="depth"),
                             format=SimpleNamespace(rgb8="rgb8", bgr8="bgr8", z16="z16"))
        return Drivers(interbotix_arm=arm_mod, interbotix_robot=robot_mod, aria_sdk=_aria_sdk(self.aria, self.clock),
                       aria_calibration=_calibration_module(self.aria), realsense=rs)
