"""The safety layer: the only path from a policy's output to the real arms.

Every command goes through `CommandGuard` before a driver sees it:

1. NaN or inf anywhere -> `SafetyStop` (nothing is sent; the episode stops);
2. each value is clipped into its limits: the spec's joint limits shrunk by
   `SafetyLimits.joint_margin` (rad), the gripper into [0, 1];
3. the change from the last command sent is clipped to `max_joint_step` (rad) per
   joint and `max_gripper_step` per gripper, per control step;
4. right before sending, the result is checked again against 2 and 3 (an invariant: a
   violation raises `SafetyInvariantError` and nothing is sent).

Because 2 and 3 clip towards a point that is already inside the limits, the result of a
step always lies inside them: nothing outside the limits is ever sent, whatever the policy
outputs. Moves home after a stop use the same path.

`JointStateMonitor` stops an episode on what a real arm shows when it fails: joint_states
whose header.stamp stops changing (xs_sdk gone: `core.joint_states` keeps its last
message), implausible messages (the zeroed buffers of a failed bus read, jumps faster than
the motors can move), a joint that no longer follows its command (a Dynamixel that turned
its torque off after an overload) and a gripper that neither follows nor draws current.
`FrameWatchdog` stops an episode when a camera's newest frame is older than
`stale_after_s` by host time or by its device timestamp, when its frame counter has not
advanced for `frozen_after_s`, when it keeps serving byte-identical images that long, or
when its frame numbers go back. `EmergencyStop` turns Ctrl-C (SIGINT) and a key into a stop
request that the backend honours at its next control step, moves home included.
`StopLog` records every stop with its reason (Python logging, plus a JSONL file).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from egogym.core.arms import ANGLES_PER_ARM, GRIPPER, JOINTS_PER_ARM, Arms
from egogym.core.configs import build_frozen
from egogym.core.spec import RobotSpec

LOG = logging.getLogger("egogym.real")


class SafetyStop(Exception):
    """A condition under which the arms must stop and go to the safe pose.

    `reason` is the one-line explanation logged and returned as `Score.aborted`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SafetyInvariantError(AssertionError):
    """A command about to be sent lies outside the limits: a bug in the safety layer.

    Raised before anything reaches a driver; never caught by the control loop's
    fault handling except to stop the arms."""


@dataclass(frozen=True)
class SafetyLimits:
    """Limits the safety layer enforces on the real robot (units in each comment).

    Validated on construction; `SafetyLimits.from_dict` names an unknown key."""

    max_joint_step: float = 0.05  # rad per control step, each arm joint (2.5 rad/s at 50 Hz)
    max_gripper_step: float = 0.1  # normalized gripper units per control step
    joint_margin: float = 0.02  # rad kept clear of each spec joint limit
    stale_after_s: float = 0.25  # s: a newest camera frame older than this (host or device time) stops the episode
    frozen_after_s: float = 0.25  # s: a frame counter (or image) unchanged this long stops it
    joint_state_timeout_s: float = 0.1  # s: joint_states whose header.stamp is unchanged this long stop it
    max_tracking_error: float = 0.3  # rad: a joint this far from its last command ...
    max_gripper_tracking_error: float = 0.25  # normalized: a gripper this far from its command ...
    gripper_min_current_ma: float = 20.0  # mA: ... while drawing less current than this (torque off) ...
    tracking_steps: int = 5  # ... for this many control steps in a row stops the episode
    max_joint_speed: float = 3.14  # rad/s: faster measured motion is a bad reading (vx300s Velocity_Limit 131)
    home_joint_step: float = 0.02  # rad per control step of a move home (1 rad/s at 50 Hz)
    home_gripper_step: float = 0.05  # normalized gripper units per control step of a move home
    home_tolerance: float = 0.03  # rad: every joint this close to home (measured) counts as arrived
    home_gripper_tolerance: float = 0.1  # normalized: the gripper this close to open counts as arrived
    home_settle_s: float = 2.0  # s the arms may take to settle at home after the last home command
    max_home_s: float = 30.0  # s a move home may take in all before it gives up

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"SafetyLimits.{f.name}={v!r}: give a finite number > 0")
        if self.joint_margin >= 0.2:
            raise ValueError(f"SafetyLimits.joint_margin={self.joint_margin}: keep it under 0.2 rad")
        if not isinstance(self.tracking_steps, int):
            raise ValueError(f"SafetyLimits.tracking_steps={self.tracking_steps!r}: give a whole number of steps")
        if self.home_joint_step > self.max_joint_step or self.home_gripper_step > self.max_gripper_step:
            raise ValueError("SafetyLimits: home_joint_step / home_gripper_step must not exceed max_joint_step / "
                             "max_gripper_step")

    @classmethod
    def from_dict(cls, d: Mapping) -> "SafetyLimits":
        return build_frozen(cls, d, "safety limits", ValueError)


class StopLog:
    """Every stop with its reason: to Python logging (warning) and, with `path`, a JSONL file.

    Each entry: {"time": wall-clock seconds since the epoch, "kind": str, "reason": str, ...}."""

    def __init__(self, path: str | Path | None = None, wall_clock: Callable[[], float] = time.time):
        self.path = Path(path) if path is not None else None
        self.entries: list[dict] = []
        self._wall = wall_clock

    def record(self, kind: str, reason: str, **extra) -> dict:
        entry = {"time": self._wall(), "kind": kind, "reason": reason, **extra}
        self.entries.append(entry)
        LOG.warning("safety %s: %s", kind, reason)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps(entry, default=_jsonable) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return entry


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON-serializable: {type(x).__name__}")


class CommandSink:
    """What the guard sends to: one arm's driver (see `egogym.real.devices.ArmDriver`)."""

    def send(self, q: np.ndarray, gripper: float) -> None:  # pragma: no cover - protocol
        """q: 6 joint targets (rad); gripper: normalized target in [0, 1]."""
        raise NotImplementedError


class ArmFault(Exception):
    """A driver call failed; `arm` names the arm, the message the call and the error."""

    def __init__(self, arm: str, message: str):
        super().__init__(f"arm {arm}: {message}")
        self.arm = arm


class CommandGuard:
    """Filters and sends commands in the joint layout of `arms` (per arm 6 joints rad, gripper;
    `egogym.core.arms`).

    `start(measured)` must be called (with the measured joint positions) before the first
    `step`; afterwards every sent command is within `bounds` and within one step of the
    previous one. `sent` is the last command sent (None before `start`)."""

    def __init__(self, spec: RobotSpec, arms: Sequence[str], limits: SafetyLimits,
                 sinks: Mapping[str, CommandSink]):
        self.spec, self.arms, self.limits = spec, tuple(arms), limits
        missing = [a for a in self.arms if a not in sinks]
        if missing:
            raise ValueError(f"CommandGuard: no driver for arm(s) {missing}")
        self.sinks = dict(sinks)
        self._size = Arms.parse(self.arms).joint_width
        lo, hi, step, home_step = [], [], [], []
        for a in self.arms:
            arm = spec.arm(a)
            lo.append(arm.lower + np.r_[np.full(ANGLES_PER_ARM, limits.joint_margin), 0.0])
            hi.append(arm.upper - np.r_[np.full(ANGLES_PER_ARM, limits.joint_margin), 0.0])
            step.append(np.r_[np.full(ANGLES_PER_ARM, limits.max_joint_step), limits.max_gripper_step])
            home_step.append(np.r_[np.full(ANGLES_PER_ARM, limits.home_joint_step), limits.home_gripper_step])
        self.home_max_step = np.concatenate(home_step)
        self.lower, self.upper = np.concatenate(lo), np.concatenate(hi)
        self.spec_lower = np.concatenate([spec.arm(a).lower for a in self.arms])
        self.spec_upper = np.concatenate([spec.arm(a).upper for a in self.arms])
        self.max_step = np.concatenate(step)
        self.sent: np.ndarray | None = None
        self.clamped_steps = 0  # steps where the policy's command was changed by 2 or 3

    @property
    def size(self) -> int:
        return self._size

    def start(self, measured: np.ndarray) -> None:
        """Take the measured positions as the last command sent (the rate limit starts there).

        A joint outside the spec's limits raises SafetyStop (move the arm by hand or
        reboot its motors); one inside the spec's limits but within the margin is taken
        as the nearest point inside the margin."""
        measured = np.asarray(measured, dtype=float)
        if measured.shape != (self.size,) or not np.all(np.isfinite(measured)):
            raise SafetyStop(f"measured joint positions {measured!r} are not {self.size} finite values")
        tol = 1e-3
        bad = np.flatnonzero((measured < self.spec_lower - tol) | (measured > self.spec_upper + tol))
        if bad.size:
            i = int(bad[0])
            raise SafetyStop(f"{self._name(i)} measured at {measured[i]:.3f} is outside its limits "
                             f"[{self.spec_lower[i]:.3f}, {self.spec_upper[i]:.3f}]; move the arm inside by hand "
                             f"(torque off) before starting")
        self.sent = np.clip(measured, self.lower, self.upper)

    def restart_from(self, measured: np.ndarray, arms: Sequence[str]) -> None:
        """Take the measured positions of `arms` as their last command sent (clipped into the
        limits): a move home starts where the arms are, not where they were told to be.
        Values that are not finite leave that arm's last command as it was."""
        measured = np.asarray(measured, dtype=float)
        sent = self.sent.copy()  # a new array: the last one was handed out (applied_action)
        for i, a in enumerate(self.arms):
            if a in arms:
                sl = Arms.joints(i)
                if np.all(np.isfinite(measured[sl])):
                    sent[sl] = np.clip(measured[sl], self.lower[sl], self.upper[sl])
        self.sent = sent

    def _name(self, i: int) -> str:
        k, j = divmod(i, JOINTS_PER_ARM)
        arm = self.arms[k]
        return f"{arm} {'gripper' if j == GRIPPER else self.spec.arm(arm).joint_names[j]}"

    def filter(self, command: np.ndarray) -> np.ndarray:
        """The command to send for a requested one (no side effects).

        Raises SafetyStop on a wrong shape or a non-finite value."""
        if self.sent is None:
            raise RuntimeError("CommandGuard.filter before start(): call start(measured) first")
        c = np.asarray(command, dtype=float)
        if c.shape != (self.size,):
            raise SafetyStop(f"command has shape {c.shape}; expected ({self.size},) for arms {self.arms}")
        bad = np.flatnonzero(~np.isfinite(c))
        if bad.size:
            raise SafetyStop(f"non-finite command: {self._name(int(bad[0]))} = {c[bad[0]]}")
        c = np.clip(c, self.lower, self.upper)
        return np.clip(c, self.sent - self.max_step, self.sent + self.max_step)

    def check(self, command: np.ndarray) -> None:
        """The invariant: finite, inside the limits, within one step of the last command sent."""
        c = np.asarray(command, dtype=float)
        eps = 1e-9
        ok = (c.shape == (self.size,) and np.all(np.isfinite(c)) and np.all(c >= self.lower - eps)
              and np.all(c <= self.upper + eps) and np.all(np.abs(c - self.sent) <= self.max_step + eps))
        if not ok:
            raise SafetyInvariantError(f"refusing to send {c!r}: outside limits or step (last sent {self.sent!r})")

    def step(self, command: np.ndarray) -> np.ndarray:
        """Filter `command`, check it, send it to every arm; return what was sent.

        Raises SafetyStop (nothing sent) or ArmFault (a driver raised while sending)."""
        safe = self.filter(command)
        if not np.array_equal(safe, np.asarray(command, dtype=float)):
            self.clamped_steps += 1
        self._send(safe)
        return safe

    def _send(self, safe: np.ndarray, skip: frozenset[str] = frozenset()) -> None:
        self.check(safe)
        for i, a in enumerate(self.arms):
            if a in skip:
                continue
            q = safe[Arms.angles(i)].copy()
            g = float(safe[Arms.gripper_index(i)])
            try:
                self.sinks[a].send(q, g)
            except Exception as e:  # a driver error of any kind is a fault of that arm
                # The arms before this one did receive the command: keep it as sent.
                first = Arms.joints(i).start
                self.sent = np.concatenate([safe[:first], self.sent[first:]])
                raise ArmFault(a, f"sending a command raised {type(e).__name__}: {e}") from e
        self.sent = safe

    def home_target(self) -> np.ndarray:
        """The safe pose: the spec's home command of every arm, inside the margins."""
        home = np.concatenate([self.spec.arm(a).home_command for a in self.arms])
        return np.clip(home, self.lower, self.upper)

    def home_step(self, skip: frozenset[str] = frozenset()) -> bool:
        """Send one step of at most `home_max_step` from the last command towards the home target.

        Arms in `skip` (failed ones) are left alone. Returns False when already home (nothing
        sent). Raises ArmFault like `step`."""
        cur = self.sent
        nxt = np.clip(self.home_target(), cur - self.home_max_step, cur + self.home_max_step)
        for i, a in enumerate(self.arms):
            if a in skip:
                nxt[Arms.joints(i)] = cur[Arms.joints(i)]
        if np.array_equal(nxt, cur):
            return False
        self._send(nxt, skip)
        return True

    def home_steps_needed(self) -> int:
        """Control steps the move home takes from the last command sent."""
        d = np.abs(self.home_target() - self.sent) / self.home_max_step
        return int(np.ceil(d.max())) if d.size else 0


@dataclass(frozen=True)
class FrameStamp:
    """Identity of a camera's newest frame.

    number: the device's frame counter; t_host: the backend clock's time (s) at which
    this frame was first seen; digest: a hash of the image bytes; t_device: the frame's
    capture time on the device's own clock (s; D405 `get_timestamp()` / 1000, Aria
    `capture_timestamp_ns` * 1e-9), None when the device gives none."""

    number: int
    t_host: float
    digest: bytes = b""
    t_device: float | None = None


def image_digest(image: np.ndarray) -> bytes:
    """A short hash of an image's bytes (to spot a camera serving one frame forever)."""
    return hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=8).digest()


class FrameWatchdog:
    """Stale / frozen / lagging / restarted camera detection, checked once per control step.

    `reset(now)` at the start of an episode; `check(camera, stamp, now)` raises SafetyStop
    when, for the camera's newest frame (stamp, or None when none has arrived):
    - no frame arrived `stale_after_s` after the reset, or the newest arrived longer ago
      than that (host time: a camera that stopped delivering, an unplugged D405);
    - its device timestamp says it is older than `stale_after_s` beyond the best latency
      seen this episode: the newest frame's age on the device clock, (now - t_device), minus
      the smallest (t_host - t_device) so far. Frames that keep arriving but were captured
      ever longer ago (a USB or Wi-Fi backlog) are caught although their host times are
      fresh. Only differences of the device clock are used, so it need not match the host's;
      a constant latency is invisible (no clock can show it);
    - its frame counter or its image has not changed for `frozen_after_s`;
    - its frame number or device timestamp went backwards (the device restarted its stream).
    Times are in seconds; t_host and now of the backend's clock, t_device of the device's."""

    def __init__(self, limits: SafetyLimits, cameras: Sequence[str]):
        self.limits, self.cameras = limits, tuple(cameras)
        self._t0 = 0.0
        self._last: dict[str, tuple[int, bytes, float, float]] = {}  # number, digest, t_number, t_digest
        self._latency: dict[str, float] = {}  # smallest t_host - t_device seen (s)
        self._prev: dict[str, FrameStamp] = {}

    def reset(self, now: float) -> None:
        self._t0 = now
        self._last.clear()
        self._latency.clear()
        self._prev.clear()

    def check(self, camera: str, stamp: FrameStamp | None, now: float) -> None:
        lim = self.limits
        if stamp is None:
            if now - self._t0 > lim.stale_after_s:
                raise SafetyStop(f"camera {camera}: no frame for {now - self._t0:.2f} s (limit {lim.stale_after_s} s)")
            return
        age = now - stamp.t_host
        if age > lim.stale_after_s:
            raise SafetyStop(f"camera {camera}: stale frame {stamp.number}, {age:.2f} s old (limit {lim.stale_after_s} s)")
        prev = self._prev.get(camera)
        if prev is not None and stamp is not prev and (stamp.number < prev.number or (
                stamp.t_device is not None and prev.t_device is not None and stamp.t_device < prev.t_device)):
            raise SafetyStop(f"camera {camera}: frame numbers went back from {prev.number} to {stamp.number} (device "
                             f"time {prev.t_device} -> {stamp.t_device} s): the device restarted its stream "
                             f"(reconnected); check its cable")
        self._prev[camera] = stamp
        if stamp.t_device is not None:
            latency = min(self._latency.get(camera, math.inf), stamp.t_host - stamp.t_device)
            self._latency[camera] = latency
            lag = (now - stamp.t_device) - latency
            if lag > lim.stale_after_s:
                raise SafetyStop(f"camera {camera}: newest frame {stamp.number} is {lag:.2f} s old by its device "
                                 f"timestamp (limit {lim.stale_after_s} s) although frames keep arriving: the stream "
                                 f"lags behind (USB or Wi-Fi backlog)")
        last = self._last.get(camera)
        if last is None:
            self._last[camera] = (stamp.number, stamp.digest, now, now)
            return
        number, digest, t_number, t_digest = last
        if stamp.number != number:
            t_number = now
        if stamp.digest != digest or not stamp.digest:
            t_digest = now
        self._last[camera] = (stamp.number, stamp.digest, t_number, t_digest)
        if now - t_number > lim.frozen_after_s:
            raise SafetyStop(f"camera {camera}: frame counter stuck at {stamp.number} for {now - t_number:.2f} s "
                             f"(limit {lim.frozen_after_s} s)")
        if now - t_digest > lim.frozen_after_s:
            raise SafetyStop(f"camera {camera}: identical image for {now - t_digest:.2f} s although frame numbers "
                             f"advance (limit {lim.frozen_after_s} s); the driver is serving one frame")


class ArmStop(SafetyStop):
    """A SafetyStop caused by one arm (its joint states or its tracking): `arm` names it; the
    backend sends that arm nothing more (its motors hold their last target or are limp)."""

    def __init__(self, arm: str, reason: str):
        super().__init__(reason)
        self.arm = arm


class JointStateMonitor:
    """Checks each arm's joint_states every control step, on what real hardware shows.

    `check(arm, state, commanded, now)` with `state` an `egogym.real.devices.ArmState` and
    `commanded` the last command sent to that arm (7 values: 6 joints rad, gripper
    normalized) raises ArmStop when:
    - the message is implausible: a non-finite value; the signature of xs_driver's failed
      sync read (every motor at one position, every velocity and current exactly 0: zeroed
      buffers decoded); a joint more than 0.1 rad outside the spec's limits; a header.stamp
      that went backwards; a joint that moved faster than `max_joint_speed` (x1.5, +0.02
      rad) between two messages (by their stamps);
    - its header.stamp has not changed for `joint_state_timeout_s` of the backend's clock
      (xs_sdk publishes at 100 Hz; `core.joint_states` keeps the last message forever);
    - a joint has been more than `max_tracking_error` from its command for
      `tracking_steps` steps in a row (a motor that turned its torque off after an
      overload: the joint falls, silently), or the gripper more than
      `max_gripper_tracking_error` while drawing under `gripper_min_current_ma` (its torque
      is off; a gripper squeezing an object draws current and does not count).
    `reset()` forgets every arm's history (start of an episode, start of a move home)."""

    def __init__(self, limits: SafetyLimits, spec: RobotSpec, arms: Sequence[str]):
        self.limits, self.spec, self.arms = limits, spec, tuple(arms)
        self._prev: dict[str, tuple] = {}  # arm -> (stamp, position, t_host when the stamp last changed)
        self._over: dict[str, np.ndarray] = {}
        self._fresh: dict[str, bool] = {}

    def reset(self) -> None:
        self._prev.clear()
        self._over.clear()
        self._fresh.clear()

    def fresh(self, arm: str) -> bool:
        """Whether the last check of `arm` saw a new message (its header.stamp changed)."""
        return self._fresh.get(arm, False)

    def check(self, arm: str, state, commanded: np.ndarray | None, now: float) -> None:
        lim, spec_arm = self.limits, self.spec.arm(arm)
        names = list(spec_arm.joint_names) + ["gripper"]
        prev = self._prev.get(arm)
        self._fresh[arm] = prev is None or state.stamp != prev[0]
        if prev is not None and state.stamp == prev[0]:
            if now - prev[2] > lim.joint_state_timeout_s:
                raise ArmStop(arm, f"arm {arm}: joint_states frozen: header.stamp unchanged for {now - prev[2]:.2f} s "
                                   f"(limit {lim.joint_state_timeout_s} s; xs_sdk publishes at 100 Hz): xs_sdk stopped "
                                   f"or its bus hangs; restart the arm's driver")
            return  # the same message as last step: nothing new to judge
        pos = np.asarray(state.position, float)
        vel, eff = np.asarray(state.velocity, float), np.asarray(state.effort, float)
        if not (np.all(np.isfinite(pos)) and np.isfinite(state.stamp) and np.isfinite(state.gripper_motor)):
            raise ArmStop(arm, f"arm {arm}: joint_states hold a non-finite value ({pos.round(3).tolist()})")
        motors = np.r_[pos[:ANGLES_PER_ARM], state.gripper_motor]
        if np.ptp(motors) == 0.0 and np.all(vel == 0.0) and np.all(eff == 0.0):
            raise ArmStop(arm, f"arm {arm}: joint_states decoded from zeroed buffers (every motor at {motors[0]:.3f} "
                               f"rad, velocities and currents 0): the Dynamixel bus stopped answering; check the "
                               f"arm's power and its U2D2 cable, then restart xs_sdk")
        q, lo, hi = pos[:ANGLES_PER_ARM], spec_arm.lower[:ANGLES_PER_ARM], spec_arm.upper[:ANGLES_PER_ARM]
        out = np.flatnonzero((q < lo - 0.1) | (q > hi + 0.1))
        if out.size:
            j = int(out[0])
            raise ArmStop(arm, f"arm {arm} {names[j]}: measured {pos[j]:.3f} rad, outside its limits "
                               f"[{spec_arm.lower[j]:.3f}, {spec_arm.upper[j]:.3f}]: a bad reading or a fallen joint")
        if prev is not None:
            dt = state.stamp - prev[0]
            if dt < 0:
                raise ArmStop(arm, f"arm {arm}: joint_states header.stamp went back by {-dt:.3f} s")
            jump = np.abs(pos[:ANGLES_PER_ARM] - prev[1][:ANGLES_PER_ARM])
            allowed = lim.max_joint_speed * dt * 1.5 + 0.02
            bad = np.flatnonzero(jump > allowed)
            if bad.size:
                j = int(bad[0])
                raise ArmStop(arm, f"arm {arm} {names[j]}: moved {jump[j]:.3f} rad in {dt:.3f} s between two "
                                   f"joint_states (at most {allowed:.3f} rad at {lim.max_joint_speed} rad/s): "
                                   f"an implausible reading")
        self._prev[arm] = (state.stamp, pos, now)
        if commanded is None:
            return
        err = np.abs(np.asarray(commanded, float) - pos)
        over = np.r_[err[:ANGLES_PER_ARM] > lim.max_tracking_error,
                     err[GRIPPER] > lim.max_gripper_tracking_error and abs(eff[GRIPPER]) < lim.gripper_min_current_ma]
        count = np.where(over, self._over.get(arm, np.zeros(JOINTS_PER_ARM, int)) + 1, 0)
        self._over[arm] = count
        bad = np.flatnonzero(count >= lim.tracking_steps)
        if bad.size:
            j = int(bad[0])
            if j == GRIPPER:
                raise ArmStop(arm, f"arm {arm} gripper: {err[GRIPPER]:.2f} from its command for {count[GRIPPER]} "
                                   f"steps drawing {abs(eff[GRIPPER]):.0f} mA (limits {lim.max_gripper_tracking_error}, "
                                   f"{lim.gripper_min_current_ma} mA): its motor turned torque off (overload?); it is "
                                   f"rebooted at the next reset")
            raise ArmStop(arm, f"arm {arm} {names[j]}: {err[j]:.3f} rad from its command for {count[j]} steps (limit "
                               f"{lim.max_tracking_error} rad): the joint is not following (torque off after an "
                               f"overload, or blocked); reboot its motor before the next episode")


class EmergencyStop:
    """A stop request from Ctrl-C, a key, or code (`trigger`), honoured at the next control step.

    While `armed()`: SIGINT (Ctrl-C) triggers a stop instead of raising KeyboardInterrupt
    (main thread only); when stdin is a terminal it is put in cbreak mode and `poll()`
    triggers a stop on any of `keys` (default: space bar or Esc). The terminal and the
    previous SIGINT handler are restored on exit."""

    def __init__(self, keys: str = " \x1b", stdin=None):
        self.keys = keys
        self._stdin = stdin if stdin is not None else sys.stdin
        self._reason: str | None = None
        self._lock = threading.Lock()
        self._tty_fd: int | None = None

    @property
    def reason(self) -> str | None:
        return self._reason

    def trigger(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason

    def clear(self) -> None:
        with self._lock:
            self._reason = None

    def poll(self) -> str | None:
        """Read pending keys (non-blocking); return the stop reason, if any."""
        if self._tty_fd is not None:
            try:
                while select.select([self._tty_fd], [], [], 0)[0]:
                    ch = os.read(self._tty_fd, 1).decode(errors="replace")
                    if ch and ch in self.keys:
                        self.trigger(f"emergency stop: key {ch!r} pressed")
            except OSError:
                pass
        return self._reason

    @contextlib.contextmanager
    def armed(self) -> Iterator["EmergencyStop"]:
        old_handler = None
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            old_handler = signal.signal(signal.SIGINT, lambda *_: self.trigger("emergency stop: Ctrl-C"))
        old_term = None
        try:
            fd = self._stdin.fileno()
            if os.isatty(fd):
                import termios
                import tty

                old_term = termios.tcgetattr(fd)
                tty.setcbreak(fd)
                self._tty_fd = fd
        except (AttributeError, OSError, ValueError):
            self._tty_fd = None
        try:
            yield self
        finally:
            if old_term is not None and self._tty_fd is not None:
                import termios

                termios.tcsetattr(self._tty_fd, termios.TCSADRAIN, old_term)
            self._tty_fd = None
            if in_main and old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
