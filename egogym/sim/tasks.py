"""Task declarations realised in the MuJoCo twin: objects into MJCF, an episode into the
simulator's state, the score from physics.

`realise(task)` gives the `SimTask` of a declaration (`egogym.tasks`). It adds the task's
objects to a scene (`build`, also used by the simulated human's scene), places the episode
the declaration draws (`initialize_episode`), applies its appearance (toy and table colours,
lights, the distractor) and scores after every control step (`update`), re-placing the toy
after a point with the declaration's own `sample_toy_place`.
"""
from __future__ import annotations

import numpy as np
from dm_control import mjcf

from egogym.core.protocols import Score
from egogym.sim.scene import table_top_z
from egogym.tasks import HandOver, ObjectInBowl, Task
from egogym.tasks.object_in_bowl import Appearance, Episode
from egogym.tasks.objects import BOWL_HEIGHT, BOWL_RADIUS, COLOURS, DISTRACTORS, LIGHTS, TOYS

PARKING = {"cube": (0.30, 0.45, 0.03), "cylinder": (0.30, -0.45, 0.03), "bar": (0.50, 0.45, 0.03),
           "block": (0.50, -0.45, 0.03), "can": (0.10, 0.45, 0.03)}
"""Where unused toys wait: on the floor under the table, out of every camera's view."""
DISTRACTOR_PARKING = (0.10, -0.45, 0.05)
DISTRACTOR_BODY = "distractor"


# ---- building ------------------------------------------------------------------------
def add_bowl(root: mjcf.RootElement, name: str = "bowl", segments: int = 20) -> mjcf.Element:
    """A bowl from primitives (BOWL_RADIUS inside the rim, BOWL_HEIGHT) on a mocap body
    (moved per episode), in the work cell's `bowl` material."""
    body = root.worldbody.add("body", name=name, mocap=True, pos=[0.2, 0, 0.75])
    body.add("geom", name=f"{name}_bottom", type="cylinder", size=[BOWL_RADIUS, 0.005], pos=[0, 0, 0.005],
             material="bowl")
    wall_t = 0.006
    seg_half = np.pi * (BOWL_RADIUS + wall_t) / segments * 1.05
    for k in range(segments):
        a = 2 * np.pi * k / segments
        r = BOWL_RADIUS + wall_t
        body.add("geom", type="box", size=[wall_t, seg_half, BOWL_HEIGHT / 2],
                 pos=[r * np.cos(a), r * np.sin(a), BOWL_HEIGHT / 2], euler=[0, 0, a], material="bowl")
    return body


def _add_shape(root: mjcf.RootElement, body: mjcf.Element, name: str, kind: str, half: tuple, **kw) -> None:
    hx, hy, hz = half
    if kind == "cylinder":
        body.add("geom", name=f"{name}_geom", type="cylinder", size=[hx, hz], **kw)
    elif kind == "bar":
        # An octagonal bar lying along the body's x axis: nearly round, so it can be
        # pinched at any roll, yet it does not roll away on the table as a cylinder would.
        ring = [(hz * np.cos(a), hz * np.sin(a)) for a in np.pi / 8 + np.arange(8) * np.pi / 4]
        verts = [c for x in (-hx, hx) for (y, z) in ring for c in (x, y, z)]
        root.asset.add("mesh", name=f"{name}_mesh", vertex=verts)
        body.add("geom", name=f"{name}_geom", type="mesh", mesh=f"{name}_mesh", **kw)
    else:
        body.add("geom", name=f"{name}_geom", type="box", size=[hx, hy, hz], **kw)


def add_toy(root: mjcf.RootElement, shape: str) -> mjcf.Element:
    """A free-floating toy `toy_<shape>` (`egogym.tasks.objects.TOYS`, about 40 g)."""
    spec = TOYS[shape]
    name = f"toy_{shape}"
    body = root.worldbody.add("body", name=name, pos=list(PARKING[shape]))
    body.add("freejoint", name=name)
    _add_shape(root, body, name, spec.kind, spec.half_extents, rgba=[*COLOURS[spec.colour], 1], mass=0.04,
               condim=4, friction=[1.2, 0.02, 0.002])
    return body


def build(root: mjcf.RootElement, task: Task) -> None:
    """Add the objects of `task` to a scene: the bowl, each of its toys, and (only if its
    distribution draws one) a distractor body per distractor kind, visual only."""
    add_bowl(root)
    for shape in task.toys:
        add_toy(root, shape)
    for kind in task.distractors:
        if kind in DISTRACTORS:
            d = DISTRACTORS[kind]
            body = root.worldbody.add("body", name=f"{DISTRACTOR_BODY}_{kind}", mocap=True, pos=list(DISTRACTOR_PARKING))
            _add_shape(root, body, f"{DISTRACTOR_BODY}_{kind}", d.kind, d.half_extents,
                       rgba=[*COLOURS[d.colour], 1], contype=0, conaffinity=0)


class AppearanceSetter:
    """Applies an `Appearance` to a compiled model: toy colour, table colour, light levels and
    the distractor's place. Every episode sets every axis (the defaults too), since the model
    keeps what the previous episode set."""

    def __init__(self, physics: mjcf.Physics, task: Task):
        m = physics.model.ptr
        self.physics, self.task = physics, task
        self._table_mat = m.material("tabletop").id
        self._table_rgba = m.mat_rgba[self._table_mat].copy()
        self._light_diffuse = m.light_diffuse.copy()
        self._headlight = m.vis.headlight.diffuse.copy()
        self._toy_geom = {s: m.geom(f"toy_{s}_geom").id for s in task.toys}
        self._distractors = {k: int(m.body_mocapid[m.body(f"{DISTRACTOR_BODY}_{k}").id])
                             for k in task.distractors if k in DISTRACTORS}
        self.table_z = table_top_z(physics)

    def apply(self, toy: str, a: Appearance) -> None:
        m, d = self.physics.model.ptr, self.physics.data.ptr
        m.geom_rgba[self._toy_geom[toy]] = [*COLOURS[a.toy_colour], 1]
        m.mat_rgba[self._table_mat] = self._table_rgba if a.table_colour is None else [*COLOURS[a.table_colour], 1]
        light = LIGHTS[a.light]
        gain = light.scale * np.asarray(light.tint)
        m.light_diffuse[:] = self._light_diffuse * gain
        m.vis.headlight.diffuse[:] = self._headlight * gain
        for kind, mocap in self._distractors.items():
            if kind == a.distractor:
                half_z = DISTRACTORS[kind].half_extents[2]
                d.mocap_pos[mocap] = [a.distractor_xy[0], a.distractor_xy[1], self.table_z + half_z]
            else:
                d.mocap_pos[mocap] = DISTRACTOR_PARKING


# ---- contacts and poses ------------------------------------------------------------------
def set_free_pose(physics: mjcf.Physics, joint: str, pos: np.ndarray, yaw: float) -> None:
    """Put a free-jointed body at `pos` (m, world) with heading `yaw` (rad), at rest."""
    q = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    physics.named.data.qpos[joint] = np.concatenate([pos, q])
    physics.named.data.qvel[joint] = 0.0


def geoms_touch(physics: mjcf.Physics, ids_a: set[int], ids_b: set[int]) -> bool:
    """True if any active contact pairs a geom of ids_a with one of ids_b."""
    d = physics.data
    for i in range(d.ncon):
        g1, g2 = int(d.contact.geom1[i]), int(d.contact.geom2[i])
        if (g1 in ids_a and g2 in ids_b) or (g2 in ids_a and g1 in ids_b):
            return True
    return False


def finger_geoms(physics: mjcf.Physics, arm: str) -> set[int]:
    """Geom ids of an arm's two finger pads."""
    return {physics.model.name2id(f"{arm}/{side}_pad", "geom") for side in ("left_finger", "right_finger")}


# ---- the realisations ----------------------------------------------------------------------
class ObjectInBowlSim:
    """Object-in-Bowl in the twin. `arms`: the arms whose pinch points the reach term measures
    (the env's active arms)."""

    def __init__(self, task: ObjectInBowl, arms: tuple[str, ...]):
        self.task, self.arms = task, tuple(arms)
        self.toy = task.toys[0]
        self.score = Score()
        self.episode: Episode | None = None
        self._rng = np.random.default_rng(0)
        self._rest = 0
        self._look: AppearanceSetter | None = None

    def build(self, root: mjcf.RootElement) -> None:
        """Add the task's objects to the robot's scene (once per model)."""
        build(root, self.task)

    def initialize_episode(self, physics: mjcf.Physics, rng: np.random.Generator) -> None:
        """Place the episode `task.sample_episode(rng)` draws; reset the score. Later
        re-placements of the toy draw from the same `rng`."""
        if self._look is None:
            self._look = AppearanceSetter(physics, self.task)
            self._fingers = set().union(*(finger_geoms(physics, a) for a in ("left", "right")))
        self.table_z = self._look.table_z
        self._rng = rng
        self.episode = e = self.task.sample_episode(rng)
        self.toy = e.toy
        for shape in self.task.toys:
            set_free_pose(physics, f"toy_{shape}", np.array(PARKING[shape]), 0.0)
        physics.named.data.mocap_pos["bowl"] = [e.bowl_xy[0], e.bowl_xy[1], self.table_z]
        self._put_toy(physics, np.array(e.toy_xy), e.toy_yaw)
        self._look.apply(e.toy, e.appearance)
        self.score = Score()
        self._rest = 0
        self.toy_geoms = {physics.model.name2id(f"toy_{self.toy}_geom", "geom")}

    def replace_toy(self, physics: mjcf.Physics) -> tuple[np.ndarray, float]:
        """Put the toy at a new place of the task's toy_region (what a point does): the
        declaration's `sample_toy_place` from the episode's generator, the farthest draw when
        none is min_separation from the bowl. Returns its (x, y) (m, world) and heading (rad)."""
        xy, yaw = self.task.sample_toy_place(self._rng, self.bowl_position(physics)[:2])
        self._put_toy(physics, xy, yaw)
        return xy, yaw

    def _put_toy(self, physics: mjcf.Physics, xy: np.ndarray, yaw: float) -> None:
        z = self.table_z + TOYS[self.toy].half_extents[2] + 0.001
        set_free_pose(physics, self.toy_joint, np.array([xy[0], xy[1], z]), yaw)

    def episode_start(self) -> dict:
        """The start of the episode set up by the last `initialize_episode` (`Episode.to_dict`;
        not the toy's later re-placements). {} before the first episode."""
        return {} if self.episode is None else self.episode.to_dict()

    @property
    def toy_joint(self) -> str:
        return f"toy_{self.toy}"

    # ---- scoring -----------------------------------------------------------------
    def toy_pose(self, physics: mjcf.Physics) -> tuple[np.ndarray, float]:
        """Toy centre (m, world) and heading (rad)."""
        q = physics.named.data.qpos[self.toy_joint]
        yaw = float(np.arctan2(2 * (q[3] * q[6] + q[4] * q[5]), 1 - 2 * (q[5] ** 2 + q[6] ** 2)))
        return np.array(q[:3]), yaw

    def bowl_position(self, physics: mjcf.Physics) -> np.ndarray:
        """Bowl centre on the table top (m, world)."""
        return np.array(physics.named.data.mocap_pos["bowl"])

    def in_bowl(self, physics: mjcf.Physics, held: bool) -> bool:
        """Toy inside the rim, below its top, nearly still and not `held` by a gripper."""
        pos, _ = self.toy_pose(physics)
        bowl = self.bowl_position(physics)
        speed = float(np.linalg.norm(physics.named.data.qvel[self.toy_joint][:3]))
        inside = np.linalg.norm(pos[:2] - bowl[:2]) < BOWL_RADIUS and pos[2] < bowl[2] + BOWL_HEIGHT
        return bool(inside and speed < 0.05 and not held)

    def held(self, physics: mjcf.Physics) -> bool:
        """A finger pad of either arm touches the toy."""
        return geoms_touch(physics, self.toy_geoms, self._fingers)

    def update(self, physics: mjcf.Physics) -> Score:
        """Score after a control step; a point re-places the toy (the declaration's
        `sample_toy_place`, from the episode's generator)."""
        s = self.score
        s.new_points = 0
        held = self.held(physics)
        self._rest = self._rest + 1 if self.in_bowl(physics, held) else 0
        pos, _ = self.toy_pose(physics)
        pinch = min(np.linalg.norm(physics.named.data.site_xpos[f"{a}/pinch"] - pos) for a in self.arms)
        s.terms = {
            "reach_distance": float(pinch),
            "grasped": float(held),
            "lifted": float(pos[2] > self.table_z + 0.05),
            "in_bowl": float(self._rest > 0),
        }
        if self._rest >= self.task.rest_steps:
            s.points += 1
            s.new_points = 1
            self._rest = 0
            self.replace_toy(physics)
        s.success = s.points >= 1
        return s


class HandOverSim(ObjectInBowlSim):
    """The hand-over in the twin: a point needs a moment when both grippers held the bar off
    the table since the last point."""

    def initialize_episode(self, physics: mjcf.Physics, rng) -> None:
        super().initialize_episode(physics, rng)
        self.handed_over = False
        self._left = finger_geoms(physics, "left")
        self._right = finger_geoms(physics, "right")

    def in_bowl(self, physics: mjcf.Physics, held: bool) -> bool:
        return self.handed_over and super().in_bowl(physics, held)

    def update(self, physics: mjcf.Physics) -> Score:
        pos, _ = self.toy_pose(physics)
        both = geoms_touch(physics, self.toy_geoms, self._left) and geoms_touch(physics, self.toy_geoms, self._right)
        if both and pos[2] > self.table_z + 0.05:
            self.handed_over = True
        before = self.score.points
        s = super().update(physics)
        s.terms["handed_over"] = float(self.handed_over)
        if s.points > before:
            self.handed_over = False
        return s


REALISATIONS: dict[type[Task], type[ObjectInBowlSim]] = {ObjectInBowl: ObjectInBowlSim, HandOver: HandOverSim}


def realise(task: Task, arms: tuple[str, ...]) -> ObjectInBowlSim:
    """The twin's realisation of a task declaration (its exact type's)."""
    if type(task) not in REALISATIONS:
        raise ValueError(f"task {task.name!r} has no realisation in the sim (egogym/sim/tasks.py REALISATIONS)")
    return REALISATIONS[type(task)](task, arms)
