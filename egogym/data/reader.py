"""EgoDataset: samples from egogym and EgoMimic HDF5 files, as numpy arrays (no torch).

A sample is what training reads at one time step t of one demo:

- the obs keys at t (EgoMimic's names; images (H, W, 3) uint8, `front_img_1_mask`
  (H, W) bool, `joint_positions` (7k,), `ee_pose` (3k,) in metres in the Aria camera
  frame of t);
- `actions_joints_act` (100, 7k) (robot only): commanded joint targets at
  t, t+2, ..., t+198 (50 Hz), clipped at the demo's last step;
- `actions_xyz_act` (100, 3k): future end-effector / palm positions in the camera frame
  of t (robot: cut like the joints from `obs/ee_pose`; human: stored per t);
- `pad_mask` (100,) bool: True where the chunk step is a real step of the demo, False
  for the clipped repeats past its end (human chunks are always whole);
- `demo` (str) and `index` (int, t).

egogym files (with `data.attrs["egogym_format_version"]`) store per-step robot actions
and chunks are cut here; EgoMimic's public files are read as they are (pre-stacked
chunks, byte-string masks, uncompressed images, no calibration). The cut chunks equal
the pre-stacked ones bit for bit (tests/data/test_chunks.py).

The HDF5 file is opened lazily in each process, so the dataset can be handed to
DataLoader workers.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import h5py
import hdf5plugin  # noqa: F401  (registers the blosc filters used by egogym's images)
import numpy as np

from egogym.data import schema as S
from egogym.data.journal import recover
from egogym.data.schema import DataFormatError
from egogym.data.trainable import check_split, demo_frames
from egogym.core.spec import Calibration
from egogym.data.presets import DEFAULT_PRESET, PRESETS, resolve_calibration  # noqa: F401


# Calibration presets for files that carry none live in `egogym.data.presets` (re-exported here).
CALIBRATION_PRESETS = PRESETS
_warned: set[str] = set()


def read_split(f: h5py.File, path: str, split: str) -> list[str]:
    """Demo names of `split` ("all" = every demo_N), checked against the data and the
    other mask of its pair; one-line DataFormatError on a missing or overlapping split."""
    data = f[S.DATA]
    all_demos = sorted((k for k in data.keys() if S.is_demo_name(k)), key=S.demo_sort_key)
    if split == "all":
        return all_demos
    key = f"{S.MASK}/{split}"
    if key not in f:
        have = sorted(f[S.MASK].keys()) if S.MASK in f else []
        raise DataFormatError(f"{path}: no '{key}' split (have: {have or 'no masks'}); "
                              f"run `egogym split {path}` or use split='all'")
    names = decode_names(f[key][()], path, key)
    missing = [n for n in names if n not in data]
    if missing:
        raise DataFormatError(f"{path}: '{key}' names {missing[0]!r}, which is not in '{S.DATA}'; rerun `egogym split {path}`")
    for a, b in S.SPLIT_PAIRS:
        if split in (a, b) and f"{S.MASK}/{a}" in f and f"{S.MASK}/{b}" in f:
            other = decode_names(f[f"{S.MASK}/{b if split == a else a}"][()], path, f"{S.MASK}/{b}")
            both = sorted(set(names) & set(other), key=S.demo_sort_key)
            if both:
                raise DataFormatError(f"{path}: '{S.MASK}/{a}' and '{S.MASK}/{b}' share {len(both)} demo(s) "
                                      f"(first {both[0]}); run `egogym split {path}` to write disjoint splits")
    return sorted(names, key=S.demo_sort_key)


def decode_names(arr, path: str, key: str) -> list[str]:
    arr = np.asarray(arr)
    if arr.ndim != 1 or arr.dtype.kind not in ("S", "O", "U"):
        raise DataFormatError(f"{path}: '{key}' has shape {arr.shape} dtype {arr.dtype}; expected a 1-D array of demo names")
    return [x.decode() if isinstance(x, bytes) else str(x) for x in arr]


class EgoDataset:
    """Random-access samples of one domain's file.

    path: an egogym or EgoMimic HDF5 file.
    split: "train", "valid", "all" (every demo), or another mask name (e.g. "demo_train").
    keys: obs keys to load per sample (default: every obs key the domain stores; pass
      fewer to skip decoding images you do not use).
    calibration: only for files without one (EgoMimic's): a preset name
      (`CALIBRATION_PRESETS`), a calibration JSON path, or a Calibration. Default:
      the "egomimic-aria" preset, announced once with a warning.

    Attributes: domain ("robot" | "human"), calibration, demos (names in this split),
    info (`schema.FileInfo`), lengths (steps per demo).
    """

    def __init__(self, path: str | os.PathLike, split: str = "train", keys: Sequence[str] | None = None,
                 calibration: str | os.PathLike | Calibration | dict | None = None):
        self.path = str(path)
        if not Path(self.path).exists():
            raise DataFormatError(f"{self.path}: no such file")
        if recover(self.path):
            warnings.warn(f"{self.path}: rolled back an interrupted write; the unfinished demo is dropped", stacklevel=2)
        try:
            f = h5py.File(self.path, "r")
        except OSError as e:
            raise DataFormatError(f"{self.path}: not a readable HDF5 file ({e}); it may be truncated: re-record it") from None
        with f:
            self.info = S.read_file_info(f, self.path)
            self.domain = self.info.domain
            self.egomimic_layout = self.info.version is None
            if split != "all":
                check_split(f, self.path, split)  # a missing or empty mask: one line, before any indexing
            self.demos = read_split(f, self.path, split)
            if not self.demos:
                raise DataFormatError(f"{self.path}: split {split!r} holds no demos")
            self.keys = self._choose_keys(f, keys)
            self.lengths, self._lowdim = [], []
            for d in self.demos:
                T, low = self._load_demo_meta(f, d)
                self.lengths.append(T)
                self._lowdim.append(low)
        self.calibration = self._choose_calibration(calibration)
        self.split = split
        lengths = np.asarray(self.lengths, dtype=np.int64)
        self._demo_of = np.repeat(np.arange(len(self.demos)), lengths)
        self._t_of = np.concatenate([np.arange(n) for n in lengths])
        self._h5: h5py.File | None = None
        self._pid: int | None = None

    # ---- setup ----
    def _choose_keys(self, f: h5py.File, keys: Sequence[str] | None) -> tuple[str, ...]:
        obs0 = f[S.DATA][self.demos[0]].get(S.OBS)
        if obs0 is None:
            raise DataFormatError(f"{self.path}: {S.DATA}/{self.demos[0]} has no '{S.OBS}' group")
        schema = S.SCHEMAS[self.domain]
        if keys is None:  # every required key (checked in every demo) and the optional ones demo 0 has
            required = schema.required_obs_for(self.info.arms)
            if self.egomimic_layout and self.domain == "human":
                required = tuple(k for k in required if k != S.FRONT_MASK)  # not in every EgoMimic human file
            return required + tuple(k for k in schema.allowed_obs() if k in obs0 and k not in required)
        keys = tuple(keys)
        for k in keys:
            if k not in S.OBS_KEYS:
                raise DataFormatError(f"keys: {k!r} is not an obs key (have: {', '.join(S.OBS_KEYS)})")
        return keys

    def _load_demo_meta(self, f: h5py.File, demo: str) -> tuple[int, dict[str, np.ndarray]]:
        """Check one demo's keys and shapes; return T and its low-dim arrays (kept in memory)."""
        p = self.path
        g = f[S.DATA][demo]
        if S.OBS not in g:
            raise DataFormatError(f"{p}: {S.DATA}/{demo} has no '{S.OBS}' group")
        obs = g[S.OBS]
        needed = set(self.keys) | ({S.EE_POSE} if not self.egomimic_layout and self.domain == "robot" else set())
        for k in sorted(needed):
            if k not in obs:
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.OBS}/{k} is missing")
        T = demo_frames(g, p, demo)  # refuses a 0-frame demo: it has no sample to index
        if S.ATTR_NUM_SAMPLES in g.attrs and int(g.attrs[S.ATTR_NUM_SAMPLES]) != T:
            raise DataFormatError(f"{p}: {S.DATA}/{demo} says num_samples={int(g.attrs[S.ATTR_NUM_SAMPLES])} "
                                  f"but {S.OBS}/{S.FRONT} has {T} steps")
        h, w = self.info.image_size
        arms = self.info.arm_set
        for k in sorted(needed):
            spec = S.OBS_KEYS.get(k)
            want = (T,) + spec.step_shape((h, w), arms)
            if obs[k].shape != want:
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.OBS}/{k} has shape {obs[k].shape}, expected {want}")
            if spec.kind != "lowdim" and obs[k].dtype != spec.dtype:
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.OBS}/{k} has dtype {obs[k].dtype}, expected {spec.dtype}")
            if spec.kind == "lowdim" and obs[k].dtype.kind != "f":
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.OBS}/{k} has dtype {obs[k].dtype}, expected float")
        low = {k: obs[k][()] for k in needed if S.OBS_KEYS[k].kind == "lowdim"}
        if self.egomimic_layout:
            for k in S.SCHEMAS[self.domain].action_keys:
                want = (T, S.CHUNK, S.width(k, arms))
                if k not in g:
                    raise DataFormatError(f"{p}: {S.DATA}/{demo}/{k} is missing")
                if g[k].shape != want:
                    raise DataFormatError(f"{p}: {S.DATA}/{demo}/{k} has shape {g[k].shape}, expected {want}")
        elif self.domain == "robot":
            if S.ACTIONS_STEP not in g:
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.ACTIONS_STEP} is missing (per-step joint targets)")
            a = g[S.ACTIONS_STEP]
            if a.shape != (T, arms.joint_width) or a.dtype.kind != "f":
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.ACTIONS_STEP} has shape {a.shape} dtype {a.dtype}, "
                                      f"expected ({T}, {arms.joint_width}) float")
            low[S.ACTIONS_STEP] = a[()]
            if S.XYZ_STEP in g:
                x = g[S.XYZ_STEP]
                if x.shape != (T, arms.xyz_width) or x.dtype.kind != "f":
                    raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.XYZ_STEP} has shape {x.shape} dtype {x.dtype}, "
                                          f"expected ({T}, {arms.xyz_width}) float")
                low[S.XYZ_STEP] = x[()]
        else:
            want = (T, S.CHUNK, arms.xyz_width)
            if S.XYZ_ACT not in g:
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.XYZ_ACT} is missing")
            if g[S.XYZ_ACT].shape != want:
                raise DataFormatError(f"{p}: {S.DATA}/{demo}/{S.XYZ_ACT} has shape {g[S.XYZ_ACT].shape}, expected {want}")
        return T, low

    def _choose_calibration(self, arg) -> Calibration:
        if self.info.calibration is not None:
            if arg is not None:
                raise DataFormatError(f"{self.path}: the file carries its own calibration; do not pass calibration=")
            return Calibration.from_dict(self.info.calibration, source=f"{self.path} (data.attrs)")
        if arg is None:
            if self.path not in _warned:
                _warned.add(self.path)
                warnings.warn(f"{self.path}: no calibration in the file (EgoMimic layout); using the "
                              f"'{DEFAULT_PRESET}' preset. Pass calibration= (a preset or a JSON file) to choose.",
                              stacklevel=3)
            arg = DEFAULT_PRESET
        return resolve_calibration(arg)

    # ---- access ----
    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"], state["_pid"] = None, None
        return state

    def __len__(self) -> int:
        return int(len(self._t_of))

    def locate(self, i: int) -> tuple[str, int]:
        """(demo name, t) of sample i."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} outside a dataset of {len(self)}")
        i = i % len(self)
        return self.demos[self._demo_of[i]], int(self._t_of[i])

    def __getitem__(self, i: int) -> dict:
        demo, t = self.locate(int(i))
        di = int(self._demo_of[int(i) % len(self)])
        T = self.lengths[di]
        low = self._lowdim[di]
        g = self._file()[S.DATA][demo]
        out: dict = {}
        for k in self.keys:
            out[k] = low[k][t] if k in low else g[S.OBS][k][t]
        if self.domain == "robot":
            idx, pad = S.chunk_indices(t, T, S.ROBOT_STRIDE)
            if self.egomimic_layout:
                out[S.JOINTS_ACT] = g[S.JOINTS_ACT][t]
                out[S.XYZ_ACT] = g[S.XYZ_ACT][t]
            else:
                out[S.JOINTS_ACT] = low[S.ACTIONS_STEP][idx]
                out[S.XYZ_ACT] = low[S.XYZ_STEP][idx] if S.XYZ_STEP in low else low[S.EE_POSE][idx]
        else:
            out[S.XYZ_ACT] = g[S.XYZ_ACT][t]
            pad = np.ones(S.CHUNK, dtype=bool)
        out[S.PAD_MASK] = pad
        out["demo"] = demo
        out["index"] = t
        return out

    def lowdim(self, demo: str) -> dict[str, np.ndarray]:
        """The low-dim per-step arrays of a demo held in memory (obs and robot per-step actions)."""
        return dict(self._lowdim[self.demos.index(demo)])

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self) -> "EgoDataset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        layout = "EgoMimic" if self.egomimic_layout else f"egogym v{self.info.version}"
        return (f"EgoDataset({self.path!r}, {self.domain}, {layout}, split={self.split!r}: "
                f"{len(self.demos)} demos, {len(self)} samples)")


def open_h5_checked(path: str | os.PathLike) -> h5py.File:
    """h5py.File(path, "r") after rolling back an interrupted write; one-line error if unreadable."""
    path = str(path)
    if not Path(path).exists():
        raise DataFormatError(f"{path}: no such file")
    recover(path)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DataFormatError(f"{path}: not a readable HDF5 file ({e}); it may be truncated: re-record it") from None


def demo_action_chunks(g: h5py.Group, info: S.FileInfo, key: str, start: int = 0,
                       stop: int | None = None) -> np.ndarray:
    """Chunks (stop - start, 100, D) of action key `key` (`actions_joints_act` /
    `actions_xyz_act`) at steps start..stop-1 of one demo group (default: all T), as a
    sample would hold them: cut from per-step arrays in egogym robot files, read as
    stored otherwise."""
    if key not in S.SCHEMAS[info.domain].action_keys:
        raise DataFormatError(f"{key!r} is not an action key of {info.domain} files "
                              f"({', '.join(S.SCHEMAS[info.domain].action_keys)})")
    if info.version is not None and info.domain == "robot":
        per_step = g[S.ACTIONS_STEP][()] if key == S.JOINTS_ACT else robot_xyz_per_step(g)
        T = len(per_step)
        stop = T if stop is None else stop
        idx = np.minimum(np.arange(start, stop)[:, None] + S.ROBOT_STRIDE * np.arange(S.CHUNK)[None], T - 1)
        return per_step[idx]
    return g[key][start:stop]


def robot_xyz_per_step(g: h5py.Group) -> np.ndarray:
    """The per-step end-effector positions the xyz chunks of an egogym robot demo are cut
    from: `actions_xyz_step` when the demo stores it (files converted from EgoMimic, whose
    xyz chunks follow the commanded joints), else `obs/ee_pose`. (T, 3k), m, Aria frame."""
    if S.XYZ_STEP in g:
        return g[S.XYZ_STEP][()]
    return g[S.OBS][S.EE_POSE][()]
