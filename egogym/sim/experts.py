"""Scripted experts for the sim tasks.

An expert plans end-effector waypoints from the simulator's state (privileged: it
reads where the toy and the bowl are), solves each waypoint to joint targets with
dm_control's inverse kinematics, and plays the joint targets out at the control rate
through the env's ordinary action interface, like any policy (no mocap, no teleport).
Between waypoints joints follow minimum-jerk profiles.

Experts follow the evaluation's Policy protocol: `reset()`, then `act(obs) -> action`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dm_control.utils import inverse_kinematics as ik

from egogym import geometry
from egogym.sim.scene import toy_half_extents
from egogym.tasks.handover import HandOver
from egogym.tasks.object_in_bowl import BOWL_HEIGHT, ObjectInBowl

GRASP_TILTS = (0.55, 0.35, 0.75, 0.95, 0.15, 1.2)
"""Tilts (rad) of the approach axis from straight down, tried in this order. The arms
hang upside-down, so a slightly forward-leaning grasp keeps the wrist inside its limits."""

OPEN, CLOSED = 1.0, 0.0
SPEED = 0.45  # m/s, mean end-effector speed of transit moves


class IKFailure(RuntimeError):
    pass


class ArmIK:
    """Inverse kinematics of one arm on a private copy of the sim's physics."""

    def __init__(self, backend, arm: str):
        self.backend, self.arm = backend, arm
        self.spec = backend.spec.arm(arm)
        self.physics = backend.physics.copy(share_model=True)
        self.joints = [f"{arm}/{j}" for j in self.spec.joint_names]
        self.lo, self.hi = self.spec.lower[:6], self.spec.upper[:6]
        base = backend.spec.arm(arm).mount_pos
        self.base_xy = np.array(base[:2])

    def lean(self, target: np.ndarray) -> np.ndarray:
        """Default lean of the approach axis: horizontally away from the arm's base."""
        return np.asarray(target[:2], float) - self.base_xy

    def rotation(self, target: np.ndarray, grip_axis: np.ndarray, tilt: float,
                 lean: np.ndarray | None = None) -> np.ndarray:
        """Gripper orientation: fingers close along the horizontal `grip_axis`; the approach
        axis leans by `tilt` from straight down toward the horizontal `lean` direction
        (default: away from the arm's base), taken perpendicular to the fingers."""
        g = np.array([grip_axis[0], grip_axis[1], 0.0])
        g /= np.linalg.norm(g)
        d = np.append(self.lean(target) if lean is None else np.asarray(lean[:2], float), 0.0)
        d -= g * (d @ g)
        n = np.linalg.norm(d)
        d = d / n if n > 1e-6 else np.cross([0.0, 0.0, 1.0], g)
        x = np.sin(tilt) * d + np.cos(tilt) * np.array([0.0, 0.0, -1.0])
        return np.stack([x, g, np.cross(x, g)], axis=1)

    def solve(self, target: np.ndarray, grip_axis: np.ndarray, seed: np.ndarray,
              lean: np.ndarray | None = None) -> np.ndarray:
        """Joint angles (6,) that put the pinch point at `target` (m, world), within the
        joint limits, closest to `seed`. Both signs of the grip axis are tried (the
        gripper is symmetric); `lean` as in `rotation`."""
        best, best_cost = None, np.inf
        # Seeds: the caller's (continuity), then the home pose (a well-conditioned start).
        for start in (np.asarray(seed, float), np.array(self.spec.home)):
            for rank, tilt in enumerate(GRASP_TILTS):
                for g in (grip_axis, -np.asarray(grip_axis)):
                    quat = geometry.mat_to_quat(self.rotation(target, g, tilt, lean))
                    self.physics.named.data.qpos[self.joints] = start
                    res = ik.qpos_from_site_pose(self.physics, f"{self.arm}/pinch", target_pos=target,
                                                 target_quat=quat, joint_names=self.joints, tol=1e-12,
                                                 max_steps=200, inplace=True)
                    if not res.success:
                        continue
                    q = self._wrap_near(np.array(self.physics.named.data.qpos[self.joints]), seed)
                    if q is None:
                        continue
                    cost = np.abs(q - seed).sum() + 0.5 * rank
                    if cost < best_cost:
                        best, best_cost = q, cost
                if best is not None and rank >= 1:
                    break
            if best is not None:
                break
        if best is None:
            raise IKFailure(f"{self.arm} arm: no joint solution within limits reaches {np.round(target, 3)}")
        return best

    def _wrap_near(self, q: np.ndarray, seed: np.ndarray) -> np.ndarray | None:
        """Shift each angle by multiples of 2 pi toward the seed, keeping it in limits."""
        out = q.copy()
        for i in range(6):
            cands = [q[i] + k * 2 * np.pi for k in (-1, 0, 1)]
            cands = [c for c in cands if self.lo[i] - 1e-6 <= c <= self.hi[i] + 1e-6]
            if not cands:
                return None
            out[i] = min(cands, key=lambda c: abs(c - seed[i]))
        return np.clip(out, self.lo, self.hi)


@dataclass
class Keyframe:
    """Targets for every active arm (7 values each) reached after `duration` seconds."""

    command: np.ndarray
    duration: float


class JointPlan:
    """Keyframes played out at the control rate with minimum-jerk joint profiles."""

    def __init__(self, start: np.ndarray, keyframes: list[Keyframe], control_hz: float):
        self.commands: list[np.ndarray] = []
        prev = np.asarray(start, float)
        for kf in keyframes:
            n = max(1, int(round(kf.duration * control_hz)))
            s = np.arange(1, n + 1) / n
            blend = 10 * s**3 - 15 * s**4 + 6 * s**5
            self.commands.extend(prev + b * (kf.command - prev) for b in blend)
            prev = kf.command
        self.i = 0

    def done(self) -> bool:
        return self.i >= len(self.commands)

    def next(self) -> np.ndarray:
        c = self.commands[min(self.i, len(self.commands) - 1)]
        self.i += 1
        return c


def _move_time(a: np.ndarray, b: np.ndarray, floor: float = 0.4) -> float:
    return max(floor, float(np.linalg.norm(np.asarray(a) - np.asarray(b))) / SPEED * 1.5)


def grip_axis_for(toy: str, yaw: float, approach: np.ndarray) -> np.ndarray:
    """Horizontal direction the fingers close along, for a toy at heading `yaw`.

    Bars are taken across their length; cubes across the pair of faces most facing the
    approach's sides; cylinders across any diameter (perpendicular to the approach)."""
    perp = np.array([-approach[1], approach[0]]) / (np.linalg.norm(approach[:2]) + 1e-9)
    if toy == "bar":
        return np.array([-np.sin(yaw), np.cos(yaw)])
    if toy == "cube":
        axes = [np.array([np.cos(yaw), np.sin(yaw)]), np.array([-np.sin(yaw), np.cos(yaw)])]
        return max(axes, key=lambda a: abs(a @ perp))
    return perp


class ObjectInBowlExpert:
    """Picks the toy, drops it in the bowl, waits for the point, repeats.

    env: an EgoEnv (or a wrapper of one) whose task is ObjectInBowl, with the sim backend.
    """

    def __init__(self, env):
        self.env = env.unwrapped
        if not isinstance(self.env.task, ObjectInBowl) or isinstance(self.env.task, HandOver):
            raise TypeError("ObjectInBowlExpert needs an env whose task is object_in_bowl")
        self.backend = self.env.backend
        self.arm = self.env.arms[-1]
        self.ik = ArmIK(self.backend, self.arm)
        self.plan: JointPlan | None = None

    def reset(self) -> None:
        self.plan = None

    def act(self, obs: dict) -> np.ndarray:
        if self.plan is None or self.plan.done():
            self.plan = self._replan(obs)
        return self.plan.next()

    def _replan(self, obs: dict) -> JointPlan:
        task, physics = self.env.task, self.backend.physics
        hz = self.backend.spec.control_hz
        current = np.asarray(self.backend._targets[self.arm], float)
        toy_pos, toy_yaw = task.toy_pose(physics)
        bowl = task.bowl_position(physics)
        if np.linalg.norm(toy_pos[:2] - bowl[:2]) < 0.09 and toy_pos[2] < bowl[2] + BOWL_HEIGHT + 0.03:
            return JointPlan(current, [Keyframe(current, 0.2)], hz)  # in the bowl: wait for the point
        try:
            return JointPlan(current, self._pick_and_place(current, toy_pos, toy_yaw, bowl), hz)
        except IKFailure:
            return JointPlan(current, [Keyframe(self.backend.spec.arm(self.arm).home_command, 1.0)], hz)

    def _pick_and_place(self, current, toy_pos, toy_yaw, bowl) -> list[Keyframe]:
        toy = self.env.task.toy
        hz = toy_half_extents(toy)[2]
        axis = grip_axis_for(toy, toy_yaw, toy_pos[:2] - self.ik.base_xy)
        grasp = toy_pos + [0, 0, 0.002]
        pre = grasp + [0, 0, 0.09]
        lift = grasp + [0, 0, 0.13]
        release = np.array([bowl[0], bowl[1], bowl[2] + BOWL_HEIGHT + hz + 0.02])
        above = release + [0, 0, 0.05]
        q = current[:6]
        frames = []
        pinch = self.backend.pinch_world(self.arm)
        for target, grip, dur in ((pre, OPEN, _move_time(pinch, pre, 0.6)), (grasp, OPEN, 0.5), (grasp, CLOSED, 0.45),
                                  (lift, CLOSED, 0.5), (above, CLOSED, _move_time(lift, above)),
                                  (release, CLOSED, 0.35), (release, OPEN, 0.3), (above, OPEN, 0.3)):
            q = self.ik.solve(target, axis, q)
            frames.append(Keyframe(np.append(q, grip), dur))
        return frames


class HandOverExpert:
    """Right arm picks the bar and lifts it to the middle; the left takes it and puts it
    in the bowl; the right returns home. Acts in the 14-D layout [left, right]."""

    HANDOVER_POINT = np.array([0.20, -0.04, 0.0])  # (x, y) over the table; z set from the table

    def __init__(self, env):
        self.env = env.unwrapped
        if not isinstance(self.env.task, HandOver):
            raise TypeError("HandOverExpert needs an env whose task is handover")
        self.backend = self.env.backend
        self.ik = {a: ArmIK(self.backend, a) for a in ("left", "right")}
        self.plan: JointPlan | None = None

    def reset(self) -> None:
        self.plan = None

    def act(self, obs: dict) -> np.ndarray:
        if self.plan is None or self.plan.done():
            self.plan = self._replan()
        return self.plan.next()

    def _current(self) -> np.ndarray:
        return np.concatenate([self.backend._targets["left"], self.backend._targets["right"]]).astype(float)

    def _replan(self) -> JointPlan:
        task, physics = self.env.task, self.backend.physics
        hz = self.backend.spec.control_hz
        current = self._current()
        toy_pos, toy_yaw = task.toy_pose(physics)
        bowl = task.bowl_position(physics)
        if np.linalg.norm(toy_pos[:2] - bowl[:2]) < 0.09 and toy_pos[2] < bowl[2] + BOWL_HEIGHT + 0.03:
            return JointPlan(current, [Keyframe(current, 0.2)], hz)
        try:
            return JointPlan(current, self._handover(current, toy_pos, toy_yaw, bowl), hz)
        except IKFailure:
            home = np.concatenate([self.backend.spec.arm(a).home_command for a in ("left", "right")])
            return JointPlan(current, [Keyframe(home, 1.0)], hz)

    def _handover(self, current, toy_pos, toy_yaw, bowl) -> list[Keyframe]:
        spec = self.backend.spec
        ikl, ikr = self.ik["left"], self.ik["right"]
        ql, qr = current[:6], current[7:13]
        home_l = np.array(spec.arm("left").home)
        gl, gr = current[6], current[13]
        frames: list[Keyframe] = []

        # Each arm keeps one lean direction while it holds the bar, so the bar stays level.
        lean = {}

        def add(dur, left=None, right=None):
            nonlocal ql, qr, gl, gr
            if left is not None:
                ql = ikl.solve(left[0], left[1], ql, lean.get("left")) if left[0] is not None else ql
                gl = left[2]
            if right is not None:
                qr = ikr.solve(right[0], right[1], qr, lean.get("right")) if right[0] is not None else qr
                gr = right[2]
            frames.append(Keyframe(np.concatenate([ql, [gl], qr, [gr]]), dur))

        # Bar axis points from its right end to its left end (+y side).
        a = np.array([np.cos(toy_yaw), np.sin(toy_yaw), 0.0])
        if a[1] < 0:
            a = -a
        axis = a[:2]
        grip = np.array([-axis[1], axis[0]])  # across the bar
        r_grasp = toy_pos - 0.035 * a + [0, 0, 0.002]
        lean["right"] = -a[:2]
        pinch_r = self.backend.pinch_world("right")
        add(_move_time(pinch_r, r_grasp + [0, 0, 0.09], 0.6), right=(r_grasp + [0, 0, 0.09], grip, OPEN))
        add(0.5, right=(r_grasp, grip, OPEN))
        add(0.45, right=(r_grasp, grip, CLOSED))
        add(0.5, right=(r_grasp + [0, 0, 0.12], grip, CLOSED))
        # In the middle, the bar is held along y: fingers close along x.
        table_z = self.env.task.table_z
        h_r = np.array([self.HANDOVER_POINT[0], self.HANDOVER_POINT[1], table_z + 0.16])
        across = np.array([1.0, 0.0])
        add(_move_time(r_grasp, h_r), right=(h_r, across, CLOSED))
        h_l = h_r + [0, 0.07, 0]
        lean["left"] = np.array([0.0, -1.0])
        add(1.0, left=(h_l + [0, 0, 0.06], across, OPEN))
        add(0.5, left=(h_l, across, OPEN))
        add(0.45, left=(h_l, across, CLOSED))
        add(0.35, right=(None, None, OPEN))
        add(0.5, right=(h_r + [0, -0.06, 0.04], across, OPEN))
        hz = toy_half_extents("bar")[2]
        release = np.array([bowl[0], bowl[1], bowl[2] + BOWL_HEIGHT + hz + 0.02])
        # The left gripper holds the bar 0.035 m left of its centre: aim the centre at the bowl.
        release_l = release + [0, 0.035, 0]
        add(_move_time(h_l, release_l + [0, 0, 0.06]), left=(release_l + [0, 0, 0.06], across, CLOSED),
            right=(None, None, OPEN))
        frames[-1].command[7:13] = spec.arm("right").home
        qr = np.array(spec.arm("right").home)
        add(0.4, left=(release_l, across, CLOSED))
        add(0.3, left=(None, None, OPEN))
        add(0.3, left=(release_l + [0, 0, 0.06], across, OPEN))
        frames.append(Keyframe(np.concatenate([home_l, [OPEN], qr, [OPEN]]), 0.8))
        return frames


EXPERTS = {"object_in_bowl": ObjectInBowlExpert, "handover": HandOverExpert}


def make_expert(env):
    """The scripted expert of env's task."""
    name = env.unwrapped.task.name
    if name not in EXPERTS:
        raise ValueError(f"no scripted expert for task {name!r} (have: {', '.join(EXPERTS)})")
    return EXPERTS[name](env)
