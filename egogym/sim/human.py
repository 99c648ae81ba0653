"""The simulated human demonstrator: a head-worn Aria and a right hand doing Object-in-Bowl.

The scene is the robot's work cell (`assets/workcell.xml`) with the task's objects
(`egogym.sim.tasks.build`: bowl, toys, distractors) and *no robot*. Each episode is the one
the task declaration draws from the seed (`ObjectInBowl.sample_episode`: placement and
appearance), exactly as the robot's env draws it for that seed. A person stands at the near
edge of the table:

- Head: a mocap body carrying the Aria. Its frame is the Aria *device* frame; the RGB
  camera sits in it at a fixed offset (`T_DEVICE_RGB_UPRIGHT`), mounted sideways as on
  the real glasses, so the raw frames must be rotated 90 degrees clockwise to be upright
  (`R_UPRIGHT_FROM_SENSOR`). The camera is the linear model of `egogym.core.spec` (focal
  266.5 px at 480x640, principal point at the centre). The head sways a few millimetres,
  and turns toward what the hand reaches for (the gaze leads the hand), as people do.
- Arm: a hand (palm, four curling fingers, a thumb) on a mocap body, a forearm in skin
  and a sleeve over the elbow and upper arm in cloth colours (skin tone and cloth colour
  drawn per seed), all moved kinematically. Nothing is simulated dynamically; the toy is
  carried rigidly between grasp and release and dropped into the bowl.
- Motion: the human's own distribution, unlike the robot expert (`egogym.sim.experts`):
  a single fast bell-shaped reach (minimum jerk, peak palm speed about 1 m/s against the
  robot's 0.45 m/s mean) along an arc that ends in an oblique approach from the person's
  side (the robot descends vertically from 9 cm above), a short grasp, a low arcing carry
  to the bowl, release from a few centimetres, and a retreat to a rest pose by the body.
  The reach envelope is a person's: shoulder in front of the table, torso leaning in for
  far toys.

`HumanDemonstrator.record_episode(seed, folder)` writes one Aria-style recording (the
layout is in docs/HUMAN_DATA.md): RGB frames at 30 fps in sensor orientation, the MPS
outputs `mps/slam/closed_loop_trajectory.csv` (1 kHz) and
`mps/hand_tracking/wrist_and_palm_poses.csv` (30 Hz, device frame), the device
calibration (`device_calibration.json`: device to RGB camera and its linear
intrinsics), hand masks from segmentation rendering, and the simulator's truth
(`truth.npz`) for tests. The converter `egogym.data.aria` reads it like a real one.

Frames: world z up (as `egogym.core.spec`); camera frames OpenCV (x right, y down, z forward);
`T_a_b` maps points from b into a. Units: metres, seconds; timestamps in integer
nanoseconds (frames) and microseconds (MPS).
"""
from __future__ import annotations

import json
import functools
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
from dm_control import mjcf
from PIL import Image

from egogym.core import geometry
from egogym.core.bounds import MAX_PICKS
from egogym.data import mps
from egogym.data.aria import ARM_LINE_FILE, grip_point
from egogym.core.spec import EGOMIMIC
from egogym.sim.scene import (FINGER_PAD_INSET, add_torso, arm_geoms, arm_keypoints, arm_qpos_addresses, attach_arms,
                              load_workcell)
from egogym.sim.tasks import PARKING, AppearanceSetter, build
from egogym.core.spec import ARIA_IMAGE_SIZE, R_UPRIGHT_FROM_SENSOR, aria_focal_px
from egogym.tasks import HandOver, ObjectInBowl
from egogym.tasks.object_in_bowl import Episode
from egogym.tasks.objects import BOWL_HEIGHT, TOYS

RECORDING_FORMAT = "egogym-aria-recording"
RECORDING_VERSION = 5
"""2: the bowl is drawn where the episode puts it (version 1 left it at its default place) and the
recording names its `head`, `hand` and `motion`; 3: with hand="robot" the twin's torso crossbar is drawn too
(the robot's Aria sees it at the bottom of every frame) and the recording names its `rest`; 4: the camera
clips near objects where the robot's does (version 3 cut the crossbar's near edge off: with head="robot" the
bottom 5% of every frame differed from the robot's); 5: with the twin's arm drawn the recording carries the
arm's keypoints (`aria.ARM_LINE_FILE`), so the red line runs along the arm the frames show, as on robot data."""


def _rot(axis: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


T_DEVICE_RGB_UPRIGHT = geometry.make_transform(_rot("x", np.radians(-8.0)) @ _rot("y", np.radians(4.0)),
                                               np.array([0.045, 0.008, 0.012]))
"""Pose of the upright RGB camera in the Aria device frame (m): the RGB camera sits
4.5 cm to one side of the device origin and is tilted by a few degrees, so the device
and camera frames differ as on real glasses."""
T_DEVICE_RGB_SENSOR = T_DEVICE_RGB_UPRIGHT @ geometry.make_transform(R_UPRIGHT_FROM_SENSOR, np.zeros(3))
"""Pose of the RGB camera in sensor orientation (the frames as written) in the device frame."""

# Human body dimensions (m), an adult's.
UPPER_ARM = 0.30
FOREARM = 0.27
WRIST_TO_PALM = 0.065  # wrist joint to palm centre, along the hand
PALM_IN_HAND = np.array([WRIST_TO_PALM, 0.0, -0.006])
"""The palm centre in the hand frame (m; x along the hand, z off the back of the hand: the palm faces -z)."""
GRIP_IN_HAND_FRAME = grip_point(PALM_IN_HAND, np.zeros(3), np.array([0.0, 0.0, -1.0]))
"""The point the converter's `--point grip` labels (`aria.grip_point`), in the hand frame (m)."""
SKIN_TONES = ((0.87, 0.69, 0.57), (0.76, 0.57, 0.45), (0.55, 0.38, 0.28), (0.93, 0.78, 0.68), (0.42, 0.29, 0.21))
CLOTH_COLOURS = ((0.55, 0.13, 0.20), (0.30, 0.40, 0.28), (0.80, 0.74, 0.62), (0.62, 0.36, 0.62), (0.85, 0.55, 0.20))
HAND_GEOM_PREFIXES = ("hand", "forearm", "sleeve")
"""Geoms whose names start with these are the person's arm (masked in the images)."""


HEADS = ("natural", "robot")
HANDS = ("human", "robot", "replay")
ROBOT_HANDS = ("robot", "replay")
"""The hands that draw the twin's arms (and torso) in the person's place."""
MOTIONS = ("human", "robot", "replay")
RESTS = ("person", "robot")
TOY_DROP_S = 0.15
"""Seconds the released toy takes to fall into the bowl and settle."""
TRACKING_DROPOUT = 0.01
"""Probability per frame that the simulated hand tracking loses the hand (`HumanConfig.dropout`'s default). With
the robot's 3.9 s horizon (40 knots) a third of the frames lose a knot and are dropped by the converter."""
HIDDEN_GEOM_GROUP = 5
"""A geom group neither renderer draws (MuJoCo shows groups 0-2 by default)."""


@functools.cache
def _robot_scene() -> tuple[np.ndarray, float]:
    """(T_world_rgb of the twin's Aria at rest, the robot scene's extent (m)), from its compiled model."""
    from egogym.core.views import FRONT
    from egogym.sim.scene import build_robot_scene, camera_element_name, camera_pose

    physics = mjcf.Physics.from_mjcf_model(build_robot_scene(EGOMIMIC))
    m, d = physics.model.ptr, physics.data.ptr
    mujoco.mj_forward(m, d)
    return camera_pose(m, d, m.camera(camera_element_name(EGOMIMIC, FRONT)).id), float(m.stat.extent)


def robot_aria_pose() -> np.ndarray:
    """T_world_rgb (4x4, OpenCV axes, m) of the twin's Aria camera (`front_img_1`) at rest."""
    return _robot_scene()[0].copy()


def recording_settings(config: "HumanConfig") -> dict:
    """What a recording made with `config` states about how it was made (in `recording.json`): a kept
    recording is reused only where these equal the run's."""
    return {"version": RECORDING_VERSION, "head": config.head, "hand": config.hand, "motion": config.motion,
            "rest": config.rest, "dropout": config.dropout, "fps": config.fps, "replay_steps": config.replay_steps,
            "picks": config.picks}


UNNAMED_SETTINGS = {"picks": 1}
"""What a recording of the current version that does not name one of these settings was made with
(it predates the setting)."""


def robot_rest_pinch() -> np.ndarray:
    """World position (m) of the twin's right pinch point at its home pose: where every robot episode starts."""
    from egogym.core.kinematics import pinch_in_base

    arm = EGOMIMIC.arm("right")
    R = geometry.quat_to_mat(np.asarray(arm.mount_quat, float))
    return np.asarray(arm.mount_pos, float) + R @ pinch_in_base(arm, np.asarray(arm.home, float))


@dataclass(frozen=True)
class HumanConfig:
    """Settings of the simulated human and of its recordings.

    image_size: (height, width) px of the *upright* image; the focal length scales as
      `aria_focal_px(height)` (the spec's linear Aria camera).
    fps: frame rate of the RGB camera (Hz); hand tracking is written at this rate. The converter's knots
      are 0.1 s apart, so a multiple of 10 (`HumanHorizon.at`); 50 gives the robot's control rate.
    slam_hz: rate of the closed-loop trajectory (Hz; MPS writes 1 kHz).
    task: the episode distribution, an `ObjectInBowl` declaration (default: the robot
      task's defaults); its `sample_episode` places and dresses every episode.
    eye: nominal eye (device) position in the world (m); jittered per seed.
    head: "natural" (the head sways, leans and turns toward the gaze target) or "robot" (the
      Aria held still where the twin's Aria is: the robot's viewpoint, an idealization that
      isolates the viewpoint gap between human and robot data; docs/RESULTS.md).
    hand: "human" (the person's hand, forearm and sleeve) or "robot": the twin's two arms drawn
      in their place, the right one posed every frame by inverse kinematics so that its pinch
      point is where the hand holds the toy, approaching from above as the robot does, its fingers
      closing as the hand's do (`RobotHand`). The sim counterpart of editing human video with a
      rendered robot (Phantom, Masquerade): it isolates the appearance gap. Labels (the palm's
      track) and masks (now the arms') are written as for the hand. Or "replay" (with motion="replay"
      only): the scene replays the robot's own episode: both arms at the joints and finger slides the
      robot had and the toy where it was, step by step (the `PinchTrack`'s), instead of the arm posed by
      IK at the hand and the toy carried in the hand: the robot's images up to the scene's rendering.
    motion: "human" (the person's own: one fast bell-shaped reach, oblique approach, low carry) or
      "robot": the palm follows the scripted expert's pick and place (`experts.pick_and_place_waypoints`:
      over the toy, straight down, lift 13 cm, to 2 cm over the rim; its durations, so its speed), held
      over the toy's centre as the hand holds it. It isolates the motion gap (rung 3). Or "replay":
      the point the hand holds (`aria.GRIP_IN_HAND` from the palm) follows the scripted expert's own
      executed pinch point for the same seed, control step by control step (a `PinchTrack`, which
      `plan_episode` / `record_episode` take; `egogym.pipelines.human` runs the expert), its fingers
      closing and opening when the expert's gripper command does: with `--point grip` the labels are
      the robot's own up to that calibration. It isolates the action gap; it needs rest="robot".
    rest: "person" (the hand rests by the body at the table's near edge before the reach and after
      the retreat) or "robot": the palm rests where the twin's pinch point rests at its home pose
      (`robot_rest_pinch`), the robot's start state, and with hand="robot" the drawn arm rests at
      its home pose, so that a demo's first frames show what a robot episode's first frames show.
      It isolates the start-state gap.
    shoulder_offset: right shoulder relative to the eye (m, world axes).
    tail_s: seconds recorded after the hand is back at rest (the converter needs 30
      future frames, 1 s, for every frame it keeps).
    dropout: probability per frame that hand tracking loses the hand (confidence -1).
    picks: pick-and-places in a row (motion "human" or "robot"): after each but the last, the toy is put at a
      new place of the task's toy_region (`ObjectInBowl.sample_toy_place`) when the robot env would re-place it
      after a point (`rest_steps` after it lands in the bowl), and the hand goes on to it from the bowl instead of
      back to rest; 1: one pick, then rest. Later picks draw from their own generator, so the first pick of a
      seed is the same whatever `picks` is. Whole robot-length chunks (`--horizon robot-exact`) need demos
      running on past the first pick, as the positive control's do.
    replay_steps: with hand="replay" only: the expert's episode is replayed for this many control steps,
      through its first point and on into the next pick (the toy re-placed as the robot env re-places it),
      as the positive control's demos run (`egogym.pipelines.human.POSITIVE_CONTROL_STEPS`); None: it ends at
      the first point.
    """

    image_size: tuple[int, int] = ARIA_IMAGE_SIZE
    fps: float = 30.0
    slam_hz: float = 1000.0
    task: ObjectInBowl = field(default_factory=ObjectInBowl)
    eye: tuple[float, float, float] = (-0.16, -0.06, 1.40)
    head: str = "natural"
    hand: str = "human"
    motion: str = "human"
    rest: str = "person"
    shoulder_offset: tuple[float, float, float] = (-0.04, -0.19, -0.23)
    tail_s: float = 1.2
    dropout: float = TRACKING_DROPOUT
    replay_steps: int | None = None
    picks: int = 1

    def __post_init__(self):
        h, w = self.image_size
        if h < 16 or w < 16:
            raise ValueError(f"image_size={self.image_size}: give (height, width), each at least 16 px")
        if self.fps <= 0 or self.slam_hz < self.fps:
            raise ValueError(f"fps={self.fps}, slam_hz={self.slam_hz}: need 0 < fps <= slam_hz")
        if not isinstance(self.task, ObjectInBowl) or isinstance(self.task, HandOver):
            raise ValueError(f"task={getattr(self.task, 'name', self.task)!r}: the simulated human does object_in_bowl only")
        if not 0.0 <= self.dropout < 0.5:
            raise ValueError(f"dropout={self.dropout}: give a probability in [0, 0.5)")
        if self.head not in HEADS:
            raise ValueError(f"head={self.head!r}: choose from {HEADS}")
        if self.hand not in HANDS:
            raise ValueError(f"hand={self.hand!r}: choose from {HANDS}")
        if self.motion not in MOTIONS:
            raise ValueError(f"motion={self.motion!r}: choose from {MOTIONS}")
        if self.rest not in RESTS:
            raise ValueError(f"rest={self.rest!r}: choose from {RESTS}")
        if self.motion == "replay" and self.rest != "robot":
            raise ValueError("motion='replay' starts where the robot's pinch point does: give rest='robot'")
        if self.hand == "replay" and self.motion != "replay":
            raise ValueError("hand='replay' draws the robot's recorded episode: give motion='replay'")
        if self.replay_steps is not None and (self.hand != "replay" or not 1 <= self.replay_steps <= 100_000):
            raise ValueError(f"replay_steps={self.replay_steps}: give 1..100000 control steps, with hand='replay' "
                             f"(only the replayed scene re-places the toy after a point)")
        if isinstance(self.picks, bool) or not (isinstance(self.picks, int) and 1 <= self.picks <= MAX_PICKS):
            raise ValueError(f"picks={self.picks!r}: give a whole number of pick-and-places, 1..{MAX_PICKS}")
        if self.picks > 1 and self.motion == "replay":
            raise ValueError(f"picks={self.picks}: a replay runs on past its point with replay_steps, not picks")

    @property
    def focal_px(self) -> float:
        """Focal length (px) of the linear camera at image_size."""
        return aria_focal_px(self.image_size[0])

    @property
    def K_upright(self) -> np.ndarray:
        """3x3 intrinsics of the upright image (continuous pixel coordinates)."""
        h, w = self.image_size
        return geometry.intrinsics(self.focal_px, h, w)


# -------------------------------------------------------------------------------------
# motion primitives (all functions of continuous time, so any rate can sample them)
# -------------------------------------------------------------------------------------
def min_jerk(s: np.ndarray | float) -> np.ndarray:
    """Minimum-jerk blend 10 s^3 - 15 s^4 + 6 s^5 of s clipped to [0, 1]."""
    s = np.clip(s, 0.0, 1.0)
    return 10 * s**3 - 15 * s**4 + 6 * s**5


@dataclass(frozen=True)
class Segment:
    """A palm movement from a to b during [t0, t1] (s) with a minimum-jerk speed profile,
    bulging by `bump` (m, world vector) at mid-course: p = a + (b - a) m + bump sin(pi m),
    m = min_jerk((t - t0) / (t1 - t0))."""

    t0: float
    t1: float
    a: np.ndarray
    b: np.ndarray
    bump: np.ndarray

    def at(self, t: float) -> np.ndarray:
        m = float(min_jerk((t - self.t0) / max(self.t1 - self.t0, 1e-9)))
        return self.a + (self.b - self.a) * m + self.bump * np.sin(np.pi * m)


@dataclass(frozen=True)
class PinchTrack:
    """A robot episode's executed pinch point, for `HumanConfig.motion == "replay"`: positions p (n, 3)
    (m, world) at times t (n,) (s from the episode's start, increasing), linear between samples and held
    past either end; close_s / open_s: when the gripper command moves from open to closed and back
    (s, (start, end); past the end where it never does)."""

    t: np.ndarray
    p: np.ndarray
    close_s: tuple[float, float]
    open_s: tuple[float, float]
    arm_qpos: np.ndarray  # (n, 8 per arm of EGOMIMIC, in its order): 6 joints (rad), 2 finger slides (m)
    toy_qpos: np.ndarray  # (n, 7): the toy's free joint, centre (m, world) and quaternion (w, x, y, z)

    @property
    def t0(self) -> float:
        return float(self.t[0])

    @property
    def t1(self) -> float:
        return float(self.t[-1])

    def at(self, t: float) -> np.ndarray:
        return self._lerp(self.p, t)

    def arm_qpos_at(self, t: float) -> np.ndarray:
        return self._lerp(self.arm_qpos, t)

    def toy_at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """The toy's centre (m, world) and unit quaternion at time t (s)."""
        q = self._lerp(self.toy_qpos, t)
        return q[:3], q[3:] / np.linalg.norm(q[3:])  # samples 20 ms apart: the normalised blend is the slerp

    def _lerp(self, values: np.ndarray, t: float) -> np.ndarray:
        return np.array([np.interp(t, self.t, values[:, k]) for k in range(values.shape[1])])


@dataclass(frozen=True)
class Pick:
    """One pick and place of an episode: the toy where it was put and when the hand takes it and lets go.
    Times in s from the episode's start; positions m, world."""

    toy_pos: np.ndarray  # (3,) the toy's centre at rest where it was put
    toy_yaw: float
    t_shown: float  # the toy is put there (0 for the first; later: the robot env's re-placement after a point)
    t_reached: float  # the palm arrives over the toy (the hand pitches down for the grasp around it)
    t_close: tuple[float, float]  # fingers closing
    t_open: tuple[float, float]  # fingers opening
    rest_drop: np.ndarray  # (3,) the toy's resting place in the bowl

    @property
    def t_grasp(self) -> float:
        """The toy is attached to the hand from here ..."""
        return float(np.mean(self.t_close))

    @property
    def t_release(self) -> float:
        """... until here, then it drops."""
        return float(np.mean(self.t_open))

    def closing(self, t: float) -> float:
        """How far the fingers are closed at t, in [0, 1]."""
        close = float(min_jerk((t - self.t_close[0]) / (self.t_close[1] - self.t_close[0])))
        return close * (1 - float(min_jerk((t - self.t_open[0]) / (self.t_open[1] - self.t_open[0]))))

    def grasping(self, t: float) -> float:
        """How far the hand is pitched down around the toy at t, in [0, 1]."""
        return float(min_jerk((t - self.t_reached + 0.4) / 0.4)) * (1 - float(min_jerk((t - self.t_open[1]) / 0.4)))


@dataclass
class EpisodePlan:
    """Everything one episode's motion is computed from (drawn from the seed)."""

    episode: Episode  # the task's draw: placement and appearance
    toy: str
    bowl: np.ndarray  # (3,) world, bowl centre on the table top
    eye: np.ndarray  # (3,) nominal eye position
    shoulder: np.ndarray  # (3,) nominal right shoulder
    segments: list[Segment]  # the palm's path over the whole episode
    picks: tuple[Pick, ...]  # in time order; the first from the task's draw (`episode`)
    gaze: list[tuple[float, np.ndarray]]  # (time the gaze arrives, target point)
    sway: np.ndarray  # (4, 3): head sway amplitudes / frequencies / phases
    duration: float
    skin: tuple[float, float, float]
    cloth: tuple[float, float, float]
    track: PinchTrack | None = None  # motion="replay": the point the hand holds follows it

    def pick_at(self, t: float) -> Pick:
        """The pick whose toy is on the table or in the hand at t: the last one put there by t."""
        return next(q for q in reversed(self.picks) if q.t_shown <= t or q is self.picks[0])

    # The first pick's, as an episode of one pick names them.
    toy_pos = property(lambda self: self.picks[0].toy_pos)
    t_grasp = property(lambda self: self.picks[0].t_grasp)
    t_release = property(lambda self: self.picks[0].t_release)


# -------------------------------------------------------------------------------------
# the scene
# -------------------------------------------------------------------------------------
def build_human_scene(config: HumanConfig) -> mjcf.RootElement:
    """Work cell + the task's objects + the person's head (Aria) and right arm; with
    `config.hand == "robot"` also the twin's torso (column and crossbar, without the Aria's post) and its
    two arms at their mounts."""
    root = load_workcell()
    h, w = config.image_size
    gl = root.visual.__getattr__("global")
    gl.offheight = max(h, w, 480)
    gl.offwidth = max(h, w, 640)
    build(root, config.task)
    root.asset.add("material", name="skin", rgba=[*SKIN_TONES[0], 1], specular=0.15, shininess=0.2)
    root.asset.add("material", name="cloth", rgba=[*CLOTH_COLOURS[0], 1], specular=0.02, shininess=0.05)

    head = root.worldbody.add("body", name="head", mocap=True, pos=list(config.eye))
    R_mj = T_DEVICE_RGB_SENSOR[:3, :3] @ geometry.R_CV_FROM_MJ
    fovy = float(np.degrees(2 * np.arctan(0.5 * w / config.focal_px)))  # sensor height = upright width
    head.add("camera", name="aria_rgb", pos=list(T_DEVICE_RGB_SENSOR[:3, 3]),
             quat=list(geometry.mat_to_quat(R_mj)), fovy=fovy)

    # Hand: body frame at the wrist, x along the fingers, z out of the back of the hand,
    # y toward the thumb (right hand, palm down). No collisions: everything is kinematic.
    nc = dict(contype=0, conaffinity=0)
    hand = root.worldbody.add("body", name="hand", mocap=True, pos=[0, 0, 0])
    hand.add("geom", name="hand_palm", type="box", size=[0.042, 0.041, 0.013], pos=[0.042, 0, 0],
             material="skin", **nc)
    hand.add("geom", name="hand_heel", type="capsule", fromto=[0.0, -0.025, 0, 0.0, 0.025, 0], size=[0.016],
             material="skin", **nc)
    hand.add("site", name="palm_center", pos=PALM_IN_HAND.tolist(), size=[0.004], rgba=[1, 0, 0, 0], group=4)
    hand.add("site", name="wrist", pos=[0, 0, 0], size=[0.004], rgba=[1, 0, 0, 0], group=4)
    for i, (y, length) in enumerate(((0.028, 0.072), (0.009, 0.080), (-0.010, 0.075), (-0.028, 0.060))):
        f = hand.add("body", name=f"finger{i}", pos=[0.084, y, 0])
        f.add("joint", name=f"finger{i}", type="hinge", axis=[0, 1, 0], range=[-0.2, 1.8])
        f.add("geom", name=f"hand_finger{i}", type="capsule", fromto=[0, 0, 0, length, 0, 0], size=[0.0085],
              material="skin", **nc)
    th = hand.add("body", name="thumb", pos=[0.02, 0.040, -0.006], euler=[0.0, 0.35, 0.75])
    th.add("joint", name="thumb", type="hinge", axis=[0, 0, -1], range=[-0.2, 1.2])
    th.add("geom", name="hand_thumb", type="capsule", fromto=[0, 0, 0, 0.06, 0, 0], size=[0.0095], material="skin", **nc)

    # Forearm (skin, wrist side) and sleeve (cloth, elbow side and upper arm): mocap
    # bodies whose z axis runs along the limb, posed every frame.
    fa = root.worldbody.add("body", name="forearm", mocap=True)
    fa.add("geom", name="forearm_skin", type="capsule", fromto=[0, 0, 0, 0, 0, 1.0], size=[0.026],
           material="skin", **nc)
    sl = root.worldbody.add("body", name="sleeve_lower", mocap=True)
    sl.add("geom", name="sleeve_lower", type="capsule", fromto=[0, 0, 0, 0, 0, 1.0], size=[0.042],
           material="cloth", **nc)
    su = root.worldbody.add("body", name="sleeve_upper", mocap=True)
    su.add("geom", name="sleeve_upper", type="capsule", fromto=[0, 0, 0, 0, 0, 1.0], size=[0.047],
           material="cloth", **nc)
    if config.hand in ROBOT_HANDS:
        attach_arms(add_torso(root, EGOMIMIC), EGOMIMIC)
    return root


class RobotHand:
    """The twin's arms in the person's scene (`HumanConfig.hand == "robot"`).

    `pose(target, grip_axis, close, finger_closed)` puts the right arm's pinch point at `target`
    (m, world) with the gripper's approach leaning from straight down as the scripted expert's does
    (`ArmIK.follow`, the expert's first tilt), from the previous frame's angles; where that fails, the
    expert's full search (`ArmIK.solve`); where nothing reaches (the person's hand by the body), the
    closest point (`ArmIK.closest`). The left arm stays at its home pose. `close` in [0, 1] moves the
    finger slides from open to `finger_closed` (m). `errors` lists the pinch point's distance to each
    target (m): how far the drawn gripper is from where the hand holds the toy."""

    def __init__(self, physics: mjcf.Physics):
        from egogym.sim.experts import GRASP_TILTS, ArmIK

        self.physics = physics
        self.ik = ArmIK(physics, EGOMIMIC, "right")
        self.tilt = GRASP_TILTS[0]
        self.home = np.array(EGOMIMIC.arm("right").home, float)
        self._qadr = arm_qpos_addresses(physics.model.ptr, EGOMIMIC)
        self.finger_open = EGOMIMIC.arm("right").gripper.finger_range[1]
        for a in EGOMIMIC.arms:  # the left arm never moves from here: home, fingers open as the robot starts
            joints, fingers = self._qadr[a.name]
            physics.data.ptr.qpos[joints] = a.home
            physics.data.ptr.qpos[fingers] = a.gripper.finger_range[1]
        self.geoms = arm_geoms(physics.model.ptr, EGOMIMIC)
        self.q = self.home.copy()
        self.errors: list[float] = []

    def reset(self) -> None:
        self.q = self.home.copy()
        self.errors = []

    def set_qpos(self, arm_qpos: np.ndarray) -> None:
        """Both arms at `arm_qpos` (8 per arm of EGOMIMIC, in its order: 6 joints, rad; 2 finger slides, m)."""
        q = np.asarray(arm_qpos, float).reshape(len(EGOMIMIC.arms), 8)
        for a, qa in zip(EGOMIMIC.arms, q):
            joints, fingers = self._qadr[a.name]
            self.physics.data.ptr.qpos[joints] = qa[:6]
            self.physics.data.ptr.qpos[fingers] = qa[6:]

    def pose(self, target: np.ndarray, grip_axis: np.ndarray, close: float, finger_closed: float,
             at_home: bool = False) -> None:
        """at_home: the right arm at its home pose instead (`HumanConfig.rest == "robot"`, hand at rest)."""
        from egogym.sim.experts import IKFailure

        q = self.home.copy() if at_home else self.ik.follow(target, grip_axis, self.q, self.tilt)
        if q is None:
            try:
                q = self.ik.solve(target, grip_axis, self.q)
            except IKFailure:
                q = self.ik.closest(target, self.q)
        self.q = q
        joints, fingers = self._qadr["right"]
        d = self.physics.data.ptr
        d.qpos[joints] = q
        d.qpos[fingers] = self.finger_open + (finger_closed - self.finger_open) * float(np.clip(close, 0, 1))
        phys = self.ik.physics  # the solver's copy, posed at q, gives the reached point
        phys.named.data.qpos[self.ik.joints] = q
        mujoco.mj_kinematics(phys.model.ptr, phys.data.ptr)
        self.errors.append(float(np.linalg.norm(phys.named.data.site_xpos["right/pinch"] - target)))


def _expert_motion(idle: Segment, rest: np.ndarray, toy_pos: np.ndarray, toy: str, bowl: np.ndarray,
                   palm_over_toy: np.ndarray):
    """`HumanConfig.motion == "robot"`: the palm through the expert's pick-and-place waypoints, offset
    by `palm_over_toy` taken straight up (the palm over the toy's centre as the hand holds it), after
    the person's idle segment, then back to `rest` at the expert's speed. Returns (segments, t_close,
    t_open, t_reached, t_carry, t_back): the fingers close and open over the waypoints where the
    expert's gripper does; the palm reaches the toy, starts the carry and starts back at the last three."""
    from egogym.sim.experts import CLOSED, OPEN, move_time, pick_and_place_waypoints

    up = np.array([0.0, 0.0, float(palm_over_toy[2]) - 0.002])  # the waypoints' grasp is 2 mm over the centre
    segments, t, palm, grip = [idle], idle.t1, idle.b, OPEN
    t_close = t_open = None
    for w in pick_and_place_waypoints(idle.b - up, toy_pos, toy, bowl):
        seg = Segment(t, t + w.duration, palm, w.target + up, np.zeros(3))
        if w.grip == CLOSED and grip == OPEN:
            t_close, t_reached, t_carry = (seg.t0, seg.t1), seg.t0, seg.t1
        if w.grip == OPEN and grip == CLOSED:
            t_open = (seg.t0, seg.t1)
        segments.append(seg)
        t, palm, grip = seg.t1, seg.b, w.grip
    segments.append(Segment(t, t + move_time(palm, rest), palm, rest, np.zeros(3)))
    return segments, t_close, t_open, t_reached, t_carry, t


def _segment_pose(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Position, quaternion (w, x, y, z) and length of a frame at a whose z axis points to b."""
    d = b - a
    n = float(np.linalg.norm(d))
    z = d / max(n, 1e-9)
    helper = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return a, geometry.mat_to_quat(np.stack([x, y, z], axis=1)), n


# -------------------------------------------------------------------------------------
# the demonstrator
# -------------------------------------------------------------------------------------
class HumanDemonstrator:
    """Simulates and records a person doing Object-in-Bowl with a head-worn Aria.

    Usage: `with HumanDemonstrator(HumanConfig(image_size=(240, 320))) as h:
    h.record_episode(seed=0, folder=Path("rec/ep0"))`. The same seed gives the same
    episode (placement, motion, head, colours, dropouts)."""

    def __init__(self, config: HumanConfig = HumanConfig()):
        self.config = config
        root = build_human_scene(config)
        # The compiled sizes of the capsules are scaled per frame through geom_size.
        self.physics = mjcf.Physics.from_mjcf_model(root)
        self.model, self.data = self.physics.model.ptr, self.physics.data.ptr
        m = self.model
        # MuJoCo clips at znear x the model's extent; the person's scene is larger than the robot's, so
        # without this the robot's crossbar, 4-6 cm from its Aria, is cut off at the image's bottom.
        m.stat.extent = _robot_scene()[1]
        self.cam_id = m.camera("aria_rgb").id
        self._mocap = {n: int(m.body_mocapid[m.body(n).id]) for n in ("head", "hand", "forearm", "sleeve_lower",
                                                                         "sleeve_upper", "bowl")}
        self._geom_limb = {n: m.geom(n).id for n in ("forearm_skin", "sleeve_lower", "sleeve_upper")}
        for gid in self._geom_limb.values():  # limb capsules run along their body's +z
            m.geom_quat[gid] = [1.0, 0.0, 0.0, 0.0]
            m.geom_sameframe[gid] = 0  # their pos and size change per frame: no inertial-frame shortcut
        self._finger_q = [m.joint(f"finger{i}").qposadr[0] for i in range(4)]
        self._thumb_q = m.joint("thumb").qposadr[0]
        self.palm_site = m.site("palm_center").id
        self.wrist_site = m.site("wrist").id
        self.hand_geoms = np.array([g for g in range(m.ngeom) if (m.geom(g).name or "").startswith(HAND_GEOM_PREFIXES)])
        self._skin_geoms = [g for g in self.hand_geoms if m.geom_matid[g] == m.material("skin").id]
        self._cloth_geoms = [g for g in self.hand_geoms if m.geom_matid[g] == m.material("cloth").id]
        self.robot = RobotHand(self.physics) if config.hand in ROBOT_HANDS else None
        if self.robot is not None:
            m.geom_group[self.hand_geoms] = HIDDEN_GEOM_GROUP  # the person's arm is still posed (labels), not drawn
            self.hand_geoms = self.robot.geoms  # masks: the arms, as in robot data
        self._look = AppearanceSetter(self.physics, config.task)
        self.table_z = self._look.table_z
        self._renderer: mujoco.Renderer | None = None
        self._seg: mujoco.Renderer | None = None
        self.plan: EpisodePlan | None = None
        self._grasp = None  # (plan, grasp point in the hand frame, grip axis, closed finger slide): RobotHand
        self._fixed_device = (robot_aria_pose() @ geometry.invert(T_DEVICE_RGB_UPRIGHT)
                              if config.head == "robot" else None)

    # ---- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Release the renderers (EGL contexts)."""
        for r in (self._renderer, self._seg):
            if r is not None:
                r.close()
        self._renderer = self._seg = None

    def __enter__(self) -> "HumanDemonstrator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- planning ------------------------------------------------------------------------
    def plan_episode(self, seed: int, track: PinchTrack | None = None) -> EpisodePlan:
        """Draw one episode from `seed`: the task's episode (`sample_episode`, the very draw the
        robot's env makes for this seed: placement and appearance), then the person's body,
        timing, path shapes, gaze schedule, head sway and colours from the same generator.
        track: motion="replay" only (and needed there): the robot's executed pinch point for this seed."""
        c = self.config
        if (track is not None) != (c.motion == "replay"):
            raise ValueError(f"motion={c.motion!r}: a PinchTrack is given with motion='replay', and only there")
        rng = np.random.default_rng(seed)
        episode = c.task.sample_episode(rng)
        toy, toy_yaw = episode.toy, episode.toy_yaw
        bowl_xy = np.array(episode.bowl_xy)
        hz = TOYS[toy].half_extents[2]
        toy_pos = np.array([*episode.toy_xy, self.table_z + hz + 0.001])
        bowl = np.array([*bowl_xy, self.table_z])
        eye = np.asarray(c.eye) + rng.uniform([-0.03, -0.04, -0.04], [0.03, 0.04, 0.04])
        shoulder = eye + np.asarray(c.shoulder_offset) + rng.uniform(-0.015, 0.015, 3)

        # Palm path. Rest: the hand lies near the table's near edge, in front of the body.
        rest0 = np.array([-0.10, shoulder[1] + rng.uniform(-0.03, 0.06), self.table_z + 0.035])
        rest1 = rest0 + np.array([rng.uniform(-0.02, 0.04), rng.uniform(-0.05, 0.05), 0.0])
        if c.rest == "robot":  # after the draws above, so the rest of the episode is the person's
            rest0 = rest1 = robot_rest_pinch()
        grasp = self._grasp_point(toy_pos, shoulder, hz)
        release = self._release_point(rng, bowl)
        t = rng.uniform(0.25, 0.6)  # idle before the reach
        reach, hold, carry, t_close, t_open = self._reach_and_carry(rng, t, rest0, grasp, release)
        retreat = Segment(t_open[1] + 0.05, t_open[1] + 0.05 + rng.uniform(0.6, 0.9), release, rest1,
                          np.array([0.0, 0.0, rng.uniform(0.02, 0.06)]))
        segments = [Segment(0.0, reach.t0, rest0, rest0, np.zeros(3)), reach, hold, carry,
                    Segment(carry.t1, retreat.t0, release, release, np.zeros(3)), retreat]
        t_reached, t_carry, t_back = reach.t1, carry.t0, retreat.t0
        if c.motion == "robot":  # the same draws above, so the rest of the episode is the person's
            segments, t_close, t_open, t_reached, t_carry, t_back = _expert_motion(
                segments[0], rest1, toy_pos, toy, bowl, grasp - toy_pos)
        if track is not None:  # the hand idles nowhere: it moves when the robot does
            segments = [Segment(track.t0, track.t1, track.p[0], track.p[-1], np.zeros(3))]  # the span; points: track
            t_close, t_open = track.close_s, track.open_s
            t_reached, t_carry, t_back = t_close[0], t_close[1], t_open[1]
        carries = [t_carry]
        picks = [dict(toy_pos=toy_pos, toy_yaw=toy_yaw, t_shown=0.0, t_reached=t_reached, t_close=t_close,
                      t_open=t_open)]
        more = np.random.default_rng([seed, 11])  # later picks' draws: the first is the episode of one pick
        if c.picks > 1:
            segments.pop()  # the hand goes on from the bowl instead of back to rest
            for k in range(1, c.picks):
                # The robot env re-places the toy once it has rested in the bowl `rest_steps` control steps.
                t_shown = float(np.mean(t_open)) + TOY_DROP_S + c.task.rest_steps / EGOMIMIC.control_hz
                xy, yaw = c.task.sample_toy_place(more, bowl[:2])
                toy_pos = np.array([*xy, toy_pos[2]])
                start = segments[-1].b
                t = t_shown + more.uniform(0.2, 0.35)  # the person sees the toy, then reaches
                segments.append(Segment(segments[-1].t1, t, start, start, np.zeros(3)))
                last = k == c.picks - 1
                if c.motion == "robot":
                    moves, t_close, t_open, t_reached, t_carry, t_back = _expert_motion(
                        segments.pop(), rest1, toy_pos, toy, bowl, grasp - picks[0]["toy_pos"])
                    segments += moves if last else moves[:-1]
                else:
                    grasp_k = self._grasp_point(toy_pos, shoulder, hz)
                    release = self._release_point(more, bowl)
                    reach, hold, carry, t_close, t_open = self._reach_and_carry(more, t, start, grasp_k, release)
                    segments += [reach, hold, carry]
                    t_reached, t_carry, t_back = reach.t1, carry.t0, t_open[1] + 0.05
                    if last:
                        segments += [Segment(carry.t1, t_back, release, release, np.zeros(3)),
                                     Segment(t_back, t_back + more.uniform(0.6, 0.9), release, rest1,
                                             np.array([0.0, 0.0, more.uniform(0.02, 0.06)]))]
                carries.append(t_carry)
                picks.append(dict(toy_pos=toy_pos, toy_yaw=yaw, t_shown=t_shown, t_reached=t_reached,
                                  t_close=t_close, t_open=t_open))
        duration = segments[-1].t1 + c.tail_s
        # Gaze leads the hand: on the toy before the reach, on the bowl during the carry.
        centre = np.array([0.18, -0.18, self.table_z])
        gaze = [(0.0, centre + rng.uniform(-0.05, 0.05, 3))]
        for q, t_c in zip(picks, carries):
            gaze += [((q["t_shown"] or segments[0].t1) + 0.1, q["toy_pos"].copy()), (t_c + 0.15, bowl + [0, 0, 0.03])]
        gaze.append((t_back + 0.5, centre + rng.uniform(-0.05, 0.05, 3)))
        sway = np.stack([rng.uniform(0.002, 0.006, 3),  # translation amplitude (m)
                         rng.uniform(0.15, 0.5, 3),  # frequency (Hz)
                         rng.uniform(0, 2 * np.pi, 3),  # phase
                         rng.uniform(0.005, 0.02, 3)])  # rotation amplitude (rad) about x, y, z
        drops = [rng] + [more] * (len(picks) - 1)
        picks = tuple(Pick(**q, rest_drop=np.array([*(bowl_xy + g.uniform(-0.02, 0.02, 2)), self.table_z + 0.01 + hz]))
                      for q, g in zip(picks, drops))
        self.plan = EpisodePlan(episode, toy, bowl, eye, shoulder, segments, picks, gaze, sway, duration,
                                SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
                                CLOTH_COLOURS[int(rng.integers(len(CLOTH_COLOURS)))], track)
        return self.plan

    def _grasp_point(self, toy_pos: np.ndarray, shoulder: np.ndarray, hz: float) -> np.ndarray:
        """Where the person's palm takes the toy: just over it, a little on the person's side (oblique approach)."""
        toward = toy_pos[:2] - shoulder[:2]
        toward /= np.linalg.norm(toward)
        return np.array([*(toy_pos[:2] - 0.018 * toward), toy_pos[2] + hz + 0.028])

    def _release_point(self, rng: np.random.Generator, bowl: np.ndarray) -> np.ndarray:
        """Where the person's palm lets go: a few centimetres over the bowl's rim."""
        return np.array([*bowl[:2], self.table_z + BOWL_HEIGHT + rng.uniform(0.06, 0.10)])

    @staticmethod
    def _reach_and_carry(rng: np.random.Generator, t: float, start: np.ndarray, grasp: np.ndarray,
                         release: np.ndarray) -> tuple[Segment, Segment, Segment, tuple, tuple]:
        """The person's reach from `start` at time t to `grasp`, the grasp, the low arcing carry to `release`:
        (reach, hold, carry, t_close, t_open), with the fingers' closing and opening times (s)."""
        reach = Segment(t, t + rng.uniform(0.55, 0.75) + 0.6 * float(np.linalg.norm(grasp - start)), start, grasp,
                        np.array([0.0, rng.uniform(-0.03, 0.03), rng.uniform(0.05, 0.10)]))
        t_close = (reach.t1 - 0.05, reach.t1 + rng.uniform(0.15, 0.25))
        d_carry = float(np.linalg.norm(release - grasp))
        carry = Segment(t_close[1] + 0.03, t_close[1] + 0.03 + rng.uniform(0.45, 0.6) + 0.8 * d_carry, grasp,
                        release, np.array([0.0, 0.0, rng.uniform(0.04, 0.09)]))
        t_open = (carry.t1 + rng.uniform(0.0, 0.08), carry.t1 + rng.uniform(0.18, 0.28))
        return reach, Segment(reach.t1, carry.t0, grasp, grasp, np.zeros(3)), carry, t_close, t_open

    # ---- kinematics as functions of time ----------------------------------------------------
    def palm_target(self, t: float) -> np.ndarray:
        """Planned palm centre (m, world) at time t (s)."""
        p = self.plan
        if p.track is not None:
            return self._palm_holding(p.track.at(t), t)
        for seg in p.segments:
            if t <= seg.t1:
                return seg.at(t)
        return p.segments[-1].at(t)

    def _palm_holding(self, grip: np.ndarray, t: float) -> np.ndarray:
        """The palm centre (m, world) that puts the hand's grip point (`GRIP_IN_HAND_FRAME`) at `grip`
        at time t. The hand's rotation depends on the palm (it points away from the shoulder), so a
        fixed point: each pass moves the palm by the change of a rotation a few degrees off."""
        palm = grip
        for _ in range(4):
            R = self._hand_rotation(palm, t)
            palm = grip - R @ (GRIP_IN_HAND_FRAME - PALM_IN_HAND)
        return palm

    def _lean(self, palm: np.ndarray) -> np.ndarray:
        """Torso lean (m, world) needed for the palm to be within the arm's reach."""
        p = self.plan
        d = palm - p.shoulder
        excess = np.linalg.norm(d) - 0.92 * (UPPER_ARM + FOREARM + WRIST_TO_PALM)
        horiz = np.array([d[0], d[1], 0.0])
        horiz /= max(np.linalg.norm(horiz), 1e-9)
        return float(np.clip(excess, 0.0, 0.22)) * (horiz + np.array([0, 0, -0.35]))

    def hand_frame(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(R_world_hand (3,3), wrist position (3,)) at time t: fingers along the reach
        direction pitched down (more so when grasping), palm facing the table."""
        palm = self.palm_target(t)
        R = self._hand_rotation(palm, t)
        return R, palm - R @ PALM_IN_HAND

    def _hand_rotation(self, palm: np.ndarray, t: float) -> np.ndarray:
        """R_world_hand (3,3) of a palm at `palm` (m, world) at time t."""
        p = self.plan
        shoulder = p.shoulder + self._lean(palm)
        fwd = np.array([*(palm - shoulder)[:2], 0.0])
        fwd /= max(np.linalg.norm(fwd), 1e-9)
        grasping = max(q.grasping(t) for q in p.picks)
        pitch = np.radians(25.0 + 25.0 * grasping)
        x = np.cos(pitch) * fwd + np.sin(pitch) * np.array([0, 0, -1.0])
        y = np.cross(np.array([0, 0, 1.0]), fwd)  # left of the reach direction (thumb side)
        y -= x * (x @ y)
        y /= np.linalg.norm(y)
        z = np.cross(x, y)
        return np.stack([x, y, z], axis=1)

    def head_pose(self, t: float | np.ndarray) -> np.ndarray:
        """T_world_device at time(s) t: (4,4), or (N,4,4) for an array of times."""
        if np.ndim(t) > 0:
            return np.stack([self.head_pose(float(ti)) for ti in t])
        if self._fixed_device is not None:
            return self._fixed_device.copy()
        p = self.plan
        gaze = p.gaze[0][1]
        for (t_a, g_a), (t_b, g_b) in zip(p.gaze[:-1], p.gaze[1:]):
            if t >= t_b - 0.35:
                gaze = g_b if t >= t_b else g_a + (g_b - g_a) * float(min_jerk((t - (t_b - 0.35)) / 0.35))
        amp, freq, phase, rot_amp = p.sway
        palm = self.palm_target(t)
        eye = p.eye + amp * np.sin(2 * np.pi * freq * t + phase) + 0.5 * self._lean(palm)
        # The head turns most of the way toward the gaze target; the eyes do the rest.
        centre = np.array([0.18, -0.18, self.table_z])
        look = centre + 0.75 * (gaze - centre)
        R = geometry.look_at(eye, look, np.array([0.0, 0.0, 1.0]))
        wobble = rot_amp * np.sin(2 * np.pi * freq[::-1] * t + phase[::-1])
        R = R @ _rot("x", wobble[0]) @ _rot("y", wobble[1]) @ _rot("z", wobble[2])
        T_world_rgb = geometry.make_transform(R, eye)
        return T_world_rgb @ geometry.invert(T_DEVICE_RGB_UPRIGHT)

    def toy_pose(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Toy centre (m, world) and quaternion (w, x, y, z) at time t."""
        if self.config.hand == "replay":
            return self.plan.track.toy_at(t)
        p = self.plan.pick_at(t)
        q0 = np.array([np.cos(p.toy_yaw / 2), 0, 0, np.sin(p.toy_yaw / 2)])
        if t < p.t_grasp:
            return p.toy_pos, q0
        R_g, w_g = self.hand_frame(p.t_grasp)
        T_hand_toy = geometry.invert(geometry.make_transform(R_g, w_g)) @ geometry.make_transform(
            geometry.quat_to_mat(q0), p.toy_pos)
        t_hold = min(t, p.t_release)
        R_h, w_h = self.hand_frame(t_hold)
        T = geometry.make_transform(R_h, w_h) @ T_hand_toy
        if t <= p.t_release:
            return T[:3, 3], geometry.mat_to_quat(T[:3, :3])
        # Falls into the bowl, levelling out to its original heading.
        s = float(np.clip((t - p.t_release) / TOY_DROP_S, 0.0, 1.0))
        pos = T[:3, 3] + (p.rest_drop - T[:3, 3]) * s**2
        return pos, (geometry.mat_to_quat(T[:3, :3]) if s < 1 else q0)

    def set_time(self, t: float) -> None:
        """Pose every kinematic body for time t (s) and run MuJoCo's kinematics."""
        p = self.plan
        d, m = self.data, self.model
        T_dev = self.head_pose(t)
        d.mocap_pos[self._mocap["head"]] = T_dev[:3, 3]
        d.mocap_pos[self._mocap["bowl"]] = p.bowl  # where the person drops the toy (the robot env's placement)
        d.mocap_quat[self._mocap["head"]] = geometry.mat_to_quat(T_dev[:3, :3])
        R_h, wrist = self.hand_frame(t)
        d.mocap_pos[self._mocap["hand"]] = wrist
        d.mocap_quat[self._mocap["hand"]] = geometry.mat_to_quat(R_h)
        close = max(q.closing(t) for q in p.picks)
        for i, qa in enumerate(self._finger_q):
            d.qpos[qa] = 0.25 + 0.12 * i + close * 0.75
        d.qpos[self._thumb_q] = 0.2 + 0.6 * close
        # Elbow from two-link inverse kinematics, swung down and out (right arm).
        shoulder = p.shoulder + self._lean(self.palm_target(t))
        elbow = _elbow(shoulder, wrist, UPPER_ARM, FOREARM, hint=np.array([0.0, -0.5, -1.0]))
        cuff = elbow + 0.45 * (wrist - elbow)
        # The upper sleeve stops short of the shoulder, which sits below the glasses' view.
        upper_end = elbow + 0.6 * (shoulder - elbow)
        for body, geom, a, b in (("forearm", "forearm_skin", wrist, elbow), ("sleeve_lower", "sleeve_lower", cuff, elbow),
                                 ("sleeve_upper", "sleeve_upper", elbow, upper_end)):
            pos, quat, n = _segment_pose(a, b)
            d.mocap_pos[self._mocap[body]] = pos
            d.mocap_quat[self._mocap[body]] = quat
            # capsule along z from 0 to n: set its half length and centre
            gid = self._geom_limb[geom]
            m.geom_size[gid][1] = n / 2
            m.geom_pos[gid] = [0, 0, n / 2]
        if self.robot is not None:
            self._pose_robot(t, R_h, wrist, close)
        toy_pos, toy_q = self.toy_pose(t)
        for shape in self.config.task.toys:
            adr = m.joint(f"toy_{shape}").qposadr[0]
            if shape == p.toy:
                d.qpos[adr:adr + 7] = np.concatenate([toy_pos, toy_q])
            else:
                d.qpos[adr:adr + 7] = np.concatenate([PARKING[shape], [1, 0, 0, 0]])
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)

    def _pose_robot(self, t: float, R_hand: np.ndarray, wrist: np.ndarray, close: float) -> None:
        """The robot's pinch point at the point of the hand that holds the toy (the toy's centre
        in the hand's frame at the grasp), its fingers across the toy as the expert takes it."""
        from egogym.sim.experts import grip_axis_for

        p = self.plan
        if self.config.hand == "replay":
            self.robot.set_qpos(p.track.arm_qpos_at(t))
            return
        pick = p.pick_at(t)
        if self._grasp is None or self._grasp[0] is not pick:
            R_g, w_g = self.hand_frame(pick.t_grasp)
            in_hand = R_g.T @ (pick.toy_pos - w_g)
            axis = grip_axis_for(p.toy, pick.toy_yaw, pick.toy_pos[:2] - self.robot.ik.base_xy)
            hx, hy, _ = TOYS[p.toy].half_extents
            if pick is p.picks[0]:  # a new episode: the solver starts from home; a later pick goes on from here
                self.robot.reset()
            self._grasp = (pick, in_hand, np.asarray(axis, float), min(hx, hy) + FINGER_PAD_INSET)
        _, in_hand, axis, finger_closed = self._grasp
        if p.track is not None:  # the robot's own pinch point, where the hand holds; its home pose until it moves
            target = p.track.at(t)
            self.robot.pose(target, axis, close, finger_closed,
                            at_home=t < pick.t_grasp and bool(np.linalg.norm(target - p.track.p[0]) < 1e-3))
            return
        resting = not p.segments[0].t1 <= t < p.segments[-1].t1
        self.robot.pose(wrist + R_hand @ in_hand, axis, close, finger_closed,
                        at_home=resting and self.config.rest == "robot")

    # ---- observations ------------------------------------------------------------------------
    def _make_renderer(self, segmentation: bool) -> mujoco.Renderer:
        h, w = self.config.image_size
        r = mujoco.Renderer(self.model, w, h)  # sensor orientation: rows = upright width
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            r.scene.flags[flag] = False
        if segmentation:
            r.enable_segmentation_rendering()
        return r

    def render_sensor(self) -> tuple[np.ndarray, np.ndarray]:
        """(RGB (W, H, 3) uint8, hand mask (W, H) bool) in sensor orientation, where
        (H, W) = config.image_size; `np.rot90(x, k=-1)` makes either upright."""
        if self._renderer is None:
            self._renderer = self._make_renderer(False)
            self._seg = self._make_renderer(True)
        self._renderer.update_scene(self.data, camera=self.cam_id)
        rgb = self._renderer.render().copy()
        self._seg.update_scene(self.data, camera=self.cam_id)
        seg = self._seg.render()
        mask = (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & np.isin(seg[..., 0], self.hand_geoms)
        return rgb, mask

    def T_world_rgb_upright(self) -> np.ndarray:
        """The upright RGB camera's pose in the world from the compiled model (OpenCV)."""
        R_mj = self.data.cam_xmat[self.cam_id].reshape(3, 3)
        T_sensor = geometry.make_transform(R_mj @ geometry.R_CV_FROM_MJ, self.data.cam_xpos[self.cam_id])
        return T_sensor @ geometry.make_transform(R_UPRIGHT_FROM_SENSOR.T, np.zeros(3))

    def T_device_rgb_sensor_from_model(self) -> np.ndarray:
        """Device (head body) to sensor-oriented RGB camera, read back from the model."""
        m = self.model
        R_mj = geometry.quat_to_mat(m.cam_quat[self.cam_id])
        return geometry.make_transform(R_mj @ geometry.R_CV_FROM_MJ, m.cam_pos[self.cam_id])

    # ---- recording ----------------------------------------------------------------------------
    def record_episode(self, seed: int, folder: str | Path, t0_ns: int = 1_000_000_000,
                       track: PinchTrack | None = None) -> Path:
        """Simulate the episode of `seed` and write it as an Aria-style recording in `folder`.

        t0_ns: device timestamp of the first frame (ns). track: as `plan_episode`'s. Returns the folder."""
        c = self.config
        p = self.plan_episode(seed, track)
        folder = Path(folder)
        (folder / "frames").mkdir(parents=True, exist_ok=True)
        (folder / "masks").mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, 7])
        m = self.model
        self._look.apply(p.toy, p.episode.appearance)
        for g in self._skin_geoms:
            m.geom_rgba[g] = [*p.skin, 1]
        for g in self._cloth_geoms:
            m.geom_rgba[g] = [*p.cloth, 1]
        # Materials override geom_rgba when both are set: clear the material tint.
        m.mat_rgba[m.material("skin").id] = [*p.skin, 1]
        m.mat_rgba[m.material("cloth").id] = [*p.cloth, 1]

        n = int(np.floor(p.duration * c.fps)) + 1
        t_ns = t0_ns + np.round(np.arange(n) * 1e9 / c.fps).astype(np.int64)
        K = c.K_upright
        h, w = c.image_size
        palm_w, wrist_w, T_rgb, T_dev = (np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 4, 4)),
                                          np.zeros((n, 4, 4)))
        palm_n, conf = np.zeros((n, 3)), np.ones(n)
        arm_w = np.zeros((n, 8, 3))  # the drawn right arm's keypoints (hand="robot" or "replay")
        for i in range(n):
            t = (t_ns[i] - t0_ns) * 1e-9
            self.set_time(t)
            rgb, mask = self.render_sensor()
            Image.fromarray(rgb).save(folder / "frames" / f"{i:06d}.png")
            Image.fromarray(mask).save(folder / "masks" / f"{i:06d}.png")
            palm_w[i] = self.data.site_xpos[self.palm_site]
            wrist_w[i] = self.data.site_xpos[self.wrist_site]
            palm_n[i] = -self.data.site_xmat[self.palm_site].reshape(3, 3)[:, 2]
            if self.robot is not None:
                arm_w[i] = arm_keypoints(m, self.data, EGOMIMIC, "right")
            T_rgb[i] = self.T_world_rgb_upright()
            T_dev[i] = self.head_pose(t)
            uv = geometry.project(K, geometry.transform_points(geometry.invert(T_rgb[i]), palm_w[i]))
            # Hand tracking loses a hand out of view, and now and then for no visible reason.
            if not (np.all(np.isfinite(uv)) and geometry.in_image(uv, h, w)) or rng.random() < c.dropout:
                conf[i] = -1.0

        # MPS: closed-loop trajectory at slam_hz covering the frames with a margin.
        t_us_frames = np.round(t_ns / 1000).astype(np.int64)
        step_us = int(round(1e6 / c.slam_hz))
        t_us_slam = np.arange(t_us_frames[0] - 20 * step_us, t_us_frames[-1] + 20 * step_us + 1, step_us)
        T_slam = self.head_pose((t_us_slam - t0_ns // 1000) * 1e-6)
        mps_dir = folder / "mps"
        mps.write_closed_loop(mps_dir / "slam" / mps.CLOSED_LOOP_FILE, t_us_slam, T_slam)
        T_dev_inv = geometry.invert(T_dev)
        R_dev_inv = T_dev_inv[:, :3, :3]
        hand = {"palm": geometry.transform_points(T_dev_inv, palm_w),
                "wrist": geometry.transform_points(T_dev_inv, wrist_w),
                "palm_normal": np.einsum("nij,nj->ni", R_dev_inv, palm_n),
                "wrist_normal": np.einsum("nij,nj->ni", R_dev_inv, palm_n),
                "confidence": conf}
        mps.write_wrist_and_palm(mps_dir / "hand_tracking" / mps.WRIST_PALM_FILE, t_us_frames, {"right": hand})
        if self.robot is not None:
            np.savez_compressed(folder / ARM_LINE_FILE, right=geometry.transform_points(T_dev_inv[:, None], arm_w))
        with (folder / "frames" / "timestamps.csv").open("w") as f:
            f.write("frame_index,capture_timestamp_ns\n")
            f.writelines(f"{i},{int(tn)}\n" for i, tn in enumerate(t_ns))
        T_dev_rgb = self.T_device_rgb_sensor_from_model()
        calib = {"label": "camera-rgb", "model": "linear", "focal_px": c.focal_px,
                 "image_width": int(h), "image_height": int(w),  # sensor orientation: width and height swap
                 "principal_point": [h / 2.0, w / 2.0], "T_device_camera": T_dev_rgb.tolist(),
                 "orientation": "sensor",
                 "note": "frames are as the sensor sees them; rotate 90 degrees clockwise for upright"}
        (folder / "device_calibration.json").write_text(json.dumps(calib, indent=2))
        (folder / "recording.json").write_text(json.dumps({
            "format": RECORDING_FORMAT, "source": "egogym.sim.human",
            "seed": int(seed), "fps": c.fps, "frames": "frames", "masks": "masks", "hands": ["right"],
            "toy": p.toy, "start": p.episode.to_dict(), "task": c.task.describe(), "n_frames": n,
            **recording_settings(c)}, indent=2))
        np.savez_compressed(folder / "truth.npz", t_ns=t_ns, palm_world=palm_w, wrist_world=wrist_w,
                            T_world_rgb=T_rgb, T_world_device=T_dev, K=K, tracked=conf >= 0,
                            toy_final=self.toy_pose(p.duration)[0], bowl=p.bowl)
        return folder


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, l1: float, l2: float, hint: np.ndarray) -> np.ndarray:
    """Elbow position (m) of a two-link arm from shoulder to wrist with links l1, l2,
    on the side of `hint`. Out-of-reach wrists give a straight arm toward the wrist."""
    d_vec = wrist - shoulder
    d = float(np.linalg.norm(d_vec))
    u = d_vec / max(d, 1e-9)
    dc = float(np.clip(d, abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3))
    a = (l1**2 - l2**2 + dc**2) / (2 * dc)
    r = np.sqrt(max(l1**2 - a**2, 0.0))
    v = hint - u * (hint @ u)
    v /= max(np.linalg.norm(v), 1e-9)
    return shoulder + a * u + r * v
