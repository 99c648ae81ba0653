"""RealBackend: the EgoMimic robot behind the Backend protocol of `egogym.env`.

    gymnasium.make("egogym/ObjectInBowl-v0", backend="real",
                   backend_options={"hardware": "hardware.json", "calibration": "calib.json"})

One `InterbotixManipulatorXS` per active arm, the Aria RGB stream (undistorted to the
spec's linear camera, rotated upright) and a D405 per active wrist camera. The vendor
packages are imported when the backend starts (`egogym.real.devices.load_drivers`).

Every control step (`apply`), at `spec.control_hz` of the backend's clock:
1. wait for the step's tick; 2. an emergency stop request (Ctrl-C, key) stops;
3. every camera is polled and checked by the stale-frame watchdog (host and device time);
4. each arm's latest joint_states are read and checked (`JointStateMonitor`: a fresh
header.stamp, a plausible message, the last command followed within the tracking limit);
5. the command goes through the safety layer (`CommandGuard`: NaN/inf stop, limits, rate
limit) to the arms (a publish: it never blocks).
A stop in 2-5 (or an arm driver that raises) happens in that same step: no further policy
command is sent, an arm whose joint states failed is sent nothing more, the others go home
from their measured pose (speed-limited, verified, stopped where they are by a further stop
key), the stop is logged with its reason, and `judge()` returns `Score(aborted=reason)` so
`EgoEnv.step` returns terminated=True with `info["aborted"]`. Blocking driver calls (start-up,
service calls, the gripper reboot at reset) give up after `driver_timeout_s`.

`reset` reboots the grippers, moves the arms home and has the operator set the scene up (the task's
`operator_instructions`); `finish` moves them home and asks the operator for the score.
Observations: images of the cameras at image_size, `joint_positions` as measured,
`ee_pose` by forward kinematics of the measured joints mapped by the calibration's
T_cam_base into the Aria camera frame (OpenCV; m).
"""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from egogym.core import geometry
from egogym.core.arms import Arms
from egogym.core.errors import UserError
from egogym.core import kinematics
from egogym.real.config import RealConfig
from egogym.real.console import OperatorConsole, OperatorQuit, OperatorScore
from egogym.real.devices import (AriaCamera, ArmDriver, CameraFault, Clock, Drivers, DriverTimeout, RealSenseCamera,
                                 WallClock, call_with_timeout, linear_intrinsics, load_drivers)
from egogym.real.safety import (ArmFault, ArmStop, CommandGuard, EmergencyStop, FrameWatchdog, JointStateMonitor,
                                SafetyInvariantError, SafetyStop, StopLog)
from egogym.core.spec import Calibration, RobotSpec
from egogym.core.protocols import Score
from egogym.core.views import DERIVED_VIEWS, FRONT, FRONT_LINE, FRONT_MASKED
from egogym.tasks import Task

LOG = logging.getLogger("egogym.real")


def load_checked_calibration(path: str, spec: RobotSpec, arms: tuple[str, ...], cameras: tuple[str, ...],
                             image_size: tuple[int, int]) -> Calibration:
    """The calibration file, checked for the arms and cameras in use, rescaled to image_size.

    Raises UserError naming the file and the problem: a missing arm or camera, a T_cam_base
    that is not a rigid transform, Aria intrinsics other than the linear camera the stream
    is undistorted to."""
    try:
        cal = Calibration.load(path)
    except (FileNotFoundError, KeyError, ValueError) as e:
        raise UserError(f"calibration {path}: {e}") from None
    for a in arms:
        if a not in cal.T_cam_base:
            raise UserError(f"calibration {path}: no T_cam_base for arm {a!r}; run the hand-eye calibration "
                            f"(docs/HARDWARE.md) for that arm")
        T = np.asarray(cal.T_cam_base[a], float)
        R = T[:3, :3] if T.shape == (4, 4) else None
        if (R is None or not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(R.T @ R, np.eye(3), atol=1e-4)
                or np.linalg.det(R) < 0.99 or not np.all(np.isfinite(T))):
            raise UserError(f"calibration {path}: T_cam_base[{a!r}] is not a 4x4 rigid transform; re-run the "
                            f"hand-eye calibration")
    K, sizes = {}, {}
    for c in cameras:
        if c not in cal.intrinsics or c not in cal.image_sizes:
            raise UserError(f"calibration {path}: no intrinsics for camera {c!r}; add them (docs/HARDWARE.md)")
        K[c] = cal.K(c, image_size)
        sizes[c] = tuple(image_size)
        if spec.camera(c).device == "aria":
            want = linear_intrinsics(spec.camera(c), image_size)
            if not np.allclose(K[c], want, rtol=0.01, atol=0.5):
                raise UserError(f"calibration {path}: intrinsics of {c} (focal {K[c][0, 0]:.1f} px at {image_size}) "
                                f"differ from the linear camera the Aria stream is undistorted to (focal "
                                f"{want[0, 0]:.1f} px); write K = the spec's linear camera into the file")
    return Calibration(K, sizes, {a: np.asarray(cal.T_cam_base[a], float) for a in arms},
                       {k: v for k, v in cal.T_gripper_cam.items() if k in cameras}, source=cal.source)


class RealBackend:
    """The real EgoMimic robot (see the module docstring).

    spec, task, arms, cameras, image_size: as for SimBackend. options: the keys of
    `RealConfig` (or a `hardware` JSON file holding them), plus these seams:
      drivers: "real" (import the vendor packages), "fake" (the fakes of
        `egogym.real.fakes`, for rehearsals) or a `Drivers`;
      console: an OperatorConsole (default: one on stdin/stdout); input_fn: shorthand
        for OperatorConsole(input_fn);
      clock: a `Clock` (default wall clock); estop: an EmergencyStop;
      leader_arms: also connect the WidowX leader arm of every active arm
        (`leader_names`, `leader_model`; torque off, read-only) into `leader_bots`, for
        teleoperation (`egogym.pipelines.teleop`). Nothing is ever sent to a leader.
    """

    def __init__(self, spec: RobotSpec, task: Task, arms: tuple[str, ...], cameras: tuple[str, ...],
                 image_size: tuple[int, int], *, drivers: str | Drivers = "real",
                 console: OperatorConsole | None = None, input_fn=None, clock: Clock | None = None,
                 estop: EmergencyStop | None = None, leader_arms: bool = False, **options: Any):
        self.spec, self.task, self.arms, self.cameras = spec, task, tuple(arms), tuple(cameras)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        # The devices behind the observation: a derived view (masked / line) needs its camera.
        self.derived = tuple(c for c in self.cameras if c in DERIVED_VIEWS)
        self.device_cameras = tuple(dict.fromkeys(DERIVED_VIEWS.get(c, c) for c in self.cameras))
        try:
            self.config = RealConfig.from_options(options)
            self.config.check_for(spec, self.arms, self.device_cameras)
        except (ValueError, FileNotFoundError) as e:
            raise UserError(str(e)) from None
        cfg = self.config
        self.calibration = load_checked_calibration(cfg.calibration, spec, self.arms, self.device_cameras,
                                                    self.image_size)
        self._views = None  # egogym.sim.arm_views.TwinArmViews, built on the first observation that needs it
        if console is not None and input_fn is not None:
            raise UserError("give the real backend either console or input_fn, not both")
        self.console = console or (OperatorConsole(input_fn) if input_fn is not None else OperatorConsole())
        self.clock: Clock = clock or WallClock()
        self.estop = estop or EmergencyStop()
        log_dir = Path(cfg.log_dir) if cfg.log_dir else None
        self.stop_log = StopLog(log_dir / "stops.jsonl" if log_dir else None)
        self._operator_log = log_dir / "operator.jsonl" if log_dir else None
        self.dt = 1.0 / spec.control_hz
        self._hardware = None
        if drivers == "fake":
            from egogym.real.fakes import FakeHardware

            self._hardware = FakeHardware.for_config(spec, cfg, self.clock)
            drivers = self._hardware.drivers
        elif drivers == "real":
            devs = {spec.camera(c).device for c in self.device_cameras}
            drivers = load_drivers(arms=True, aria="aria" in devs, realsense="d405" in devs)
        elif not isinstance(drivers, Drivers):
            raise UserError(f"drivers={drivers!r}: use 'real', 'fake' or a Drivers instance")
        self.drivers = drivers
        self._ros_node = None
        self._ros_started = False
        self.arm_drivers: dict[str, ArmDriver] = {}
        self.leader_arms = bool(leader_arms)
        self.leader_bots: dict[str, Any] = {}
        self.camera_devices: dict[str, AriaCamera | RealSenseCamera] = {}
        self._estop_ctx: contextlib.ExitStack | None = None
        self._aborted: str | None = None
        self._home_reached = False
        self._episode = -1
        self._start = None  # the episode the task drew at the last reset (egogym.tasks Episode)
        self._steps = 0
        self._t0 = self._t_tick = self.clock.now()
        self._overruns = 0
        self._measured = np.zeros(Arms.parse(self.arms).joint_width)
        try:
            self._connect()
        except BaseException:
            self._release()  # every partial start released; the start-up error is what is raised
            raise
        self.guard = CommandGuard(spec, self.arms, cfg.safety, self.arm_drivers)
        self.watchdog = FrameWatchdog(cfg.safety, self.device_cameras)
        self.monitor = JointStateMonitor(cfg.safety, spec, self.arms)

    # ---- start-up ----------------------------------------------------------------
    def _call(self, what: str, fn, *args, **kwargs):
        """A blocking driver call that gives up after driver_timeout_s (UserError naming it)."""
        try:
            return call_with_timeout(self.clock, self.config.driver_timeout_s, what, fn, *args, **kwargs)
        except DriverTimeout as e:
            raise UserError(f"{e}: is the driver running? (see docs/HARDWARE.md §3)") from None

    def _manipulator(self, arm: str, model: str, robot_name: str):
        """InterbotixManipulatorXS(robot_name), which waits for that arm's xs_sdk without end:
        given up after driver_timeout_s with a UserError."""
        try:
            return call_with_timeout(self.clock, self.config.driver_timeout_s,
                                     f"InterbotixManipulatorXS(robot_name={robot_name!r})",
                                     self.drivers.interbotix_arm.InterbotixManipulatorXS, robot_model=model,
                                     group_name="arm", gripper_name="gripper", robot_name=robot_name,
                                     node=self._ros_node)
        except DriverTimeout:
            raise UserError(f"arm {arm}: no xs_sdk answered under /{robot_name} within "
                            f"{self.config.driver_timeout_s:g} s; launch interbotix_xsarm_control with "
                            f"robot_name:={robot_name} (ros2 service list shows /{robot_name}/set_operating_modes) "
                            f"and start again") from None

    def _connect(self) -> None:
        cfg, d = self.config, self.drivers
        robot = d.interbotix_robot
        try:
            self._ros_node = robot.create_interbotix_global_node("egogym")
        except Exception as e:  # InterbotixException: one global node per process
            raise UserError(f"Interbotix: {e}; the Interbotix Python API allows one global ROS node per process: "
                            f"run one real backend per process") from None
        bots = {}
        for a in self.arms:
            bots[a] = self._manipulator(a, cfg.robot_model, cfg.robot_names[a])
        if self.leader_arms:  # created before robot_startup, like the followers (one ROS node)
            for a in self.arms:
                if a not in cfg.leader_names:
                    raise UserError(f"leader_names has no entry for arm {a!r}: add the Interbotix robot_name of "
                                    f"its WidowX leader to the hardware file")
                self.leader_bots[a] = self._manipulator(a, cfg.leader_model, cfg.leader_names[a])
        self._call("robot_startup", robot.robot_startup, self._ros_node)
        self._ros_started = True
        for a in self.arms:
            drv = ArmDriver(bots[a], self.spec.arm(a), cfg.gripper_map(a), cfg.moving_time, cfg.accel_time,
                            cfg.gripper_current_limit_ma, self.clock, cfg.driver_timeout_s, name=a)
            try:
                drv.start()
            except DriverTimeout as e:
                raise UserError(f"{e}: is the arm's xs_sdk running?") from None
            self.arm_drivers[a] = drv
        for c in self.device_cameras:
            cam_spec = self.spec.camera(c)
            if cam_spec.device == "aria":
                dev = AriaCamera(d.aria_sdk, d.aria_calibration, cam_spec, self.image_size, self.clock,
                                 cfg.aria_interface, cfg.aria_device_ip, cfg.aria_profile, cfg.start_timeout_s,
                                 cfg.driver_timeout_s)
            elif cam_spec.device == "d405":
                dev = RealSenseCamera(d.realsense, c, cfg.d405_serials[c], self.image_size, self.clock,
                                      cfg.d405_stream, cfg.start_timeout_s, cfg.driver_timeout_s)
            else:
                raise UserError(f"camera {c}: no real driver for device {cam_spec.device!r}")
            try:
                dev.start()  # a camera that fails to start releases what it started itself
            except CameraFault as e:
                raise UserError(str(e)) from None
            self.camera_devices[c] = dev
            if isinstance(dev, RealSenseCamera):
                self._check_wrist_intrinsics(c, dev)

    def _check_wrist_intrinsics(self, name: str, dev: RealSenseCamera) -> None:
        w, h, _ = self.config.d405_stream
        ours = self.calibration.K(name)
        scale = np.diag([self.image_size[1] / w, self.image_size[0] / h, 1.0])
        theirs = scale @ dev.intrinsics
        if not np.allclose(ours, theirs, rtol=0.05, atol=2.0):
            raise UserError(f"calibration {self.config.calibration}: intrinsics of {name} (fx {ours[0, 0]:.1f} px) "
                            f"disagree with D405 {dev.serial}'s own (fx {theirs[0, 0]:.1f} px at {self.image_size}); "
                            f"check d405_serials or re-write the camera's intrinsics into the calibration file")

    # ---- Backend protocol --------------------------------------------------------
    @property
    def time(self) -> float:
        """Seconds of the backend's clock since the episode started (0 before the first reset)."""
        return self.clock.now() - self._t0 if self._episode >= 0 else 0.0

    def reset(self, rng: np.random.Generator) -> None:
        """Grippers rebooted (clears an overload shutdown), arms home from where they are
        (speed-limited, verified, interruptible by the stop keys), the operator sets the scene
        up as the task's `sample_episode(rng)` draws it (shown on the console: the same
        placement a sim episode of this seed has), the episode clock starts."""
        self._disarm()
        self._episode += 1
        self._aborted = None
        self.estop.clear()
        for a, drv in self.arm_drivers.items():
            try:
                drv.reboot_gripper()
            except DriverTimeout as e:
                raise UserError(f"{e} at reset: is the arm's xs_sdk running?") from None
        self.monitor.reset()
        try:
            self._measured = self._read_checked(self.arms, None)
            self.guard.start(self._measured)
        except (SafetyStop, ArmFault) as e:
            self.stop_log.record("reset", str(e), episode=self._episode)
            raise UserError(f"at reset: {e}") from None
        with self.estop.armed():
            reached, why = self._move_home()
        if self.estop.reason is not None:
            self.stop_log.record("reset", f"{self.estop.reason} during the move home; arms hold where they are",
                                 episode=self._episode)
            raise OperatorQuit(f"{self.estop.reason} during the move home at reset")
        if not reached:
            raise UserError(f"the arms did not reach home at reset ({why}); check the arms (stops.jsonl) before "
                            f"running again")
        self._start = self.task.sample_episode(rng)
        self.console.prepare(self.task, self._episode, self._start)
        self.guard.clamped_steps = 0
        self._steps, self._overruns = 0, 0
        self._t0 = self._t_tick = self.clock.now()
        self.watchdog.reset(self._t0)
        self.monitor.reset()
        for c, dev in self.camera_devices.items():
            try:
                dev.poll()
            except CameraFault as e:
                raise UserError(str(e)) from None
        self._estop_ctx = contextlib.ExitStack()
        self._estop_ctx.enter_context(self.estop.armed())

    def episode_start(self) -> dict:
        """The start the operator was asked to set up (`Episode.to_dict`, world frame; {} before
        the first reset). What the person actually placed is not measured."""
        return {} if self._start is None else self._start.to_dict()

    def apply(self, command: np.ndarray) -> np.ndarray:
        """One control step: wait for the tick, check stop requests and cameras, read and
        check the arms' joint states (freshness, plausibility, tracking of the last command),
        send the command through the safety layer. Returns the command sent (after a stop:
        the last command sent before it)."""
        if self._aborted is not None:
            raise RuntimeError(f"the episode was aborted ({self._aborted}); call reset() before stepping again")
        if self._episode < 0:
            raise RuntimeError("apply() before reset(): call reset() first")
        self._wait_tick()
        try:
            reason = self.estop.poll()
            if reason is not None:
                raise SafetyStop(reason)
            now = self.clock.now()
            for c, dev in self.camera_devices.items():
                try:
                    dev.poll()
                except CameraFault as e:
                    raise SafetyStop(str(e)) from e
                frame = dev.latest()
                self.watchdog.check(c, frame.stamp if frame is not None else None, now)
            self._measured = self._read_checked(self.arms, self.guard.sent)
            sent = self.guard.step(command)
        except ArmStop as e:
            self._stop("arm stop", e.reason, failed=frozenset([e.arm]))
            return self.guard.sent.copy()
        except SafetyStop as e:
            self._stop("stop", e.reason)
            return self.guard.sent.copy()
        except ArmFault as e:
            self._stop("arm fault", str(e), failed=frozenset([e.arm]))
            return self.guard.sent.copy()
        except SafetyInvariantError as e:
            self._stop("invariant", str(e))
            raise
        self._steps += 1
        return sent

    def judge(self) -> Score:
        """On hardware only an abort is known during an episode (points come from the operator)."""
        return Score(aborted=self._aborted)

    def finish(self) -> OperatorScore:
        """Arms home, then the operator's score of the episode (with safety statistics in terms)."""
        elapsed = self.time
        reached = self.home()
        score = self.console.score(self.task, self._aborted, elapsed)
        score.terms.update({"home_reached": float(reached), "steps": float(self._steps),
                            "control_rate_hz": self._steps / elapsed if elapsed > 0 else 0.0,
                            "overruns": float(self._overruns), "clamped_steps": float(self.guard.clamped_steps)})
        if self._operator_log is not None:
            self._operator_log.parent.mkdir(parents=True, exist_ok=True)
            with open(self._operator_log, "a") as f:
                f.write(json.dumps({"episode": self._episode, "points": score.points, "success": score.success,
                                    "aborted": score.aborted, "notes": score.notes, "terms": score.terms}) + "\n")
        return score

    def home(self) -> bool:
        """End of an episode without a score: disarm the episode's emergency stop and, unless
        the episode was aborted (the arms went home then), move the arms home (speed-limited
        from where they are; a stop key or Ctrl-C during the move leaves them where they are,
        logged). Returns True when every arm was verified at home."""
        self._disarm()
        if self._episode < 0:
            return False
        if self._aborted is not None:
            return self._home_reached
        with self.estop.armed():
            reached, why = self._move_home()
        if self.estop.reason is not None:
            self.stop_log.record("finish", f"{self.estop.reason} during the move home after the episode",
                                 episode=self._episode)
        elif not reached:
            self.stop_log.record("finish", f"not at home after the episode: {why}", episode=self._episode)
        self._home_reached = reached
        return reached

    def abort(self, reason: str) -> None:
        """Stop the episode from outside the control step (e.g. a teleoperation leader arm
        failed): nothing more is sent, the arms go home, the stop is logged with `reason`,
        and `judge()` reports it."""
        if self._aborted is None:
            self._stop("stop", reason)

    def observe(self) -> dict[str, np.ndarray]:
        """Camera images (H, W, 3) uint8, joint_positions (7 per arm: measured, the last
        joint_states before this step's command), ee_pose (3 per arm, m, Aria frame)."""
        obs: dict[str, np.ndarray] = {}
        for c, dev in self.camera_devices.items():
            frame = dev.latest()
            if frame is None:
                raise RuntimeError(f"camera {c} has delivered no frame since it started")
            obs[c] = frame.image.copy()
        # measured values (a gripper read back at 1.00000003, a joint sagging past a limit by a
        # mrad) are clipped into the spec's bounds of the observation space; the checks see them raw
        obs["joint_positions"] = np.clip(self._measured, self.guard.spec_lower, self.guard.spec_upper)
        obs["ee_pose"] = self.ee_pose(obs["joint_positions"])
        if self.derived:
            obs.update(self.derived_views(obs[FRONT], obs["joint_positions"]))
            if FRONT not in self.cameras:
                del obs[FRONT]
        return obs

    def derived_views(self, front: np.ndarray, joints: np.ndarray) -> dict[str, np.ndarray]:
        """`front_img_1_masked` / `front_img_1_line` (those asked for) of one Aria frame: the
        twin's arms posed at the measured joints and seen through this robot's calibration
        (`egogym.sim.arm_views`), so a policy trained on the sim's or EgoMimic's line view reads
        the same view here."""
        if self._views is None:
            from egogym.sim.arm_views import TwinArmViews

            self._views = TwinArmViews(self.spec, self.calibration, self.image_size, self.arms)
        masked, line = self._views(front, joints)
        return {k: v for k, v in ((FRONT_MASKED, masked), (FRONT_LINE, line)) if k in self.derived}

    def close(self) -> None:
        """Stop the cameras and the ROS node (arms keep their last target, torque on).
        A release that fails is logged and the others still run."""
        self._release()

    def _release(self) -> None:
        self._disarm()
        if getattr(self, "_views", None) is not None:
            self._views.close()
            self._views = None
        for dev in list(self.camera_devices.values()):
            try:
                dev.stop()
            except Exception as e:  # keep closing the others; report it
                LOG.error("closing camera %s: %s", dev.name, e)
        self.camera_devices.clear()
        if self._ros_started:  # robot_shutdown before a start-up raises NameError in the vendor code
            try:
                call_with_timeout(self.clock, self.config.driver_timeout_s, "robot_shutdown",
                                  self.drivers.interbotix_robot.robot_shutdown, self._ros_node)
            except Exception as e:
                LOG.error("shutting the Interbotix node down: %s", e)
        self._ros_started = False
        self._ros_node = None

    # ---- kinematics --------------------------------------------------------------
    def ee_pose(self, joints: np.ndarray) -> np.ndarray:
        """Pinch points (m) in the Aria camera frame for joints in this backend's layout."""
        out = []
        for i, a in enumerate(self.arms):
            p = kinematics.pinch_in_base(self.spec.arm(a), joints[Arms.angles(i)])
            out.append(geometry.transform_points(self.calibration.T_cam_base[a], p))
        return np.concatenate(out)

    # ---- internals ---------------------------------------------------------------
    def _disarm(self) -> None:
        if self._estop_ctx is not None:
            self._estop_ctx.close()
            self._estop_ctx = None

    def _wait_tick(self) -> None:
        t_next = self._t_tick + self.dt
        now = self.clock.now()
        if now < t_next:
            self.clock.sleep(t_next - now)
            self._t_tick = t_next
        else:
            if now - t_next > 0.5 * self.dt:
                self._overruns += 1
            self._t_tick = now

    def _read_checked(self, arms, commanded: np.ndarray | None) -> np.ndarray:
        """Read the joint states of `arms` and check them (JointStateMonitor) against
        `commanded` (the last command sent, this backend's layout; None: no tracking check).
        Returns the measured vector; arms not read keep their previous values. Raises
        ArmStop or ArmFault (reading raised)."""
        out = self._measured.copy()
        now = self.clock.now()
        for i, a in enumerate(self.arms):
            if a not in arms:
                continue
            try:
                state = self.arm_drivers[a].read_state()
            except Exception as e:
                raise ArmFault(a, f"reading joint states raised {type(e).__name__}: {e}") from e
            sl = Arms.joints(i)
            self.monitor.check(a, state, None if commanded is None else commanded[sl], now)
            out[sl] = state.position
        return out

    def _move_home(self, failed: frozenset[str] = frozenset()) -> tuple[bool, str]:
        """Move the working arms home and verify it; (True, "") when every arm arrived.

        From the measured positions (the guard restarts there), at most `home_joint_step` /
        `home_gripper_step` per control step, the joint states checked every step; then the
        measured joints (and grippers) must come within `home_tolerance` /
        `home_gripper_tolerance` of home within `home_settle_s`; `max_home_s` in all. Every
        step first polls the emergency stop: a request leaves the arms where they are
        (nothing more is sent). An arm whose joint states fail is left alone from then on."""
        lim = self.config.safety
        failed = set(failed)
        reasons: list[str] = []  # why an arm was left alone during this move
        working = [a for a in self.arms if a not in failed]
        t_end = self.clock.now() + lim.max_home_s

        def read_each(commanded) -> None:  # one arm at a time: a failing arm does not hide the others
            for a in list(working):
                try:
                    self._measured = self._read_checked([a], commanded)
                except (ArmStop, ArmFault) as e:
                    self.stop_log.record("home", f"{e}; leaving arm {e.arm} alone", episode=self._episode)
                    reasons.append(str(e))
                    failed.add(e.arm)
                    working.remove(e.arm)

        read_each(None)
        self.guard.restart_from(self._measured, working)
        self.monitor.reset()
        target = self.guard.home_target()
        settle_until = None
        while True:
            if self.estop.poll() is not None:
                return False, f"{self.estop.reason}: stopped during the move home"
            if self.clock.now() > t_end:
                return False, f"the move home took over {lim.max_home_s:g} s"
            self._wait_tick()
            read_each(self.guard.sent)
            try:
                moved = self.guard.home_step(skip=frozenset(failed))
            except ArmFault as e:
                self.stop_log.record("home", f"{e}; leaving arm {e.arm} alone", episode=self._episode)
                reasons.append(str(e))
                failed.add(e.arm)
                working.remove(e.arm)
                continue
            if moved:
                continue
            off = []
            for i, a in enumerate(self.arms):
                if a not in working:
                    continue
                j, g = Arms.angles(i), Arms.gripper_index(i)
                j_err = float(np.max(np.abs(self._measured[j] - target[j])))
                g_err = abs(float(self._measured[g] - target[g]))
                if not self.monitor.fresh(a):
                    off.append(f"arm {a}: no new joint_states since the last step")
                elif j_err > lim.home_tolerance or g_err > lim.home_gripper_tolerance:
                    off.append(f"arm {a}: joints {j_err:.3f} rad, gripper {g_err:.2f} from home "
                               f"(tolerances {lim.home_tolerance} rad, {lim.home_gripper_tolerance})")
            if not off:
                if failed:
                    left = "; ".join(reasons) or "it failed before the move"
                    return False, f"arm(s) {sorted(failed)} left alone ({left}); the others are home"
                return True, ""
            if settle_until is None:
                settle_until = self.clock.now() + lim.home_settle_s
            elif self.clock.now() > settle_until:
                why = "; ".join(off) + f" {lim.home_settle_s:g} s after the last home command"
                self.stop_log.record("home", why, episode=self._episode)
                return False, why

    def _stop(self, kind: str, reason: str, failed: frozenset[str] = frozenset()) -> None:
        """Abort the episode: log the reason, take the working arms home (speed-limited from
        where they are, interruptible by a stop key or Ctrl-C), then read the hardware error
        status of the failed arms into the log."""
        self._disarm()
        self._aborted = reason
        self.stop_log.record(kind, reason, episode=self._episode, step=self._steps, time_s=self.time)
        self.estop.clear()  # the stop request (if it was one) is handled; a new one interrupts the move home
        with self.estop.armed():
            reached, why = self._move_home(failed=failed)
        self._home_reached = reached
        self.stop_log.record("safe pose", "arms at home" if reached else f"not every arm at home: {why}",
                             episode=self._episode)
        for a in sorted(failed):
            try:
                errors = self.arm_drivers[a].hardware_errors()
            except Exception as e:  # xs_sdk gone: the call times out
                errors = f"unreadable ({e})"
            self.stop_log.record("diagnosis", f"arm {a}: hardware error status {errors or 'none'}",
                                 episode=self._episode)
