"""Aria recordings (frames or VRS + MPS) to a human HDF5 file: `egogym convert aria`.

    egogym convert aria REC [REC ...] --out human.hdf5 [--image-size H W] [--hands right]
                        [--masks auto|recording|sam2] [--sam2-checkpoint PT --sam2-config YAML]

A recording is a folder (layout in docs/HUMAN_DATA.md) holding
- the RGB images: either a `.vrs` file (real glasses; read with projectaria_tools'
  `data_provider`, the fisheye image undistorted to the linear camera of `egogym.core.spec`
  with projectaria_tools' calibration functions and rotated upright as EgoMimic does),
  or `frames/` (PNG images + `frames/timestamps.csv`) with `device_calibration.json`
  (the simulated human, `egogym.sim.human`, writes these);
- the MPS outputs `closed_loop_trajectory.csv` and `wrist_and_palm_poses.csv` or
  `hand_tracking_results.csv`, anywhere below the folder (MPS's own layout works);
- optionally `masks/` (hand masks; the simulator writes them from segmentation). Without
  them the masks come from SAM2 (`egogym.data.sam2_masks`) prompted with the projected
  palm and wrist.

Palm chunks follow REFERENCE §2: for a frame t, the palm at frames t + 3k (k = 0..9,
30 fps) goes from the device frame of its own time to the world with the SLAM pose and
back into the RGB camera frame of time t,
    p_cam(t) = inv(T_world_rgb(t)) @ T_world_rgb(t+3k) @ p_rgb(t+3k),
and the 10 knots are linearly interpolated to 100 points. Frames are dropped where any
knot's hand is untracked, any chunk point falls outside the image (or behind the
camera), or less than 1 s of recording follows. The knots are times (0.1 s apart): a recording at
another frame rate takes the frames at those times (every 5th at 50 fps; `HumanHorizon.at`), and refuses
a rate without them (15 fps). One demo per recording. `--horizon robot`
takes 40 knots (3.9 s, the robot chunk's span) and holds the last frame near the end
(`schema.HUMAN_HORIZONS`); `--horizon robot-exact` the robot chunk's own 100 times (a recording at
a multiple of 25 fps), whole chunks only. `--point grip` follows the point the hand holds (`grip_point`, from the
palm, the wrist and the palm normal MPS gives) instead of the palm centre.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from egogym.core import geometry
from egogym.core.arms import LABELS, XYZ_PER_ARM, Arms
from egogym.core.errors import UserError
from egogym.data import mps
from egogym.data import schema as S
from egogym.core.outputs import check_output
from egogym.core.spec import ARIA_IMAGE_SIZE, R_UPRIGHT_FROM_SENSOR, Calibration, aria_focal_px, check_image_size

CAMERA = S.FRONT
RGB_LABEL = "camera-rgb"
MIN_FUTURE_S = 1.0
"""A frame is kept only if at least this much recording follows it (s; EgoMimic: 30 frames at 30 fps)."""
MIN_FUTURE_FRAMES = round(MIN_FUTURE_S * S.ARIA_FPS)
MAX_FILL_GAP_S = 1.0
"""Longest loss of hand tracking `--fill-gaps` may bridge (s): past that, interpolation invents motion."""
FILL_GAPS_HELP = ("bridge losses of hand tracking of at most S seconds by interpolating the hand in the world "
                  "frame between the frames around them (default 0: none, EgoMimic's: a frame is dropped where "
                  "any knot of its chunk is untracked, which whole robot-length chunks make most frames)")
FOREARM_GUESS_M = 0.25
"""Length (m) of the forearm segment drawn past the wrist for the red line (MPS gives no elbow)."""


class RecordingError(UserError):
    """A recording that cannot be converted; one line naming the file and the fix."""


# =====================================================================================
# frame math (pure numpy; property-tested in tests/human/test_frames.py)
# =====================================================================================
EGOMIMIC_HORIZON = S.HUMAN_HORIZONS["egomimic"]

ARM_LINE_FILE = "arm_line.npz"
"""Optional file of a recording whose frames show a robot arm in place of the hand (a video edited with a
rendered arm, or the simulated person with `--hand robot`): per hand name, (N frames, K, 3) points along the
drawn arm (m, device frame at each frame's time; NaN where none is drawn). The red line of
`front_img_1_line` then runs along the arm the frame shows, as on robot data, instead of along the hand."""

GRIP_IN_HAND = (0.047, 0.021)
"""Where a palm-down grasp holds an object, from the palm centre (m): along the hand (wrist to palm)
and along the palm normal. Measured on the simulated hand: the toy's centre at the grasp, median over
40 seeds of each motion (`HumanConfig.motion`), 9 mm from either motion's own point. A real hand's
differs with its size; this is the simulated person's calibration, not a measured human constant."""


def grip_point(palm: np.ndarray, wrist: np.ndarray, palm_normal: np.ndarray,
               offset: tuple[float, float] = GRIP_IN_HAND) -> np.ndarray:
    """The point the hand holds (m, the inputs' frame), shape (..., 3) like the inputs: the palm
    centre moved offset[0] along the hand (unit wrist-to-palm) and offset[1] along the palm normal
    made perpendicular to the hand. NaN where any input is NaN (untracked, or no normals in the file)."""
    palm, wrist, n = (np.asarray(a, float) for a in (palm, wrist, palm_normal))
    along = palm - wrist
    along = along / np.linalg.norm(along, axis=-1, keepdims=True)
    n = n - np.sum(n * along, axis=-1, keepdims=True) * along
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    return palm + offset[0] * along + offset[1] * n


def knot_indices(t: int, horizon: S.HumanHorizon = EGOMIMIC_HORIZON, n_frames: int | None = None) -> np.ndarray:
    """Frame indices t + stride * k, k = 0..knots-1; with `horizon.pad_end`, clipped at frame n_frames - 1."""
    idx = t + horizon.stride * np.arange(horizon.knots)
    return np.minimum(idx, n_frames - 1) if horizon.pad_end and n_frames is not None else idx


def knots_in_frame_t(T_world_rgb: np.ndarray, p_rgb: np.ndarray, t: int,
                     horizon: S.HumanHorizon = EGOMIMIC_HORIZON) -> np.ndarray:
    """Future points expressed in the camera frame of time t.

    T_world_rgb: (N, 4, 4) camera poses per frame. p_rgb: (N, ..., 3) points in each
    frame's own camera frame (m). Returns (knots, ..., 3): inv(T_world_rgb[t]) @
    T_world_rgb[t+sk] @ p_rgb[t+sk]."""
    idx = knot_indices(t, horizon, len(T_world_rgb))
    T_t_k = geometry.invert(T_world_rgb[t])[None] @ T_world_rgb[idx]  # (knots, 4, 4)
    p = p_rgb[idx]
    extra = p.ndim - 2
    T = T_t_k.reshape(T_t_k.shape[:1] + (1,) * extra + (4, 4))
    return geometry.transform_points(T, p)


@dataclass
class ChunkResult:
    """Output of `palm_chunks`.

    keep: (M,) frame indices kept. chunks: (M, 100, 3h) palm chunks in the camera frame
    of each kept frame (m), hands in the order given. ee: (M, 3h) the palm now (= chunk
    point 0). dropped: {"untracked", "out_of_image", "too_short"}: frames dropped for
    each reason (first reason that applies, in that order of checking: too_short first).
    """

    keep: np.ndarray
    chunks: np.ndarray
    ee: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)


def palm_chunks(T_world_rgb: np.ndarray, p_rgb: np.ndarray, tracked: np.ndarray, K: np.ndarray,
                image_size: tuple[int, int], horizon: S.HumanHorizon = EGOMIMIC_HORIZON,
                points: int = S.CHUNK, min_future: int = MIN_FUTURE_FRAMES) -> ChunkResult:
    """Palm action chunks of a recording (REFERENCE §2).

    T_world_rgb: (N, 4, 4) upright RGB camera poses (OpenCV frame) per frame.
    p_rgb: (N, h, 3) palm of each of h hands in that frame's camera frame (m); NaN allowed
      where untracked. tracked: (N, h) bool. K: 3x3 intrinsics at image_size (H, W).
    horizon: the knots' schedule (`schema.HUMAN_HORIZONS`); points: chunk length.
    """
    N = len(T_world_rgb)
    p_rgb = np.asarray(p_rgb, float)
    tracked = np.asarray(tracked, bool)
    if p_rgb.ndim != 3 or p_rgb.shape[0] != N or tracked.shape != p_rgb.shape[:2]:
        raise ValueError(f"palm_chunks: p_rgb {p_rgb.shape} and tracked {tracked.shape} must be (N, hands, 3) "
                         f"and (N, hands) with N = {N}")
    h, w = image_size
    nh = p_rgb.shape[1]
    keep, chunks = [], []
    dropped = {"too_short": 0, "untracked": 0, "out_of_image": 0}
    for t in range(N):
        if N - 1 - t < min_future or (not horizon.pad_end and t + horizon.span_frames > N - 1):
            dropped["too_short"] += 1
            continue
        idx = knot_indices(t, horizon, N)
        if not tracked[idx].all():
            dropped["untracked"] += 1
            continue
        kn = knots_in_frame_t(T_world_rgb, p_rgb, t, horizon)  # (knots, h, 3)
        ch = S.interpolate_chunk(kn.reshape(len(kn), nh * XYZ_PER_ARM), points).reshape(points, nh, XYZ_PER_ARM)
        uv = geometry.project(K, ch)
        if not (np.all(np.isfinite(uv)) and np.all(geometry.in_image(uv, h, w))):
            dropped["out_of_image"] += 1
            continue
        keep.append(t)
        chunks.append(ch.reshape(points, nh * XYZ_PER_ARM))
    keep_a = np.array(keep, dtype=np.int64)
    ch_a = np.stack(chunks) if chunks else np.zeros((0, points, nh * XYZ_PER_ARM))
    return ChunkResult(keep_a, ch_a, ch_a[:, 0, :].copy(), dropped)


def hand_line_points(palm_cam: np.ndarray, wrist_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels (3, 2) of the red line along a hand: a forearm point FOREARM_GUESS_M
    behind the wrist (continuing the palm-to-wrist direction), the wrist, the palm.
    Inputs are (3,) points (m) in the camera frame; points behind the camera give NaN."""
    d = wrist_cam - palm_cam
    n = np.linalg.norm(d)
    elbow = wrist_cam + (d / n * FOREARM_GUESS_M if n > 1e-9 else 0.0)
    return geometry.project(K, np.stack([elbow, wrist_cam, palm_cam]))


def rotate_K_upright(K_sensor: np.ndarray, sensor_height: int) -> np.ndarray:
    """Intrinsics of the image rotated 90 degrees clockwise from those of the sensor image
    (height sensor_height): u' = H_s - v, v' = u."""
    f_x, f_y, cx, cy = K_sensor[0, 0], K_sensor[1, 1], K_sensor[0, 2], K_sensor[1, 2]
    return np.array([[f_y, 0.0, sensor_height - cy], [0.0, f_x, cx], [0.0, 0.0, 1.0]])


# =====================================================================================
# recordings
# =====================================================================================
class FrameSource:
    """RGB frames of a recording, upright, at `image_size` (H, W).

    timestamps_ns: (N,) device capture times. K: (3, 3) intrinsics of the upright image.
    T_device_rgb: (4, 4) pose of the upright RGB camera in the device frame."""

    image_size: tuple[int, int]
    timestamps_ns: np.ndarray
    K: np.ndarray
    T_device_rgb: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamps_ns)

    def image(self, i: int) -> np.ndarray:
        raise NotImplementedError


class FolderFrames(FrameSource):
    """`frames/NNNNNN.png` + `frames/timestamps.csv` + `device_calibration.json`
    (linear camera; "orientation": "sensor" for frames that need a clockwise quarter
    turn to be upright, "upright" otherwise). Frames are resized to image_size when
    given (intrinsics scaled)."""

    def __init__(self, root: Path, image_size: tuple[int, int] | None):
        cal_path = root / "device_calibration.json"
        if not cal_path.is_file():
            raise RecordingError(f"{cal_path}: missing; a frames recording needs the device calibration "
                                 "(or give a folder with a .vrs file)")
        try:
            cal = json.loads(cal_path.read_text())
        except ValueError as e:
            raise RecordingError(f"{cal_path}: not JSON ({e})") from None
        for k in ("model", "focal_px", "image_width", "image_height", "T_device_camera", "orientation"):
            if k not in cal:
                raise RecordingError(f"{cal_path}: key {k!r} missing (see docs/HUMAN_DATA.md)")
        if cal["model"] != "linear":
            raise RecordingError(f"{cal_path}: model {cal['model']!r}; frames must be undistorted to 'linear' "
                                 "(give the .vrs instead to undistort here)")
        ws, hs = int(cal["image_width"]), int(cal["image_height"])
        f = float(cal["focal_px"])
        cx, cy = cal.get("principal_point", [ws / 2.0, hs / 2.0])
        K_s = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])
        T_dc = np.asarray(cal["T_device_camera"], float)
        if cal["orientation"] == "sensor":
            self._rotate = True
            K_up = rotate_K_upright(K_s, hs)
            T_dc = T_dc @ geometry.make_transform(R_UPRIGHT_FROM_SENSOR.T, np.zeros(3))
            native = (ws, hs)
        elif cal["orientation"] == "upright":
            self._rotate = False
            K_up, native = K_s, (hs, ws)
        else:
            raise RecordingError(f"{cal_path}: orientation {cal['orientation']!r}; use 'sensor' or 'upright'")
        ts_path = root / "frames" / "timestamps.csv"
        if not ts_path.is_file():
            raise RecordingError(f"{ts_path}: missing; write one row 'frame_index,capture_timestamp_ns' per frame")
        rows = list(csv.DictReader(mps.csv_lines(ts_path, RecordingError)))  # a non-UTF-8 byte: file, row, column
        if not rows or "capture_timestamp_ns" not in rows[0]:
            raise RecordingError(f"{ts_path}: column 'capture_timestamp_ns' missing or no rows")
        ts = []
        for i, r in enumerate(rows, start=1):
            try:
                ts.append(int(r["capture_timestamp_ns"]))
                int(r["frame_index"])
            except (TypeError, ValueError, KeyError):
                raise RecordingError(f"{ts_path}: row {i}: 'frame_index' and 'capture_timestamp_ns' must be "
                                     f"integers, got {r!r}") from None
        self.timestamps_ns = np.array(ts, dtype=np.int64)
        mps.check_increasing(ts_path, "capture_timestamp_ns", self.timestamps_ns, RecordingError)
        self.files = [root / "frames" / f"{int(r['frame_index']):06d}.png" for r in rows]
        for p in (self.files[0], self.files[-1]):
            if not p.is_file():
                raise RecordingError(f"{p}: missing frame listed in {ts_path}")
        self.native = native
        self.image_size = tuple(image_size) if image_size else native
        sy, sx = self.image_size[0] / native[0], self.image_size[1] / native[1]
        self.K = np.diag([sx, sy, 1.0]) @ K_up
        self.T_device_rgb = T_dc
        self.mask_dir = root / "masks" if (root / "masks").is_dir() else None

    def _load(self, path: Path, nearest: bool) -> np.ndarray:
        im = Image.open(path)
        a = np.asarray(im)
        if self._rotate:
            a = np.rot90(a, k=-1)
        if a.shape[:2] != tuple(self.image_size):
            im = Image.fromarray(np.ascontiguousarray(a))
            im = im.resize((self.image_size[1], self.image_size[0]), Image.NEAREST if nearest else Image.BILINEAR)
            a = np.asarray(im)
        return np.ascontiguousarray(a)

    def image(self, i: int) -> np.ndarray:
        a = self._load(self.files[i], nearest=False)
        if a.ndim != 3 or a.shape[2] < 3:
            raise RecordingError(f"{self.files[i]}: not an RGB image (shape {a.shape})")
        return a[..., :3].astype(np.uint8)

    def mask(self, i: int) -> np.ndarray:
        p = self.mask_dir / self.files[i].name
        if not p.is_file():
            raise RecordingError(f"{p}: missing hand mask for frame {i}")
        return self._load(p, nearest=True).astype(bool)


class VrsFrames(FrameSource):
    """RGB frames of an Aria `.vrs` through projectaria_tools' `data_provider`.

    Each fisheye frame is undistorted to a linear camera (focal ARIA_FOCAL_PX at 480 rows
    of the upright image, scaled with image_size) with `calibration.distort_by_calibration`
    and rotated 90 degrees clockwise to be upright; the upright camera's pose in the
    device frame comes from `calibration.rotate_camera_calib_cw90deg`.

    provider: an object with data_provider's interface (tests pass a fake); default
    `data_provider.create_vrs_data_provider(path)`."""

    def __init__(self, path: Path, image_size: tuple[int, int] | None, provider=None):
        try:
            from projectaria_tools.core import calibration, data_provider
        except ImportError as e:
            raise UserError(f"reading {path} needs projectaria_tools ({e.name}): pip install -e '.[aria]'") from None
        self._calibration = calibration
        if provider is None:
            if not path.is_file():
                raise RecordingError(f"{path}: no such VRS file")
            provider = data_provider.create_vrs_data_provider(str(path))
            if provider is None:
                raise RecordingError(f"{path}: projectaria_tools could not open this VRS file")
        self.provider = provider
        self.path = path
        self.stream = provider.get_stream_id_from_label(RGB_LABEL)
        if self.stream is None:
            raise RecordingError(f"{path}: no '{RGB_LABEL}' stream; record with a profile that has the RGB camera")
        device_calib = provider.get_device_calibration()
        self.src = device_calib.get_camera_calib(RGB_LABEL) if device_calib is not None else None
        if self.src is None:
            raise RecordingError(f"{path}: no calibration for '{RGB_LABEL}' in the VRS file")
        self.image_size = tuple(image_size) if image_size else ARIA_IMAGE_SIZE
        H, W = self.image_size
        f = aria_focal_px(H)
        # Sensor orientation: the upright image's width is the sensor image's height.
        self.dst = calibration.get_linear_camera_calibration(H, W, f, RGB_LABEL, self.src.get_transform_device_camera())
        upright = calibration.rotate_camera_calib_cw90deg(self.dst)
        self.T_device_rgb = np.asarray(upright.get_transform_device_camera().to_matrix(), float)
        self.K = geometry.intrinsics(f, H, W)
        n = provider.get_num_data(self.stream)
        if n < 1:
            raise RecordingError(f"{path}: the '{RGB_LABEL}' stream has no frames")
        self._n = n
        from projectaria_tools.core.sensor_data import TimeDomain
        self.timestamps_ns = np.asarray(provider.get_timestamps_ns(self.stream, TimeDomain.DEVICE_TIME), dtype=np.int64)
        if len(self.timestamps_ns) != n:
            raise RecordingError(f"{path}: {len(self.timestamps_ns)} timestamps for {n} '{RGB_LABEL}' frames")
        self.mask_dir = None

    def image(self, i: int) -> np.ndarray:
        data, _ = self.provider.get_image_data_by_index(self.stream, i)
        raw = np.asarray(data.to_numpy_array())
        lin = np.asarray(self._calibration.distort_by_calibration(raw, self.dst, self.src))
        up = np.rot90(lin, k=-1)
        if up.ndim == 2:
            up = np.repeat(up[..., None], 3, axis=2)
        return np.ascontiguousarray(up[..., :3]).astype(np.uint8)


@dataclass
class AriaRecording:
    """One recording: frames, SLAM trajectory, hand tracking, and what was read from where."""

    root: Path
    frames: FrameSource
    trajectory: mps.Trajectory
    hands: dict[str, mps.HandTrack]
    hands_file: Path
    meta: dict
    arm_lines: dict[str, np.ndarray] | None = None  # `ARM_LINE_FILE`'s arrays, where the recording has one

    @property
    def name(self) -> str:
        return self.root.name


def open_recording(path: str | Path, image_size: tuple[int, int] | None = None,
                   vrs_provider: Callable[[Path], object] | None = None) -> AriaRecording:
    """Open a recording folder (or a `.vrs` file whose folder holds the MPS outputs).

    vrs_provider: optional factory path -> provider with data_provider's interface (tests)."""
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"{path}: no such recording (give a folder or a .vrs file)")
    if path.is_file() and path.suffix == ".vrs":
        root, vrs = path.parent, path
    else:
        root = path
        vrs_files = sorted(root.glob("*.vrs"))
        vrs = vrs_files[0] if vrs_files else None
    if vrs is not None:
        frames: FrameSource = VrsFrames(vrs, image_size, vrs_provider(vrs) if vrs_provider else None)
    else:
        frames = FolderFrames(root, image_size)
    traj_path = mps.find_mps_file(root, mps.CLOSED_LOOP_FILE)
    if traj_path is None:
        raise RecordingError(f"{root}: no {mps.CLOSED_LOOP_FILE} found; run MPS SLAM and put its output in the folder")
    trajectory = mps.read_closed_loop(traj_path)
    hands, hands_file = mps.read_hands(root)
    meta = {}
    if (root / "recording.json").is_file():
        try:
            meta = json.loads((root / "recording.json").read_text())
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError alike: name the file
            raise RecordingError(f"{root / 'recording.json'}: not JSON ({str(e)[:120]}); rewrite or delete it") from None
    arm_lines = None
    if (root / ARM_LINE_FILE).is_file():
        with np.load(root / ARM_LINE_FILE) as z:
            arm_lines = {k: z[k] for k in z.files}
        bad = {k: v.shape for k, v in arm_lines.items() if v.ndim != 3 or v.shape[0] != len(frames) or v.shape[2] != 3}
        if bad:
            raise RecordingError(f"{root / ARM_LINE_FILE}: arrays {bad}; expected (frames={len(frames)}, K, 3) per hand")
    return AriaRecording(root, frames, trajectory, hands, hands_file, meta, arm_lines)


def align_hands(rec: AriaRecording, hands: tuple[str, ...], tolerance_us: int = 5_000):
    """Palm, wrist and palm normal of `hands` at each frame, in the device frame of the hand sample.

    Each frame takes the hand-tracking row nearest in time (within tolerance_us);
    frames without one count as untracked. Returns (palm_dev (N,h,3), wrist_dev (N,h,3),
    normal_dev (N,h,3), tracked (N,h), t_hand_us (N,)) with NaN where untracked."""
    t_frames_us = np.round(rec.frames.timestamps_ns / 1000).astype(np.int64)
    N = len(t_frames_us)
    any_track = rec.hands[hands[0]]
    t_h = any_track.t_us
    j = np.clip(np.searchsorted(t_h, t_frames_us), 1, len(t_h) - 1) if len(t_h) > 1 else np.zeros(N, int)
    if len(t_h) > 1:
        j = np.where(np.abs(t_h[j - 1] - t_frames_us) <= np.abs(t_h[j] - t_frames_us), j - 1, j)
    close = np.abs(t_h[j] - t_frames_us) <= tolerance_us
    palm = np.full((N, len(hands), 3), np.nan)
    wrist = np.full((N, len(hands), 3), np.nan)
    normal = np.full((N, len(hands), 3), np.nan)
    tracked = np.zeros((N, len(hands)), bool)
    for k, side in enumerate(hands):
        tr = rec.hands[side]
        ok = close & tr.tracked[j]
        tracked[:, k] = ok
        palm[ok, k] = tr.palm_device[j[ok]]
        wrist[ok, k] = tr.wrist_device[j[ok]]
        normal[ok, k] = tr.palm_normal_device[j[ok]]
    return palm, wrist, normal, tracked, t_h[j]


def check_fill_gaps(seconds, where: str = "--fill-gaps") -> float:
    """`seconds` as a bridge length for `fill_tracking_gaps` (s), or a UserError naming `where`."""
    if isinstance(seconds, bool) or not (isinstance(seconds, (int, float)) and 0 <= seconds <= MAX_FILL_GAP_S):
        raise UserError(f"{where}: {seconds!r}: give seconds in [0, {MAX_FILL_GAP_S}] (0: no gap is bridged)")
    return float(seconds)


def fill_tracking_gaps(points: np.ndarray, tracked: np.ndarray, t: np.ndarray, max_frames: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Bridge short losses of hand tracking: each run of at most `max_frames` untracked frames with a tracked
    frame on either side gets the points linearly interpolated in time between those two, and counts as tracked.

    points: (N, h, 3) per frame and hand, in a frame that does not move with the head (the world; m); NaN
    allowed where untracked. tracked: (N, h) bool. t: (N,) frame times (any unit, increasing).
    Returns new (points, tracked); longer gaps and gaps at either end stay untracked."""
    points, tracked = np.array(points, float), np.array(tracked, bool)
    for k in range(tracked.shape[1]):
        lost = np.flatnonzero(~tracked[:, k])
        if not len(lost):
            continue
        runs = np.split(lost, np.flatnonzero(np.diff(lost) > 1) + 1)
        for run in runs:
            a, b = run[0] - 1, run[-1] + 1  # the tracked frames around the run
            if a < 0 or b >= len(t) or len(run) > max_frames:
                continue
            w = ((t[run] - t[a]) / (t[b] - t[a]))[:, None]
            points[run, k] = (1 - w) * points[a, k] + w * points[b, k]
            tracked[run, k] = True
    return points, tracked


def convert_recording(rec: AriaRecording, hands: tuple[str, ...] = ("right",), masker=None,
                      progress: bool = False, begin=None, horizon: str = "egomimic", point: str = "palm",
                      fill_gaps: float = 0.0):
    """One recording -> (obs, actions, attrs) of a human demo (`DemoWriter.write_demo`).

    hands: "right" | "left" | "both", an `Arms` or hand names (laid out left before right, as
    every egogym file). masker: None to use the recording's `masks/`; else an object with
    `mask(image, points_uv) -> (H, W) bool` (SAM2, `egogym.data.sam2_masks`).
    begin: `DemoWriter.begin_demo` (a callable attrs -> DemoStream): each converted frame
    is appended to the stream as it is made (memory bounded by the stream's block, not by
    the recording's length) and the committed demo's name is returned instead.
    horizon: a name of `schema.HUMAN_HORIZONS` (the chunks' time span). point: a name of
    `schema.HUMAN_LABEL_POINTS`, the point of the hand the chunks follow. fill_gaps: losses of hand tracking
    of at most this many seconds are bridged by interpolation in the world frame (`fill_tracking_gaps`); 0:
    none, EgoMimic's (a frame is dropped where any knot of its chunk is untracked)."""
    from egogym.core.views import mask_and_line

    fr = rec.frames
    hands = Arms.parse(hands).names
    palm_dev, wrist_dev, normal_dev, tracked, t_hand_us = align_hands(rec, hands)
    if point == "grip":
        if not np.isfinite(normal_dev[tracked]).all():
            raise RecordingError(f"{rec.hands_file}: palm normals (n*_palm_device) missing where the hand is tracked; "
                                 f"--point grip needs them: re-export with MPS hand tracking v2, or use --point palm")
        label_dev = grip_point(palm_dev, wrist_dev, normal_dev)
    else:
        label_dev = palm_dev
    t_frames_us = np.round(fr.timestamps_ns / 1000).astype(np.int64)
    lo, hi = rec.trajectory.t_us[0], rec.trajectory.t_us[-1]
    inside = (t_frames_us >= lo) & (t_frames_us <= hi) & (t_hand_us >= lo) & (t_hand_us <= hi)
    if not inside.any():
        raise RecordingError(f"{rec.root}: no frame falls inside the SLAM trajectory's time span "
                             f"({lo}..{hi} us); are the MPS outputs from this recording?")
    # Frames outside the SLAM span cannot be placed: they count as untracked.
    tracked &= inside[:, None]
    t_frames_c = np.clip(t_frames_us, lo, hi)
    T_world_rgb = rec.trajectory.at(t_frames_c) @ fr.T_device_rgb
    # Hand samples are placed with the device pose at their own time.
    T_world_dev_hand = rec.trajectory.at(np.clip(t_hand_us, lo, hi))
    fps = _fps(fr.timestamps_ns)
    if fill_gaps > 0:  # in the world, where a still hand stays still whatever the head does
        world = [geometry.transform_points(T_world_dev_hand[:, None], np.where(tracked[..., None], p, np.nan))
                 for p in (palm_dev, wrist_dev, label_dev)]
        n_gap = int(round(fill_gaps * fps))
        filled = [fill_tracking_gaps(p, tracked, t_frames_us, n_gap) for p in world]
        back = geometry.invert(T_world_dev_hand)[:, None]
        palm_dev, wrist_dev, label_dev = (geometry.transform_points(back, p) for p, _ in filled)
        tracked = filled[0][1]
    T_rgb_from_hand = geometry.invert(T_world_rgb) @ T_world_dev_hand  # (N, 4, 4)
    palm_rgb = geometry.transform_points(T_rgb_from_hand[:, None], np.nan_to_num(palm_dev))
    wrist_rgb = geometry.transform_points(T_rgb_from_hand[:, None], np.nan_to_num(wrist_dev))
    label_rgb = geometry.transform_points(T_rgb_from_hand[:, None], np.nan_to_num(label_dev))
    label_rgb[~tracked] = np.nan
    try:  # the knots are times: at another frame rate, other frames
        schedule = S.HUMAN_HORIZONS[horizon].at(fps)
    except ValueError as e:
        raise RecordingError(f"{rec.root}: frames at {fps:g} fps: {e}") from None
    res = palm_chunks(T_world_rgb, label_rgb, tracked, fr.K, fr.image_size, schedule,
                      min_future=round(MIN_FUTURE_S * fps))
    if len(res.keep) == 0:
        raise RecordingError(f"{rec.root}: no usable frame (of {len(fr)}: {res.dropped['too_short']} too close to the "
                             f"end, {res.dropped['untracked']} untracked, {res.dropped['out_of_image']} out of image)")
    if masker is None and getattr(fr, "mask_dir", None) is None:
        raise RecordingError(f"{rec.root}: no masks/ folder; give --sam2-checkpoint to mask the hand with SAM2")
    H, W = fr.image_size
    M = len(res.keep)
    attrs = {"recording": str(rec.root), "frame_index": res.keep.tolist(), "n_frames": len(fr), "fill_gaps": fill_gaps,
             "dropped": res.dropped, "hands": list(hands), "hands_file": str(rec.hands_file),
             "T_device_rgb": fr.T_device_rgb.tolist(), "fps": fps, "horizon": horizon,
             "point": point}
    if "seed" in rec.meta:
        attrs["seed"] = int(rec.meta["seed"])
    it = enumerate(res.keep)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=M, desc=rec.name, leave=False, file=sys.stderr)

    T_rgb_device = geometry.invert(fr.T_device_rgb)

    def line_points(t: int, k: int, side: str) -> np.ndarray:
        """Pixels of the red line of hand k at frame t: along the drawn arm where the recording has one."""
        if rec.arm_lines is not None and side in rec.arm_lines:
            return geometry.project(fr.K, geometry.transform_points(T_rgb_device, rec.arm_lines[side][t]))
        return hand_line_points(palm_rgb[t, k], wrist_rgb[t, k], fr.K)

    def frames():
        for m, t in it:
            img = fr.image(int(t))
            per_hand = [line_points(t, k, side) for k, side in enumerate(hands)]
            pts = np.vstack([np.vstack([p, [[np.nan, np.nan]]]) for p in per_hand])[:-1]  # NaN row between hands
            if masker is not None:
                prompts = np.vstack([p[1:] for p in per_hand])  # wrist and palm of each hand
                mk = np.asarray(masker.mask(img, prompts[np.all(np.isfinite(prompts), axis=1)]), bool)
            else:
                mk = fr.mask(int(t))
            if mk.shape != (H, W):
                raise RecordingError(f"{rec.root}: mask of frame {t} has shape {mk.shape}, expected {(H, W)}")
            masked, lined = mask_and_line(img, mk, pts)
            yield m, img, mk, masked, lined

    if begin is not None:
        with begin(attrs) as st:
            for m, img, mk, masked, lined in frames():
                st.append({S.FRONT: img, S.FRONT_MASKED: masked, S.FRONT_LINE: lined, S.FRONT_MASK: mk,
                           S.EE_POSE: res.ee[m]}, {"xyz_act": res.chunks[m]})
            return st.commit()
    imgs = np.zeros((M, H, W, 3), np.uint8)
    masked_all = np.zeros_like(imgs)
    lined_all = np.zeros_like(imgs)
    masks = np.zeros((M, H, W), bool)
    for m, img, mk, masked, lined in frames():
        imgs[m], masks[m], masked_all[m], lined_all[m] = img, mk, masked, lined
    obs = {S.FRONT: imgs, S.FRONT_MASKED: masked_all, S.FRONT_LINE: lined_all, S.FRONT_MASK: masks, S.EE_POSE: res.ee}
    return obs, {"xyz_act": res.chunks}, attrs


def _check_same_labels(out: Path, horizon: str, point: str) -> None:
    """Refuse to append chunks of another time span or label point to a file (demos without the
    attributes are EgoMimic's: 0.9 s of the palm)."""
    if not out.exists():
        return
    import h5py

    with h5py.File(out, "r") as f:
        demos = list(f.get(S.DATA, {}).values())
        held = {"--horizon": ({str(g.attrs.get("horizon", "egomimic")) for g in demos}, horizon),
                "--point": ({str(g.attrs.get("point", "palm")) for g in demos}, point)}
    for flag, (there, wanted) in held.items():
        if there - {wanted}:
            raise UserError(f"{out}: holds demos with {flag} {', '.join(sorted(there))}; appending {flag} {wanted} "
                            f"would mix labels: give another --out")


def _fps(t_ns: np.ndarray) -> float:
    return float(1e9 / np.median(np.diff(t_ns))) if len(t_ns) > 1 else 0.0


def human_calibration(K: np.ndarray, image_size: tuple[int, int], source: str) -> Calibration:
    """Calibration stored in human files: the upright linear Aria camera; no arm bases."""
    return Calibration({CAMERA: np.asarray(K, float)}, {CAMERA: tuple(image_size)}, {}, {}, source=source)


def convert(recordings: list[str | Path], out: str | Path, *, image_size: tuple[int, int] | None = None,
            hands: tuple[str, ...] = ("right",), masks: str = "auto", sam2_checkpoint: str | None = None,
            sam2_config: str | None = None, progress: bool = True, vrs_provider=None,
            env_args: dict | None = None, log=None, masker=None, horizon: str = "egomimic",
            point: str = "palm", fill_gaps: float = 0.0) -> list[str]:
    """Convert recordings into `out` (created or appended). A recording that fails prints
    one line (`log`, default stderr) and the others still convert. Returns demo names.

    hands: as `convert_recording`; the file's `arms` are these hands, in the layout's order.

    masker: an object with `mask(image, points_uv)` used instead of building SAM2 from
    `sam2_checkpoint` (tests pass a fake with SAM2ImagePredictor's interface wrapped in
    `Sam2HandMasker`). vrs_provider: factory path -> data_provider-like object.
    horizon: the chunks' time span, a name of `schema.HUMAN_HORIZONS` (`--horizon`); point: the hand's
    point the chunks follow, a name of `schema.HUMAN_LABEL_POINTS` (`--point`). fill_gaps: seconds of lost
    hand tracking bridged by interpolation (`--fill-gaps`; 0: none, EgoMimic's)."""
    from egogym.data.writer import DemoWriter

    log = log or (lambda s: print(s, file=sys.stderr))
    try:
        hands = Arms.parse(hands).names  # the file's arms and its data's layout, one order (left first)
    except ValueError as e:
        raise UserError(f"--hands: {e}") from None
    if horizon not in S.HUMAN_HORIZONS:
        raise UserError(f"--horizon {horizon!r}: use one of {', '.join(S.HUMAN_HORIZONS)}")
    if point not in S.HUMAN_LABEL_POINTS:
        raise UserError(f"--point {point!r}: use one of {', '.join(S.HUMAN_LABEL_POINTS)}")
    fill_gaps = check_fill_gaps(fill_gaps)
    if masks not in ("auto", "recording", "sam2"):
        raise UserError(f"--masks {masks!r}: use auto, recording or sam2")
    _check_same_labels(Path(out), horizon, point)
    if masker is None and (masks == "sam2" or (masks == "auto" and sam2_checkpoint)):
        from egogym.data.sam2_masks import Sam2HandMasker
        masker = Sam2HandMasker.from_checkpoint(sam2_checkpoint, sam2_config)
    names: list[str] = []
    writer = None
    it = list(recordings)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(it), desc="convert aria", unit="rec", file=sys.stderr)
    for path in it:
        try:
            rec = open_recording(path, image_size, vrs_provider)
            if masks == "recording" and getattr(rec.frames, "mask_dir", None) is None:
                raise RecordingError(f"{rec.root}: --masks recording, but the folder has no masks/")
            if writer is None:
                writer = DemoWriter(out, "human", human_calibration(rec.frames.K, rec.frames.image_size,
                                                                     "aria linear camera (egogym.core.spec)"),
                                    arms=hands, control_hz=30.0, image_size=rec.frames.image_size,
                                    env_args=env_args or {"source": "egogym convert aria"}, embodiment="human")
            names.append(convert_recording(rec, hands, masker, progress=False, begin=writer.begin_demo,
                                           horizon=horizon, point=point, fill_gaps=fill_gaps))
        except UserError as e:
            log(f"egogym convert: skipped {path}: {e}")
        except (OSError, ValueError, KeyError) as e:
            log(f"egogym convert: skipped {path}: {type(e).__name__}: {e}")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if not names:
        raise UserError(f"no recording converted ({len(it)} given); see the lines above")
    return names


# =====================================================================================
# CLI: egogym convert aria ...
# =====================================================================================
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=("aria", "egomimic"), help="aria: recordings; egomimic: EgoMimic HDF5 files (`egogym convert egomimic --help`)")
    parser.add_argument("recordings", nargs="+", type=Path,
                        help="recording folders (frames or .vrs + MPS outputs), or .vrs files")
    parser.add_argument("--out", type=Path, required=True, help="human HDF5 file (created, or appended to)")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="output image size (default: the frames' size; 480 640 for .vrs)")
    parser.add_argument("--hands", choices=tuple(LABELS), default="right",
                        help="which tracked hand(s) give the actions (default right)")
    parser.add_argument("--masks", choices=("auto", "recording", "sam2"), default="auto",
                        help="hand masks: the recording's masks/ folder, or SAM2 (auto: masks/ unless "
                             "--sam2-checkpoint is given)")
    parser.add_argument("--sam2-checkpoint", default=None, help="SAM2 checkpoint (.pt) for --masks sam2; never downloaded")
    parser.add_argument("--sam2-config", default=None, help="SAM2 model config (default: sam2.1 hiera tiny)")
    parser.add_argument("--horizon", choices=tuple(S.HUMAN_HORIZONS), default="egomimic",
                        help="time span of the palm chunks: egomimic (0.9 s, EgoMimic's), robot (3.9 s, the robot "
                             "chunks' span, held at the recording's end as robot chunks are) or robot-exact (the "
                             "robot chunk's own 100 times, whole chunks only; frames at a multiple of 25 fps)")
    parser.add_argument("--point", choices=S.HUMAN_LABEL_POINTS, default="palm",
                        help="the hand's point the chunks follow: palm (the palm centre, EgoMimic's) or grip (the point "
                             "a palm-down grasp holds, from the palm normal: the robot pinch point's counterpart)")
    parser.add_argument("--fill-gaps", type=float, default=0.0, metavar="S",
                        help=FILL_GAPS_HELP)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    hands = Arms.parse(args.hands).names
    if args.image_size is not None:
        try:
            check_image_size(args.image_size, "--image-size")
        except ValueError as e:
            raise UserError(str(e)) from None
    check_output(args.out, args.recordings, suffixes=(".hdf5", ".h5"))
    names = convert(args.recordings, args.out, image_size=tuple(args.image_size) if args.image_size else None,
                    hands=hands, masks=args.masks, sam2_checkpoint=args.sam2_checkpoint,
                    sam2_config=args.sam2_config, progress=not args.no_progress, horizon=args.horizon,
                    point=args.point, fill_gaps=args.fill_gaps)
    print(f"{args.out}: wrote {len(names)} demo(s) from {len(args.recordings)} recording(s)")
    return 0
