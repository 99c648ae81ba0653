"""Scripted experts for the sim tasks.

An expert plans end-effector waypoints from the simulator's state (privileged: it
reads where the toy and the bowl are), solves each waypoint to joint targets with
dm_control's inverse kinematics, and plays the joint targets out at the control rate
through the env's ordinary action interface, like any policy (no mocap, no teleport).
Between waypoints joints follow minimum-jerk profiles.

Experts follow the evaluation's Policy protocol: `reset()`, then `act(obs) -> action`.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from absl import logging as absl_logging
from dm_control.utils import inverse_kinematics as ik

from egogym.core import geometry
from egogym.core.arms import Arms
from egogym.core.spec import RobotSpec
from egogym.sim.tasks import finger_geoms, geoms_touch
from egogym.tasks import HandOver, ObjectInBowl
from egogym.tasks.objects import BOWL_HEIGHT, TOYS

GRASP_TILTS = (0.55, 0.35, 0.75, 0.95, 0.15, 1.2)
HOLDING_TILTS = GRASP_TILTS + (-0.15, -0.35, -0.55)
"""Holding a round bar, the gripper may also lean back toward the base about the bar."""
TABLE_HOLDING_TILTS = (0.0, 0.15, -0.15, 0.3, -0.3, 0.45, -0.45, 0.6)
"""Leaning about a bar tilts the fingers sideways; near the table the lower finger would
strike it first, so table grasps lean as little as the wrist allows."""
BAR_OPEN = 0.6  # gripper opening for the 32 mm bar: clear by about 1 cm on each side
"""Tilts (rad) of the approach axis from straight down, tried in this order. The arms
hang upside-down, so a slightly forward-leaning grasp keeps the wrist inside its limits."""

OPEN, CLOSED = 1.0, 0.0
GRIP_SPAN = 0.07  # m: the widest box face pair grasped (the open fingers' gap is about 8.4 cm)
SPEED = 0.45  # m/s, mean end-effector speed of transit moves


class IKFailure(RuntimeError):
    pass


@contextlib.contextmanager
def _quiet_ik():
    # dm_control's IK logs a warning for every unconverged attempt; the expert tries
    # many on purpose and reports its own failure.
    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


class ArmIK:
    """Inverse kinematics of one arm on a private copy of `physics` (a model with the arm's joints
    `<arm>/<joint>` and pinch site `<arm>/pinch`: the twin's, or the simulated person's with the arms)."""

    def __init__(self, physics, robot: RobotSpec, arm: str):
        self.arm = arm
        self.spec = robot.arm(arm)
        self.physics = physics.copy(share_model=True)
        self.joints = [f"{arm}/{j}" for j in self.spec.joint_names]
        self.lo, self.hi = self.spec.lower[:6], self.spec.upper[:6]
        self.base_xy = np.array(self.spec.mount_pos[:2])

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

    def rotation_holding(self, target: np.ndarray, object_axis: np.ndarray, tilt: float) -> np.ndarray:
        """Gripper orientation that holds a round bar lying along the horizontal
        `object_axis` (the gripper's z axis): the approach axis leans by `tilt` about the
        bar, away from the arm's base. Any tilt keeps the bar where it is."""
        b = np.array([object_axis[0], object_axis[1], 0.0])
        b /= np.linalg.norm(b)
        d = np.append(self.lean(target), 0.0)
        d -= b * (d @ b)
        n = np.linalg.norm(d)
        d = d / n if n > 1e-6 else np.cross([0.0, 0.0, 1.0], b)
        x = np.sin(tilt) * d + np.cos(tilt) * np.array([0.0, 0.0, -1.0])
        return np.stack([x, np.cross(b, x), b], axis=1)

    def solve(self, target: np.ndarray, grip_axis: np.ndarray, seed: np.ndarray,
              lean: np.ndarray | None = None, tilts: tuple[float, ...] | None = None,
              holding: bool = False) -> np.ndarray:
        """Joint angles (6,) that put the pinch point at `target` (m, world), within the
        joint limits, closest to `seed`. Both signs of the grip axis are tried (the
        gripper is symmetric); `lean` as in `rotation`. `grip_axis` may also be a list of
        candidate axes (for a toy whose in-hand heading does not matter). With
        `holding=True` the axis is that of a round bar to hold (see `rotation_holding`)."""
        axes = [np.asarray(a, float) for a in grip_axis] if isinstance(grip_axis, list) else [np.asarray(grip_axis, float)]
        tilts = tilts or (HOLDING_TILTS if holding else GRASP_TILTS)
        best, best_cost = None, np.inf
        # Seeds: the caller's (continuity), then the home pose turned toward the target
        # (a well-conditioned start), then the plain home pose.
        toward = np.array(self.spec.home)
        rel = np.asarray(target[:2], float) - self.base_xy
        toward[0] = np.arctan2(-rel[1], rel[0])  # the base frame is the world's turned about x
        for start in (np.asarray(seed, float), toward, np.array(self.spec.home)):
            for rank, tilt in enumerate(tilts):
                for g in [sign * a for a in axes for sign in (1.0, -1.0)]:
                    R = self.rotation_holding(target, g, tilt) if holding else self.rotation(target, g, tilt, lean)
                    q = self._attempt(target, R, start, seed, tol=1e-12, max_steps=200)
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

    def follow(self, target: np.ndarray, grip_axis: np.ndarray, seed: np.ndarray, tilt: float) -> np.ndarray | None:
        """`solve` for a target that moves a little from frame to frame: one tilt, both signs of
        `grip_axis`, from `seed` only, 60 steps; the solution nearer the seed, or None."""
        best = None
        for g in (grip_axis, -grip_axis):
            q = self._attempt(target, self.rotation(target, g, tilt), seed, seed, tol=1e-10, max_steps=60)
            if q is not None and (best is None or np.abs(q - seed).sum() < np.abs(best - seed).sum()):
                best = q
        return best

    def closest(self, target: np.ndarray, seed: np.ndarray) -> np.ndarray:
        """Joint angles (6,), within the limits, that bring the pinch point as near `target` as the
        solver gets from `seed` (position only): for a target out of reach."""
        self.physics.named.data.qpos[self.joints] = seed
        with _quiet_ik():
            ik.qpos_from_site_pose(self.physics, f"{self.arm}/pinch", target_pos=target, joint_names=self.joints,
                                   tol=1e-10, max_steps=60, inplace=True)
        return np.clip(np.array(self.physics.named.data.qpos[self.joints]), self.lo, self.hi)

    def _attempt(self, target: np.ndarray, R: np.ndarray, start: np.ndarray, seed: np.ndarray, tol: float,
                 max_steps: int) -> np.ndarray | None:
        """One solver run from `start` toward the pinch point at `target` with orientation R:
        the angles wrapped near `seed` and within the limits, or None."""
        self.physics.named.data.qpos[self.joints] = start
        with _quiet_ik():
            res = ik.qpos_from_site_pose(self.physics, f"{self.arm}/pinch", target_pos=target,
                                         target_quat=geometry.mat_to_quat(R), joint_names=self.joints, tol=tol,
                                         max_steps=max_steps, inplace=True)
        return self._wrap_near(np.array(self.physics.named.data.qpos[self.joints]), seed) if res.success else None

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


def move_time(a: np.ndarray, b: np.ndarray, floor: float = 0.4) -> float:
    return max(floor, float(np.linalg.norm(np.asarray(a) - np.asarray(b))) / SPEED * 1.5)


@dataclass(frozen=True)
class Waypoint:
    """Where the expert's pinch point goes next (m, world), its gripper there (OPEN / CLOSED),
    the seconds it takes, and whether the fingers must be across the toy (False: any heading)."""

    target: np.ndarray
    grip: float
    duration: float
    at_toy: bool


def pick_and_place_waypoints(pinch: np.ndarray, toy_pos: np.ndarray, toy: str, bowl: np.ndarray) -> list[Waypoint]:
    """The expert's pick and place from the pinch point `pinch`: over the toy (9 cm above), straight
    down, close, lift 13 cm, over the bowl, down to 2 cm over the rim, open, back up. Positions m,
    world; `toy_pos` the toy's centre, `bowl` its centre on the table. The simulated person's
    `motion="robot"` follows the same waypoints (`egogym.sim.human`)."""
    grasp = np.asarray(toy_pos, float) + [0, 0, 0.002]
    pre = grasp + [0, 0, 0.09]
    lift = grasp + [0, 0, 0.13]
    release = np.array([bowl[0], bowl[1], bowl[2] + BOWL_HEIGHT + TOYS[toy].half_extents[2] + 0.02])
    above = release + [0, 0, 0.05]
    return [Waypoint(pre, OPEN, move_time(pinch, pre, 0.6), True), Waypoint(grasp, OPEN, 0.5, True),
            Waypoint(grasp, CLOSED, 0.45, True), Waypoint(lift, CLOSED, 0.5, True),
            Waypoint(above, CLOSED, move_time(lift, above), False), Waypoint(release, CLOSED, 0.35, False),
            Waypoint(release, OPEN, 0.3, False), Waypoint(above, OPEN, 0.3, False)]


def _toy_in_bowl(toy_pos: np.ndarray, bowl: np.ndarray) -> bool:
    """The toy lies in the bowl (the task will score it once it rests): nothing to plan."""
    return bool(np.linalg.norm(toy_pos[:2] - bowl[:2]) < 0.09 and toy_pos[2] < bowl[2] + BOWL_HEIGHT + 0.03)


def grip_axis_for(toy: str, yaw: float, approach: np.ndarray) -> np.ndarray:
    """Horizontal direction the fingers close along, for a toy at heading `yaw`.

    Bars are taken across their length; boxes across the pair of faces most facing the
    approach's sides among those the open gripper spans (GRIP_SPAN); cylinders across any
    diameter (perpendicular to the approach)."""
    perp = np.array([-approach[1], approach[0]]) / (np.linalg.norm(approach[:2]) + 1e-9)
    shape = TOYS[toy]
    if shape.kind == "bar":
        return np.array([-np.sin(yaw), np.cos(yaw)])
    if shape.kind == "box":
        hx, hy, _ = shape.half_extents
        axes = [a for a, h in ((np.array([np.cos(yaw), np.sin(yaw)]), hx), (np.array([-np.sin(yaw), np.cos(yaw)]), hy))
                if 2 * h <= GRIP_SPAN or h == min(hx, hy)]
        return max(axes, key=lambda a: abs(a @ perp))
    return perp


class _PlanningExpert:
    """What every scripted expert shares: a joint plan replayed one point per step, made
    again when it runs out (`_replan`), from the simulator's state, never its images."""

    plan: "JointPlan | None" = None

    def reset(self) -> None:
        self.plan = None

    def reads_images(self) -> bool:
        """Never: the expert plans from the simulator's state."""
        return False


class ObjectInBowlExpert(_PlanningExpert):
    """Picks the toy, drops it in the bowl, waits for the point, repeats.

    env: an EgoEnv (or a wrapper of one) whose task is ObjectInBowl, with the sim backend.
    """

    def __init__(self, env):
        self.env = env.unwrapped
        if not isinstance(self.env.task, ObjectInBowl) or isinstance(self.env.task, HandOver):
            raise TypeError("ObjectInBowlExpert needs an env whose task is object_in_bowl")
        self.backend = self.env.backend
        self.task = self.backend.sim_task
        self.arm = self.env.arms[-1]
        self.ik = ArmIK(self.backend.physics, self.backend.spec, self.arm)
        self.plan: JointPlan | None = None

    def act(self, obs: dict) -> np.ndarray:
        if self.plan is None or self.plan.done():
            self.plan = self._replan(obs)
        return self.plan.next()

    def _replan(self, obs: dict) -> JointPlan:
        task, physics = self.task, self.backend.physics
        hz = self.backend.spec.control_hz
        current = self.backend.last_command(self.arm)
        toy_pos, toy_yaw = task.toy_pose(physics)
        bowl = task.bowl_position(physics)
        if _toy_in_bowl(toy_pos, bowl):
            return JointPlan(current, [Keyframe(current, 0.2)], hz)  # wait for the point
        try:
            return JointPlan(current, self._pick_and_place(current, toy_pos, toy_yaw, bowl), hz)
        except IKFailure:
            return JointPlan(current, [Keyframe(self.backend.spec.arm(self.arm).home_command, 1.0)], hz)

    def _pick_and_place(self, current, toy_pos, toy_yaw, bowl) -> list[Keyframe]:
        toy = self.task.toy
        axis = grip_axis_for(toy, toy_yaw, toy_pos[:2] - self.ik.base_xy)
        # Over the bowl the toy's heading does not matter: let the wrist take any.
        any_axis = [np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, np.pi, 8, endpoint=False)]
        q = current[:6]
        frames = []
        for w in pick_and_place_waypoints(self.backend.pinch_world(self.arm), toy_pos, toy, bowl):
            q = self.ik.solve(w.target, axis if w.at_toy else any_axis, q)
            frames.append(Keyframe(np.append(q, w.grip), w.duration))
        return frames


class HandOverExpert(_PlanningExpert):
    """Right arm picks the bar and lifts it to the middle; the left takes it and puts it
    in the bowl; the right returns home. Acts in the 14-D layout [left, right]."""

    HANDOVER_POINT = np.array([0.20, -0.04, 0.0])  # (x, y) over the table; z set from the table

    def __init__(self, env):
        self.env = env.unwrapped
        if not isinstance(self.env.task, HandOver):
            raise TypeError("HandOverExpert needs an env whose task is handover")
        self.backend = self.env.backend
        self.task = self.backend.sim_task
        self.ik = {a: ArmIK(self.backend.physics, self.backend.spec, a) for a in ("left", "right")}
        self.plan: JointPlan | None = None

    def act(self, obs: dict) -> np.ndarray:
        if self.plan is None or self.plan.done():
            self.plan = self._replan()
        return self.plan.next()

    def _current(self) -> np.ndarray:
        return np.concatenate([self.backend.last_command("left"), self.backend.last_command("right")])

    def _replan(self) -> JointPlan:
        task, physics = self.task, self.backend.physics
        hz = self.backend.spec.control_hz
        current = self._current()
        toy_pos, toy_yaw = task.toy_pose(physics)
        bowl = task.bowl_position(physics)
        home = np.concatenate([self.backend.spec.arm(a).home_command for a in ("left", "right")])
        if _toy_in_bowl(toy_pos, bowl):
            return JointPlan(current, [Keyframe(current, 0.2)], hz)  # wait for the point
        held_by_right = geoms_touch(physics, task.toy_geoms, finger_geoms(physics, "right"))
        try:
            if held_by_right and toy_pos[2] > task.table_z + 0.08:
                # Phase 2, planned from where the bar really is in the right hand.
                return JointPlan(current, self._transfer(current, physics, bowl), hz)
            return JointPlan(current, self._pick(current, toy_pos, toy_yaw), hz)
        except IKFailure:
            return JointPlan(current, [Keyframe(home, 1.0)], hz)

    @staticmethod
    def _kf(dur, ql, gl, qr, gr) -> Keyframe:
        return Keyframe(np.concatenate([ql, [gl], qr, [gr]]), dur)

    def _pick(self, current, toy_pos, toy_yaw) -> list[Keyframe]:
        """Phase 1: the right arm picks the bar near its right end and lifts it to the
        hand-over point, held along y. The bar is nearly round, so each gripper may lean
        freely about it and the bar stays level."""
        a = np.array([np.cos(toy_yaw), np.sin(toy_yaw), 0.0])
        a = -a if a[1] < 0 else a  # from the bar's right end to its left end
        h_r = np.array([self.HANDOVER_POINT[0], self.HANDOVER_POINT[1], self.task.table_z + 0.16])
        ikr = self.ik["right"]
        for offset in (0.035, 0.045, 0.025):  # along the bar, from its centre toward the right end
            r_grasp = toy_pos - offset * a
            try:
                q_grasp = ikr.solve(r_grasp, a, current[Arms.joints(1)][:6], holding=True, tilts=TABLE_HOLDING_TILTS)
                # Close to the base the wrist runs out of range first: come in and leave lower there.
                q_pre = self._first_reachable(ikr, r_grasp, a, q_grasp, (0.09, 0.06, 0.04), TABLE_HOLDING_TILTS)
                q_lift = self._first_reachable(ikr, r_grasp, a, q_grasp, (0.12, 0.08, 0.05))
                q_hand = ikr.solve(h_r, np.array([0.0, 1.0]), q_lift, holding=True)
                right = [q_pre, q_grasp, q_lift, q_hand]
                break
            except IKFailure:
                continue
        else:
            raise IKFailure("right arm: no grasp along the bar is reachable")
        home_l = np.array(self.backend.spec.arm("left").home)
        pinch_r = self.backend.pinch_world("right")
        kf = self._kf
        return [
            kf(move_time(pinch_r, r_grasp + [0, 0, 0.09], 0.6), home_l, OPEN, right[0], BAR_OPEN),
            kf(0.5, home_l, OPEN, right[1], BAR_OPEN),
            kf(0.45, home_l, OPEN, right[1], CLOSED),
            kf(0.5, home_l, OPEN, right[2], CLOSED),
            kf(move_time(r_grasp, h_r), home_l, OPEN, right[3], CLOSED),
            kf(0.3, home_l, OPEN, right[3], CLOSED),
        ]

    @staticmethod
    def _first_reachable(ik_arm: ArmIK, point, axis, seed, heights, tilts=None) -> np.ndarray:
        """Joints for the first of `heights` (m) above `point` that the arm reaches holding
        a bar along `axis`."""
        for h in heights:
            try:
                return ik_arm.solve(point + [0, 0, h], axis, seed, holding=True, tilts=tilts)
            except IKFailure:
                continue
        raise IKFailure(f"{ik_arm.arm} arm: nothing reachable above {np.round(point, 3)}")

    def _transfer(self, current, physics, bowl) -> list[Keyframe]:
        """Phase 2: the left arm takes the bar's left end where the bar actually is, the
        right lets go and goes home, the left puts the bar in the bowl."""
        q = physics.named.data.qpos[self.task.toy_joint]
        R = geometry.quat_to_mat(q[3:7])
        a = R[:, 0] if R[1, 0] >= 0 else -R[:, 0]  # bar axis, toward its left end
        axis = a[:2]
        l_grasp = np.asarray(q[:3]) + 0.035 * a
        bar_hz = TOYS["bar"].half_extents[2]
        # The left gripper holds the bar 0.035 m left of its centre: aim the centre at the bowl.
        release = np.array([bowl[0], bowl[1] + 0.035, bowl[2] + BOWL_HEIGHT + bar_hz + 0.02])
        ikl, ql, left = self.ik["left"], current[:6], []
        for target, ax in ((l_grasp + [0, 0, 0.15], axis), (l_grasp + [0, 0, 0.05], axis), (l_grasp, axis),
                           (release + [0, 0, 0.06], np.array([0.0, 1.0])), (release, np.array([0.0, 1.0]))):
            ql = ikl.solve(target, ax, ql, holding=True)
            left.append(ql)
        qr = current[Arms.joints(1)][:6]
        pinch_r = self.backend.pinch_world("right")
        r_retreat = self.ik["right"].solve(pinch_r + [0, -0.06, 0.04], axis, qr, holding=True)
        home_l, home_r = np.array(self.backend.spec.arm("left").home), np.array(self.backend.spec.arm("right").home)
        kf = self._kf
        # The left comes in from above so it never sweeps through the bar.
        return [
            kf(0.9, left[0], BAR_OPEN, qr, CLOSED),
            kf(0.5, left[1], BAR_OPEN, qr, CLOSED),
            kf(0.6, left[2], BAR_OPEN, qr, CLOSED),
            kf(0.45, left[2], CLOSED, qr, CLOSED),
            kf(0.35, left[2], CLOSED, qr, OPEN),
            kf(0.5, left[2], CLOSED, r_retreat, OPEN),
            kf(move_time(l_grasp, release), left[3], CLOSED, home_r, OPEN),
            kf(0.4, left[4], CLOSED, home_r, OPEN),
            kf(0.3, left[4], OPEN, home_r, OPEN),
            kf(0.3, left[3], OPEN, home_r, OPEN),
            kf(0.8, home_l, OPEN, home_r, OPEN),
        ]


EXPERTS = {"object_in_bowl": ObjectInBowlExpert, "handover": HandOverExpert}


def steps_to_first_point(env, expert, seed: int) -> int | None:
    """Run `expert` on `env` from reset(seed) until the task's first point; the number of
    control steps it took, or None if the time limit came first."""
    obs, _ = env.reset(seed=seed)
    expert.reset()
    for k in range(env.spec.max_episode_steps):
        obs, _, _, _, info = env.step(expert.act(obs))
        if info["success"]:
            return k + 1
    return None


def make_expert(env):
    """The scripted expert of env's task."""
    name = env.unwrapped.task.name
    if name not in EXPERTS:
        raise ValueError(f"no scripted expert for task {name!r} (have: {', '.join(EXPERTS)})")
    return EXPERTS[name](env)
