"""The HDF5 layout of egogym data files: the one place that spells a key.

Writer, reader, validator, converters, statistics and inspect tools all take their key
names, shapes and dtypes from here. The layout is EgoMimic's (robomimic-style,
REFERENCE §1) with these differences, each recorded in the file:

- `data.attrs` carries `egogym_format_version` (= FORMAT_VERSION), the domain, the
  embodiment, the arm layout, the control rate (Hz), the image size and the camera
  calibration (`egogym.core.spec.Calibration.to_dict()` as JSON). EgoMimic's files have none
  of these; a file without `egogym_format_version` is read as an EgoMimic file.
- Robot files store per-step commanded joint targets `data/demo_N/actions` (T, 7k)
  instead of pre-stacked chunks; chunks of 100 are cut when loading (`chunk_indices`).
  The robot's end-effector chunk `actions_xyz_act` is cut the same way from
  `obs/ee_pose` (the Aria is fixed on the robot's torso, so every step's camera frame is
  the same). `DemoWriter(write_prestacked=True)` also writes EgoMimic's pre-stacked keys.
- Human files store `actions_xyz_act` (T, 100, 3k) as EgoMimic does: each chunk lives in
  the camera frame of its own t (the head moves), so it cannot be cut at load time.
- Images are compressed, one chunk per frame (`IMAGE_CODECS`, chosen in
  docs/BENCHMARKS.md); EgoMimic's are uncompressed. Reading needs `import hdf5plugin`
  for the blosc codecs (the reader does it).
- `data/demo_N/states` (T, nq + nv) float64 holds the simulator state for replay
  (sim recordings only); `data/demo_N.attrs["state_nq"]` splits it into qpos and qvel.

Frames and units: positions in metres in the Aria (`front_img_1`) camera frame of the
current step (OpenCV: x right, y down, z forward); joints in radians, grippers
normalized to [0, 1] (0 closed); per-arm blocks ordered left then right.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from egogym.core.arms import XYZ_PER_ARM, Arms
from egogym.core.errors import UserError
from egogym.core.spec import RobotSpec
from egogym.core.views import (EE_POSE, FRONT, FRONT_LINE, FRONT_MASKED, JOINT_POSITIONS, LEFT_WRIST,  # noqa: F401
                               RIGHT_WRIST, WRIST_OF_ARM)

FORMAT_VERSION = 1
"""Version of the egogym layout written by this code. Bump on any incompatible change."""

DOMAINS = ("robot", "human")

# ---- group and attribute names ------------------------------------------------------
DATA = "data"
MASK = "mask"
OBS = "obs"
ATTR_VERSION = "egogym_format_version"
ATTR_DOMAIN = "domain"
ATTR_EMBODIMENT = "embodiment"
ATTR_ARMS = "arms"  # JSON list of arm names, layout order (left before right)
ATTR_CONTROL_HZ = "control_hz"  # float, Hz: the rate of one step of `actions` / `obs`
ATTR_IMAGE_SIZE = "image_size"  # JSON [height, width] (px)
ATTR_CALIBRATION = "calibration"  # JSON of egogym.core.spec.Calibration.to_dict()
ATTR_ENV_ARGS = "env_args"  # JSON string; "{}" in EgoMimic's files
ATTR_IMAGE_CODEC = "image_codec"
ATTR_PRESTACKED = "prestacked"  # bool: EgoMimic's pre-stacked action keys also written
ATTR_TOTAL = "total"  # robomimic: total number of samples in the file
ATTR_NUM_SAMPLES = "num_samples"  # per demo: T
ATTR_STATE_NQ = "state_nq"  # per demo: number of qpos entries at the front of `states`

SPLITS = ("train", "valid")
"""Mask names written by `egogym split` (EgoMimic's names; its files also use demo_train/demo_valid)."""
SPLIT_PAIRS = (("train", "valid"), ("demo_train", "demo_valid"))
"""Masks that must not share a demo (the defect of EgoMimic's public robot files)."""

# ---- action chunks (REFERENCE §1) -----------------------------------------------------
CHUNK = 100
"""Future points per action chunk."""
ROBOT_STRIDE = 2
"""Robot chunks take every 2nd step at 50 Hz: t, t+2, ..., t+198 (a 4 s horizon)."""


ARIA_FPS = 30.0
"""Frame rate (Hz) of EgoMimic's Aria recordings, the rate `HumanHorizon.stride` is given at."""


@dataclass(frozen=True)
class HumanHorizon:
    """How a human frame's chunk is cut from the palm track: `knots` palm positions `stride`
    frames apart from frame t (frames of a track at `ARIA_FPS`; `at` gives the same times at another
    rate), interpolated to CHUNK points. pad_end: near the recording's end, hold the last frame (as robot
    chunks are clipped at the demo's end) instead of dropping the frame. A stride that is not a whole
    number of frames at `ARIA_FPS` names knot times only a faster track has (`at` refuses the others)."""

    stride: float
    knots: int
    pad_end: bool

    @property
    def span_frames(self) -> int:
        return self.stride * (self.knots - 1)

    def at(self, fps: float) -> "HumanHorizon":
        """The same knot times (stride / ARIA_FPS s apart) for a track at `fps` (Hz): a 50 fps track takes
        every 5th frame where a 30 fps one takes every 3rd. ValueError where no whole number of frames is
        that time apart (15 fps for EgoMimic's 0.1 s)."""
        stride = self.stride * fps / ARIA_FPS
        if round(stride) < 1 or abs(stride - round(stride)) > 0.05:
            raise ValueError(f"a track at {fps:g} fps has no frames {self.stride / ARIA_FPS:g} s apart: record at a "
                             f"multiple of {ARIA_FPS / self.stride:g} fps")
        return HumanHorizon(int(round(stride)), self.knots, self.pad_end)


HUMAN_HORIZONS = {"egomimic": HumanHorizon(3, 10, False), "robot": HumanHorizon(3, 40, True),
                  "robot-exact": HumanHorizon(ROBOT_STRIDE * ARIA_FPS / RobotSpec.control_hz, CHUNK, False)}
"""At 30 fps (other rates: `HumanHorizon.at`). egomimic: t+3k, k=0..9 (0.9 s, REFERENCE §1), frames without the whole span dropped; robot: t+3k,
k=0..39 (3.9 s: the robot chunk's 3.96 s, `ROBOT_STRIDE` x 99 steps at 50 Hz, to within 2 frames), padded at
the end as the robot's chunks are. EgoMimic's human chunks span a quarter of its robot chunks' time.
robot-exact: the robot chunk's own times (100 knots 0.04 s apart, 3.96 s), frames without the whole span
dropped, as the positive control's chunks are: only a track at a multiple of 25 fps has them (the simulated
person at 50 fps: every 2nd frame, as robot chunks take every 2nd step)."""

HUMAN_LABEL_POINTS = ("palm", "grip")
"""The point of the hand a human chunk follows: "palm" (MPS's palm centre, EgoMimic's label) or "grip" (the point
a palm-down grasp holds, the hand's counterpart of the robot's pinch point: `egogym.data.aria.grip_point`)."""
SUBSAMPLED = 10
"""EgoMimic's `actions_joints` / `actions_xyz` keep every 10th point of a chunk: (T, 10, D)."""

# per-step and chunk keys
ACTIONS_STEP = "actions"  # robot: (T, 7k) float64, commanded joint targets at each step
STATES = "states"  # sim: (T, nq + nv) float64
XYZ_STEP = "actions_xyz_step"
"""Robot, optional: (T, 3k) float64 per-step end-effector targets (m, Aria frame) that the
`actions_xyz_act` chunks are cut from instead of `obs/ee_pose`. Written by `egogym convert
egomimic`: EgoMimic's robot xyz chunks are the forward kinematics of the commanded joints,
not the observed end-effector positions."""
FOREIGN = "egomimic"
"""Group (in a demo, and at the file's root) where `egogym convert egomimic` keeps, verbatim,
arrays and attributes of the input that egogym's layout has no place for (so that every
input array can be reproduced)."""
JOINTS_ACT = "actions_joints_act"  # (T, 100, 7k) in EgoMimic's files; a sample key here
XYZ_ACT = "actions_xyz_act"  # (T, 100, 3k)
JOINTS_SUB = "actions_joints"  # EgoMimic's (T, 10, 7k), written only with write_prestacked
XYZ_SUB = "actions_xyz"  # EgoMimic's (T, 10, 3k), written only with write_prestacked
PAD_MASK = "pad_mask"  # sample key: (100,) bool, True = a real future step

# ---- observation keys ------------------------------------------------------------------
# FRONT, FRONT_MASKED, FRONT_LINE, RIGHT_WRIST, LEFT_WRIST, WRIST_OF_ARM, JOINT_POSITIONS and
# EE_POSE are the env's observation keys (`egogym.core.views`), imported above so that the data
# layer spells every key of a file from this module.
FRONT_MASK = "front_img_1_mask"  # (H, W) bool: the arm / hand mask itself (human files)


@dataclass(frozen=True)
class KeySpec:
    """One per-step array of a demo.

    kind: "image" (H, W, 3) uint8, "mask" (H, W) bool, or "lowdim" (D,) float64 with
    D = `width(name, arms)`.
    path: where it lives under `data/demo_N/`.
    """

    name: str
    kind: str

    @property
    def path(self) -> str:
        return f"{OBS}/{self.name}"

    @property
    def dtype(self) -> np.dtype:
        return {"image": np.dtype(np.uint8), "mask": np.dtype(bool), "lowdim": np.dtype(np.float64)}[self.kind]

    def step_shape(self, image_size: tuple[int, int], arms: Arms) -> tuple[int, ...]:
        """Shape of one time step of this key in a file of `arms`."""
        h, w = image_size
        if self.kind == "image":
            return (h, w, 3)
        if self.kind == "mask":
            return (h, w)
        return (width(self.name, arms),)


OBS_KEYS: dict[str, KeySpec] = {k.name: k for k in (
    KeySpec(FRONT, "image"), KeySpec(FRONT_MASKED, "image"), KeySpec(FRONT_LINE, "image"),
    KeySpec(FRONT_MASK, "mask"), KeySpec(RIGHT_WRIST, "image"), KeySpec(LEFT_WRIST, "image"),
    KeySpec(JOINT_POSITIONS, "lowdim"), KeySpec(EE_POSE, "lowdim"),
)}

JOINT_KEYS = (JOINT_POSITIONS, ACTIONS_STEP, JOINTS_ACT, JOINTS_SUB)
"""Keys in the joint layout (per arm 6 joint angles, then the gripper; `egogym.core.arms`)."""
XYZ_KEYS = (EE_POSE, XYZ_STEP, XYZ_ACT, XYZ_SUB)
"""Keys in the point layout (per arm x, y, z in metres)."""


def width(key: str, arms: Arms) -> int:
    """Values per step (per chunk point for chunk keys) of a per-arm key in a file of `arms`."""
    if key in JOINT_KEYS:
        return arms.joint_width
    if key in XYZ_KEYS:
        return arms.xyz_width
    raise KeyError(f"{key!r} is not a per-arm key (joint keys: {JOINT_KEYS}; point keys: {XYZ_KEYS})")


@dataclass(frozen=True)
class DomainSchema:
    """Which keys a domain has.

    required_obs: obs keys every demo has. wrist keys are required per active arm (robot).
    optional_obs: obs keys a demo may have.
    action_keys: the chunk keys of a sample (each (100, width(key, arms)) float64).
    stored_actions: what the file holds for the actions: {writer dict key: HDF5 key}.
    """

    name: str
    required_obs: tuple[str, ...]
    optional_obs: tuple[str, ...]
    action_keys: tuple[str, ...]
    stored_actions: dict[str, str]

    def required_obs_for(self, arms: Iterable[str]) -> tuple[str, ...]:
        if self.name == "robot":
            return self.required_obs + tuple(WRIST_OF_ARM[a] for a in arms)
        return self.required_obs

    def allowed_obs(self) -> tuple[str, ...]:
        return self.required_obs + self.optional_obs


SCHEMAS: dict[str, DomainSchema] = {
    "robot": DomainSchema(
        "robot", required_obs=(FRONT, FRONT_MASKED, FRONT_LINE, JOINT_POSITIONS, EE_POSE),
        optional_obs=(FRONT_MASK, RIGHT_WRIST, LEFT_WRIST),
        action_keys=(JOINTS_ACT, XYZ_ACT), stored_actions={"joints": ACTIONS_STEP}),
    # front_img_1_mask: egogym's converters always write it; EgoMimic's public human files
    # do not all have it, so `egogym convert egomimic` must be able to leave it out.
    "human": DomainSchema(
        "human", required_obs=(FRONT, FRONT_MASKED, FRONT_LINE, EE_POSE),
        optional_obs=(FRONT_MASK,),
        action_keys=(XYZ_ACT,), stored_actions={"xyz_act": XYZ_ACT}),
}

LOWDIM_OBS = tuple(k for k, s in OBS_KEYS.items() if s.kind == "lowdim")
IMAGE_OBS = tuple(k for k, s in OBS_KEYS.items() if s.kind in ("image", "mask"))

# ---- image compression ------------------------------------------------------------------
IMAGE_CODECS = ("blosc-lz4", "blosc-lz4hc", "blosc-zstd", "gzip", "lzf", "none")
"""Lossless per-frame codecs the writer offers (lossless so that masks and the red line
survive bit for bit). Measured by bench/data_io.py on rendered 480x640 frames
(docs/BENCHMARKS.md, "Data I/O"): blosc-lz4 (level 5, no shuffle) stores 1/19 of
EgoMimic's bytes per step, writes fastest of the compressing codecs (27 ms/step) and
reads fastest from a cold cache (1.3x the uncompressed layout); lz4hc and zstd/gzip
compress 2-2.5x more but write 1.5-5x slower and read slower; shuffling only hurts
uint8 images."""
DEFAULT_IMAGE_CODEC = "blosc-lz4"


def codec_kwargs(codec: str) -> dict:
    """h5py create_dataset keyword arguments of an image codec."""
    if codec == "none":
        return {}
    if codec == "gzip":
        return {"compression": "gzip", "compression_opts": 4}
    if codec == "lzf":
        return {"compression": "lzf"}
    if codec in ("blosc-lz4hc", "blosc-lz4", "blosc-zstd"):
        import hdf5plugin

        cname = codec.split("-")[1]
        return dict(hdf5plugin.Blosc(cname=cname, clevel=5, shuffle=hdf5plugin.Blosc.NOSHUFFLE))
    raise DataFormatError(f"image codec {codec!r} is unknown: choose one of {', '.join(IMAGE_CODECS)}")


# ---- errors -----------------------------------------------------------------------------
class DataFormatError(UserError, ValueError):
    """A data file (or data handed to the writer) does not follow the schema.

    The message is one line naming the file, the key and the fix."""


def demo_sort_key(name: str) -> tuple[int, str]:
    """Order demos numerically (demo_2 before demo_10)."""
    m = re.fullmatch(r"demo_(\d+)", name)
    return (int(m.group(1)), name) if m else (1 << 62, name)


def is_demo_name(name: str) -> bool:
    return re.fullmatch(r"demo_\d+", name) is not None


# ---- chunk schedule ----------------------------------------------------------------------
def chunk_indices(t: int, length: int, stride: int = ROBOT_STRIDE, horizon: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Step indices of the chunk at step t of a demo of `length` steps, and its pad mask.

    index[k] = min(t + stride * k, length - 1) (clipped at the demo's last step, as
    EgoMimic pre-stacks); pad[k] = True where t + stride * k is a real step.
    """
    if not 0 <= t < length:
        raise IndexError(f"step {t} outside a demo of {length} steps")
    raw = t + stride * np.arange(horizon)
    return np.minimum(raw, length - 1), raw <= length - 1


def prestack(per_step: np.ndarray, stride: int = ROBOT_STRIDE, horizon: int = CHUNK) -> np.ndarray:
    """EgoMimic's pre-stacked chunks (T, horizon, D) from per-step values (T, D)."""
    T = len(per_step)
    idx = np.minimum(np.arange(T)[:, None] + stride * np.arange(horizon)[None, :], T - 1)
    return per_step[idx]


def interpolate_chunk(knots: np.ndarray, horizon: int = CHUNK) -> np.ndarray:
    """Human chunk: `knots` (K, D) at equal time spacing (`HUMAN_HORIZONS`; EgoMimic: K=10 palm
    positions at t+3k, 30 fps) linearly interpolated to (horizon, D), first and last knot kept."""
    knots = np.asarray(knots, dtype=np.float64)
    s = np.linspace(0.0, len(knots) - 1, horizon)
    return np.stack([np.interp(s, np.arange(len(knots)), knots[:, d]) for d in range(knots.shape[1])], axis=1)


# ---- file-level metadata -------------------------------------------------------------------
@dataclass(frozen=True)
class FileInfo:
    """What `data.attrs` says about an egogym file (or what is assumed for an EgoMimic one).

    version: FORMAT_VERSION of the file, or None for EgoMimic's layout.
    arms: arm names in layout order (`arm_set` is their `Arms`). control_hz: Hz.
    image_size: (height, width) px.
    calibration: a dict (Calibration.to_dict()) or None when the file has none.
    """

    version: int | None
    domain: str
    embodiment: str
    arms: tuple[str, ...]
    control_hz: float
    image_size: tuple[int, int]
    calibration: dict | None
    env_args: dict
    image_codec: str
    prestacked: bool

    @property
    def arm_set(self) -> Arms:
        """The file's arms: widths and slices of its joint and point layouts."""
        return Arms.parse(self.arms)

    def attrs(self) -> dict:
        """The `data.attrs` of an egogym file holding this information."""
        return {
            ATTR_VERSION: FORMAT_VERSION, ATTR_DOMAIN: self.domain, ATTR_EMBODIMENT: self.embodiment,
            ATTR_ARMS: json.dumps(list(self.arms)), ATTR_CONTROL_HZ: float(self.control_hz),
            ATTR_IMAGE_SIZE: json.dumps(list(self.image_size)),
            ATTR_CALIBRATION: json.dumps(self.calibration), ATTR_ENV_ARGS: json.dumps(self.env_args),
            ATTR_IMAGE_CODEC: self.image_codec, ATTR_PRESTACKED: bool(self.prestacked),
        }


def _attr_str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def read_file_info(f, path: str) -> FileInfo:
    """FileInfo of an open h5py.File. EgoMimic files (no version attribute) get their
    domain, arms and image size from the first demo; raises DataFormatError otherwise."""
    if DATA not in f:
        raise DataFormatError(f"{path}: no '{DATA}' group; not an egogym/EgoMimic data file")
    a = f[DATA].attrs
    if ATTR_VERSION not in a:
        return _infer_egomimic_info(f, path)
    try:
        version = int(a[ATTR_VERSION])
    except (TypeError, ValueError):
        raise DataFormatError(f"{path}: data.attrs['{ATTR_VERSION}'] = {a[ATTR_VERSION]!r} is not an integer") from None
    if version != FORMAT_VERSION:
        raise DataFormatError(f"{path}: format version {version}, this egogym reads version {FORMAT_VERSION}: "
                              f"{'upgrade egogym' if version > FORMAT_VERSION else 're-record or convert the file'}")
    for k in (ATTR_DOMAIN, ATTR_ARMS, ATTR_CONTROL_HZ, ATTR_IMAGE_SIZE, ATTR_CALIBRATION):
        if k not in a:
            raise DataFormatError(f"{path}: data.attrs lacks '{k}'; the file was not written by DemoWriter "
                                  f"(or was edited): re-record it")
    domain = _attr_str(a[ATTR_DOMAIN])
    if domain not in DOMAINS:
        raise DataFormatError(f"{path}: data.attrs['{ATTR_DOMAIN}'] = {domain!r}; use one of {DOMAINS}")
    try:
        arms = tuple(json.loads(_attr_str(a[ATTR_ARMS])))
        size = tuple(int(x) for x in json.loads(_attr_str(a[ATTR_IMAGE_SIZE])))
        calib = json.loads(_attr_str(a[ATTR_CALIBRATION]))
        env_args = json.loads(_attr_str(a.get(ATTR_ENV_ARGS, "{}")))
    except (ValueError, TypeError) as e:
        raise DataFormatError(f"{path}: data.attrs holds malformed JSON ({e}); re-record the file") from None
    if not layout_names(arms):
        raise DataFormatError(f"{path}: data.attrs['{ATTR_ARMS}'] = {list(arms)}; give 'left' and/or 'right', left first")
    if len(size) != 2 or min(size) < 1:
        raise DataFormatError(f"{path}: data.attrs['{ATTR_IMAGE_SIZE}'] = {list(size)}; give [height, width]")
    return FileInfo(version, domain, _attr_str(a.get(ATTR_EMBODIMENT, domain)), arms, float(a[ATTR_CONTROL_HZ]),
                    size, calib, env_args, _attr_str(a.get(ATTR_IMAGE_CODEC, "none")),
                    bool(a.get(ATTR_PRESTACKED, False)))


def _infer_egomimic_info(f, path: str) -> FileInfo:
    demos = sorted((k for k in f[DATA].keys() if is_demo_name(k)), key=demo_sort_key)
    if not demos:
        raise DataFormatError(f"{path}: no demo_N groups under '{DATA}' and no '{ATTR_VERSION}' attribute")
    g = f[DATA][demos[0]]
    if OBS not in g:
        raise DataFormatError(f"{path}: {DATA}/{demos[0]} has no '{OBS}' group")
    obs = g[OBS]
    robot = JOINTS_ACT in g or JOINT_POSITIONS in obs
    domain = "robot" if robot else "human"
    if XYZ_ACT not in g:
        raise DataFormatError(f"{path}: {DATA}/{demos[0]}/{XYZ_ACT} is missing (EgoMimic layout needs the pre-stacked chunks)")
    d = g[XYZ_ACT].shape[-1]
    try:  # EgoMimic's files name no arms: one is its right arm, two are both (as every width-inferred arm set)
        arms = Arms.from_xyz_width(d).names
    except ValueError:
        raise DataFormatError(f"{path}: {DATA}/{demos[0]}/{XYZ_ACT} has last dimension {d}; expected "
                              f"{XYZ_PER_ARM} or {Arms.parse('both').xyz_width}") from None
    if FRONT not in obs:
        raise DataFormatError(f"{path}: {DATA}/{demos[0]}/{OBS}/{FRONT} is missing")
    size = tuple(int(x) for x in obs[FRONT].shape[1:3])
    env_args_raw = _attr_str(f[DATA].attrs.get(ATTR_ENV_ARGS, "{}"))
    try:
        env_args = json.loads(env_args_raw)
    except ValueError:
        env_args = {"raw": env_args_raw}
    # EgoMimic: robot at 50 Hz, human at 30 fps.
    return FileInfo(None, domain, f"egomimic-{domain}", arms, 50.0 if robot else 30.0, size, None, env_args,
                    "none", True)


def layout_names(arms) -> bool:
    """Whether `arms` (a file's `arms` attribute, decoded) names a set of arms in layout order,
    left before right (a file stores its blocks in that order, so the names must say it)."""
    try:
        return tuple(arms) == Arms.parse(arms).names
    except (ValueError, TypeError):
        return False
