"""Aria Machine Perception Services (MPS) outputs: reading with checks, and writing.

Reading goes through projectaria_tools' own readers (`projectaria_tools.core.mps`).
Those readers do not raise on a missing file or a missing column: they print a message
and return an empty list (REFERENCE §9). Every reader here therefore checks the file
and its header first and raises `MpsError` naming the file and the column.

Writing (used by the simulated human, `egogym.sim.human`) produces the same CSV
formats MPS does, column names as in REFERENCE §9:

- `slam/closed_loop_trajectory.csv`: the device pose in the SLAM world frame,
  T_world_device, at its own rate (MPS: 1 kHz). Timestamps are device capture time
  (`tracking_timestamp_us`, microseconds).
- `hand_tracking/wrist_and_palm_poses.csv`: wrist and palm positions (m) of each hand
  in the *device* frame at the time of the row; confidence -1 means "not tracked".

Units: metres, microseconds for `tracking_timestamp_us`. Quaternions in MPS files are
(qx, qy, qz, qw); arrays returned here are 4x4 matrices, so no quaternion order leaks out.
"""
from __future__ import annotations

import contextlib
import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egogym.core import geometry
from egogym.core.errors import UserError

CLOSED_LOOP_FILE = "closed_loop_trajectory.csv"
WRIST_PALM_FILE = "wrist_and_palm_poses.csv"
HAND_RESULTS_FILE = "hand_tracking_results.csv"

CLOSED_LOOP_COLUMNS = (
    ["graph_uid", "tracking_timestamp_us", "utc_timestamp_ns"]
    + [f"t{a}_world_device" for a in "xyz"]
    + [f"q{a}_world_device" for a in "xyzw"]
    + [f"device_linear_velocity_{a}_device" for a in "xyz"]
    + [f"angular_velocity_{a}_device" for a in "xyz"]
    + [f"gravity_{a}_world" for a in "xyz"]
    + ["quality_score"]
)
"""Columns of MPS `closed_loop_trajectory.csv`, in MPS's order."""

HANDS = ("left", "right")


def _wrist_palm_columns() -> list[str]:
    cols = ["tracking_timestamp_us"]
    for side in HANDS:
        cols.append(f"{side}_tracking_confidence")
        cols += [f"t{a}_{side}_wrist_device" for a in "xyz"]
        cols += [f"t{a}_{side}_palm_device" for a in "xyz"]
    for side in HANDS:
        for part in ("palm", "wrist"):
            cols += [f"n{a}_{side}_{part}_device" for a in "xyz"]
    return cols


WRIST_PALM_COLUMNS = _wrist_palm_columns()
"""Columns of MPS `wrist_and_palm_poses.csv`."""


def _hand_results_columns() -> list[str]:
    cols = ["tracking_timestamp_us"]
    for side in HANDS:
        cols.append(f"{side}_tracking_confidence")
        for i in range(21):
            cols += [f"t{a}_{side}_landmark_{i}_device" for a in "xyz"]
    for side in HANDS:
        cols += [f"t{a}_{side}_device_wrist" for a in "xyz"]
        cols += [f"q{a}_{side}_device_wrist" for a in "xyzw"]
    for side in HANDS:
        for part in ("palm", "wrist"):
            cols += [f"n{a}_{side}_{part}_device" for a in "xyz"]
    return cols


HAND_RESULTS_COLUMNS = _hand_results_columns()
"""Columns of MPS `hand_tracking_results.csv` (21 landmarks per hand)."""

# Landmark indices of MPS hand tracking (projectaria_tools HandLandmark).
LANDMARK_WRIST = 5
LANDMARK_PALM_CENTER = 20


class MpsError(UserError):
    """An MPS output that cannot be used; the message names the file and the column."""


# ---------------------------------------------------------------------------------
# data classes
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trajectory:
    """Closed-loop SLAM trajectory.

    t_us: (N,) int64 device timestamps (microseconds), strictly increasing.
    T_world_device: (N, 4, 4) device poses in the SLAM world frame (m).
    quality: (N,) MPS quality score.
    """

    t_us: np.ndarray
    T_world_device: np.ndarray
    quality: np.ndarray

    def at(self, t_us: np.ndarray) -> np.ndarray:
        """T_world_device at the given timestamps (us), shape (M, 4, 4): translation
        interpolated linearly, rotation by spherical linear interpolation. Timestamps
        outside the trajectory's span raise MpsError (no extrapolation)."""
        t_us = np.asarray(t_us, dtype=np.int64)
        lo, hi = int(self.t_us[0]), int(self.t_us[-1])
        if t_us.size and (t_us.min() < lo or t_us.max() > hi):
            raise MpsError(f"{CLOSED_LOOP_FILE}: frames at {t_us.min()}..{t_us.max()} us fall outside the "
                           f"trajectory's {lo}..{hi} us; re-run MPS SLAM on the whole recording")
        i = np.clip(np.searchsorted(self.t_us, t_us, side="right") - 1, 0, len(self.t_us) - 2)
        t0, t1 = self.t_us[i].astype(float), self.t_us[i + 1].astype(float)
        a = np.where(t1 > t0, (t_us - t0) / np.maximum(t1 - t0, 1e-12), 0.0)
        T0, T1 = self.T_world_device[i], self.T_world_device[i + 1]
        out = np.zeros((len(t_us), 4, 4))
        out[:, 3, 3] = 1.0
        out[:, :3, 3] = (1 - a)[:, None] * T0[:, :3, 3] + a[:, None] * T1[:, :3, 3]
        out[:, :3, :3] = slerp_rotations(T0[:, :3, :3], T1[:, :3, :3], a)
        return out


@dataclass(frozen=True)
class HandTrack:
    """One hand's tracked wrist and palm positions.

    t_us: (N,) int64 device timestamps (microseconds).
    tracked: (N,) bool; False where MPS reported no hand (confidence -1 / None).
    palm_device, wrist_device: (N, 3) positions (m) in the device frame at t_us; NaN
      where not tracked.
    confidence: (N,) float, -1 where not tracked.
    palm_normal_device: (N, 3) unit normal out of the palm (device frame); NaN where not
      tracked or where the file has no normals (MPS writes them from version 2 of hand tracking).
    """

    t_us: np.ndarray
    tracked: np.ndarray
    palm_device: np.ndarray
    wrist_device: np.ndarray
    confidence: np.ndarray
    palm_normal_device: np.ndarray


# ---------------------------------------------------------------------------------
# rotations
# ---------------------------------------------------------------------------------
def slerp_rotations(R0: np.ndarray, R1: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Spherical interpolation between rotation stacks R0, R1 (N, 3, 3) at fractions a (N,)."""
    q0 = np.array([geometry.mat_to_quat(R) for R in R0])
    q1 = np.array([geometry.mat_to_quat(R) for R in R1])
    dot = np.sum(q0 * q1, axis=1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot).clip(-1.0, 1.0)
    theta = np.arccos(dot)
    small = theta < 1e-6
    s = np.sin(theta)
    w0 = np.where(small, 1 - a, np.sin((1 - a) * theta) / np.where(small, 1.0, s))
    w1 = np.where(small, a, np.sin(a * theta) / np.where(small, 1.0, s))
    q = w0[:, None] * q0 + w1[:, None] * q1
    return geometry.quat_to_mat(q)


# ---------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------
def csv_lines(path: Path, error: type[Exception]) -> list[str]:
    """The lines of the CSV file `path` as text (UTF-8). A byte that is not UTF-8 raises `error`
    naming the file, the row (1 = the header) and the column (1-based character in the row),
    not Python's UnicodeDecodeError with a position in the whole file."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        row = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise error(f"{path}: row {row}, column {col}: byte 0x{data[e.start]:02x} is not UTF-8 text; the file is "
                    f"damaged or not a CSV: re-export it") from None


def _check_header(path: Path, required: list[str], what: str) -> None:
    """Raise MpsError unless `path` exists, is UTF-8 text and its header has every `required` column."""
    if not path.is_file():
        raise MpsError(f"{path}: no such file; expected the MPS {what} output there")
    header = next(csv.reader(csv_lines(path, MpsError)), None)  # every row decoded: the C++ reader gets text
    if not header:
        raise MpsError(f"{path}: empty file; expected a CSV header with {required[0]!r}, ...")
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise MpsError(f"{path}: column {missing[0]!r}{more} missing; this is not an MPS {what} file "
                       f"(re-export it with MPS, columns as in docs/HUMAN_DATA.md)")


def _count_rows(path: Path) -> int:
    return max(0, sum(1 for line in csv_lines(path, MpsError) if line.strip()) - 1)


@contextlib.contextmanager
def _vendor_read(path: Path):
    """projectaria_tools' readers raise RuntimeError / ValueError with their own words and no
    file name: name the file (its rows are checked one by one after the read)."""
    try:
        yield
    except (RuntimeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise MpsError(f"{path}: projectaria_tools could not read it ({first}); re-export it with MPS") from None


@contextlib.contextmanager
def _quiet_stdout():
    """Silence the C++ readers' "Loaded #... records" lines (written to fd 1); our own
    checks report every problem, so nothing is lost."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _import_mps():
    try:
        from projectaria_tools.core import mps
    except ImportError as e:  # the optional extra is not installed
        raise UserError(f"reading Aria MPS outputs needs projectaria_tools ({e.name}): "
                        "pip install -e '.[aria]'") from e
    return mps


# ---------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------
def read_closed_loop(path: str | Path) -> Trajectory:
    """Read `closed_loop_trajectory.csv` with projectaria_tools and check it.

    Raises MpsError naming the file (and column) when the file is missing, lacks a
    column, has fewer than 2 rows, or has timestamps that do not increase."""
    path = Path(path)
    required = ["tracking_timestamp_us"] + [f"t{a}_world_device" for a in "xyz"] + \
        [f"q{a}_world_device" for a in "xyzw"]
    _check_header(path, required, "SLAM closed-loop trajectory")
    mps = _import_mps()
    with _vendor_read(path), _quiet_stdout():
        poses = mps.read_closed_loop_trajectory(str(path))
    n_rows = _count_rows(path)
    if len(poses) != n_rows or len(poses) < 2:
        raise MpsError(f"{path}: projectaria_tools read {len(poses)} of {n_rows} rows; "
                       "a trajectory needs at least 2 well-formed rows")
    t_us = np.array([_t_us(p.tracking_timestamp) for p in poses], dtype=np.int64)
    check_increasing(path, "tracking_timestamp_us", t_us, MpsError)
    T = np.stack([np.asarray(p.transform_world_device.to_matrix(), dtype=float).reshape(4, 4) for p in poses])
    q = np.array([float(p.quality_score) for p in poses])
    return Trajectory(t_us, T, q)


def _hand_tracks(path: Path, rows: list, palm_wrist) -> dict[str, "HandTrack"]:
    """Per-hand arrays from projectaria_tools' hand-tracking rows, after checking that it
    read every row of `path` (its readers skip bad rows silently). palm_wrist(hand) ->
    (palm, wrist) positions in the device frame (m); the palm normal is read from the row's
    `wrist_and_palm_normal_device` (absent: NaN)."""
    n_rows = _count_rows(path)
    if len(rows) != n_rows or not rows:
        raise MpsError(f"{path}: projectaria_tools read {len(rows)} of {n_rows} rows; check the rows' values")
    t = np.array([_t_us(r.tracking_timestamp) for r in rows], dtype=np.int64)
    check_increasing(path, "tracking_timestamp_us", t, MpsError)
    out = {}
    for side in HANDS:
        n = len(rows)
        tracked, conf = np.zeros(n, bool), np.full(n, -1.0)
        palm, wrist, normal = (np.full((n, 3), np.nan) for _ in range(3))
        for i, r in enumerate(rows):
            h = getattr(r, f"{side}_hand")
            if h is None or h.confidence < 0:
                continue
            tracked[i], conf[i] = True, float(h.confidence)
            palm[i], wrist[i] = (np.asarray(v, float) for v in palm_wrist(h))
            normals = h.wrist_and_palm_normal_device
            if normals is not None:
                normal[i] = np.asarray(normals.palm_normal_device, float)
        out[side] = HandTrack(t, tracked, palm, wrist, conf, normal)
    return out


def check_increasing(path: Path, column: str, t: np.ndarray, error: type[Exception]) -> None:
    """Refuse timestamps that repeat or go backwards, naming the file, the row (1 = the first
    data row) and the column: matching frames to poses by time would silently pair the
    wrong ones."""
    bad = np.flatnonzero(np.diff(np.asarray(t)) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        what = "repeats a value" if t[i] == t[i - 1] else "goes backwards"
        raise error(f"{path}: column {column!r} does not increase ({what}) at row {i + 1} ({t[i - 1]} then {t[i]}); timestamps must "
                    f"strictly increase: re-export the recording")


def _t_us(td) -> int:
    return (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds


def read_wrist_and_palm(path: str | Path) -> dict[str, HandTrack]:
    """Read `wrist_and_palm_poses.csv` with projectaria_tools and check it.

    Returns {"left": HandTrack, "right": HandTrack}."""
    path = Path(path)
    required = ["tracking_timestamp_us"] + [
        c for side in HANDS for c in [f"{side}_tracking_confidence"]
        + [f"t{a}_{side}_wrist_device" for a in "xyz"] + [f"t{a}_{side}_palm_device" for a in "xyz"]]
    _check_header(path, required, "hand tracking (wrist and palm)")
    mps = _import_mps()
    import warnings
    with _vendor_read(path), warnings.catch_warnings(), _quiet_stdout():
        warnings.simplefilter("ignore")  # MPS deprecates this file (a UserWarning); we still read it
        rows = mps.hand_tracking.read_wrist_and_palm_poses(str(path))
    return _hand_tracks(path, rows, lambda h: (h.palm_position_device, h.wrist_position_device))


def read_hand_tracking_results(path: str | Path) -> dict[str, HandTrack]:
    """Read `hand_tracking_results.csv` (21 landmarks per hand) and check it; the palm
    is landmark PALM_CENTER (20), the wrist landmark WRIST (5)."""
    path = Path(path)
    required = ["tracking_timestamp_us"] + [
        c for side in HANDS for c in [f"{side}_tracking_confidence"]
        + [f"t{a}_{side}_landmark_{i}_device" for i in range(21) for a in "xyz"]]
    _check_header(path, required, "hand tracking results")
    mps = _import_mps()
    with _vendor_read(path), _quiet_stdout():
        rows = mps.hand_tracking.read_hand_tracking_results(str(path))
    def palm_wrist(h):
        lm = np.asarray(h.landmark_positions_device, float).reshape(-1, 3)
        return lm[LANDMARK_PALM_CENTER], lm[LANDMARK_WRIST]

    return _hand_tracks(path, rows, palm_wrist)


def find_mps_file(root: Path, name: str) -> Path | None:
    """Find an MPS output `name` under a recording folder: `root/name`, `root/mps/*/name`,
    `root/*/name` or deeper (MPS's own layout is `mps_<rec>_vrs/slam/<name>`)."""
    direct = root / name
    if direct.is_file():
        return direct
    hits = sorted(root.rglob(name))
    return hits[0] if hits else None


def read_hands(root: Path) -> tuple[dict[str, HandTrack], Path]:
    """Hand tracking of a recording: `hand_tracking_results.csv` if present, else
    `wrist_and_palm_poses.csv`. Returns (tracks, the file read)."""
    p = find_mps_file(root, HAND_RESULTS_FILE)
    if p is not None:
        return read_hand_tracking_results(p), p
    p = find_mps_file(root, WRIST_PALM_FILE)
    if p is None:
        raise MpsError(f"{root}: no {WRIST_PALM_FILE} or {HAND_RESULTS_FILE} found; run MPS hand tracking "
                       "and put its output folder inside the recording folder")
    return read_wrist_and_palm(p), p


# ---------------------------------------------------------------------------------
# writers (the simulated human writes real MPS formats)
# ---------------------------------------------------------------------------------
def _write_csv(path: Path, columns: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)


def _fmt(x: float) -> str:
    return f"{x:.9f}"


def write_closed_loop(path: str | Path, t_us: np.ndarray, T_world_device: np.ndarray,
                      utc_offset_ns: int = 1_700_000_000_000_000_000, graph_uid: str = "egogym-sim") -> None:
    """Write `closed_loop_trajectory.csv`.

    t_us: (N,) int device timestamps (us); T_world_device: (N, 4, 4) (m). Velocities
    are finite differences (device frame), gravity is -9.81 along world z, quality 1."""
    t_us = np.asarray(t_us, dtype=np.int64)
    T = np.asarray(T_world_device, float)
    dt = np.gradient(t_us.astype(float) * 1e-6)
    v_world = np.gradient(T[:, :3, 3], axis=0) / dt[:, None]
    v_dev = np.einsum("nji,nj->ni", T[:, :3, :3], v_world)  # R^T v
    # angular velocity from R^T dR/dt (skew part), in the device frame
    dR = np.gradient(T[:, :3, :3], axis=0) / dt[:, None, None]
    W = np.einsum("nji,njk->nik", T[:, :3, :3], dR)
    w_dev = np.stack([W[:, 2, 1] - W[:, 1, 2], W[:, 0, 2] - W[:, 2, 0], W[:, 1, 0] - W[:, 0, 1]], axis=1) / 2
    rows = []
    for i in range(len(t_us)):
        qw, qx, qy, qz = geometry.mat_to_quat(T[i, :3, :3])
        rows.append([graph_uid, int(t_us[i]), int(utc_offset_ns + t_us[i] * 1000)]
                    + [_fmt(x) for x in T[i, :3, 3]] + [_fmt(x) for x in (qx, qy, qz, qw)]
                    + [_fmt(x) for x in v_dev[i]] + [_fmt(x) for x in w_dev[i]]
                    + [_fmt(0.0), _fmt(0.0), _fmt(-9.81), _fmt(1.0)])
    _write_csv(Path(path), CLOSED_LOOP_COLUMNS, rows)


def write_wrist_and_palm(path: str | Path, t_us: np.ndarray, hands: dict[str, dict[str, np.ndarray]]) -> None:
    """Write `wrist_and_palm_poses.csv`.

    t_us: (N,) int device timestamps (us). hands[side] (side in "left", "right"; a
    missing side is written untracked) holds "palm", "wrist" (N, 3) positions in the
    device frame (m), "palm_normal", "wrist_normal" (N, 3) unit vectors (device frame)
    and "confidence" (N,) with -1 where the hand is not tracked."""
    n = len(t_us)
    rows = []
    nan3 = np.zeros(3)
    for i in range(n):
        row: list = [int(t_us[i])]
        normals: list = []
        for side in HANDS:
            h = hands.get(side)
            conf = -1.0 if h is None else float(h["confidence"][i])
            ok = conf >= 0
            wrist = h["wrist"][i] if ok else nan3
            palm = h["palm"][i] if ok else nan3
            row += [_fmt(conf)] + [_fmt(x) for x in wrist] + [_fmt(x) for x in palm]
            pn = h["palm_normal"][i] if ok else nan3
            wn = h["wrist_normal"][i] if ok else nan3
            normals += [_fmt(x) for x in pn] + [_fmt(x) for x in wn]
        rows.append(row + normals)
    _write_csv(Path(path), WRIST_PALM_COLUMNS, rows)
