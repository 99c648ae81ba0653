"""What `egogym train` needs of a file beyond the schema, checked in one place.

`egogym validate`, `EgoDataset` (which training reads) and `NormStats.compute` (the
training statistics) all ask these functions, so a file that validates is a file that
trains, and a file that does not train is refused with the same one line, naming the demo
and the key, wherever it is opened:

- a demo has at least one frame (`demo_frames`): a 0-frame demo has no sample to index;
- the train and valid masks exist and name demos (`split_problems`);
- no normalised key is NaN / inf (`nonfinite_problem`), and none is constant over the whole
  train split (`constant_problem`): its std would be the floor (1e-4), and the model would see either
  nothing or any real deviation blown up ten thousand times.
"""
from __future__ import annotations

import h5py
import numpy as np

from egogym.data import schema as S
from egogym.data.schema import DataFormatError

TRAIN_SPLITS = (("train", "valid"), ("demo_train", "demo_valid"))
"""Mask pairs `egogym train` reads (`--splits`): egogym's, and EgoMimic's names."""


def demo_frames(g: h5py.Group, path: str, demo: str) -> int:
    """Steps T of the demo group `g` (its Aria image's, else its first obs key's);
    DataFormatError naming the demo when it has none (no obs key, or 0 frames)."""
    obs = g.get(S.OBS)
    if not isinstance(obs, h5py.Group) or not len(obs):
        raise DataFormatError(f"{path}: {S.DATA}/{demo} has no obs keys; re-record the demo or delete it")
    key = S.FRONT if S.FRONT in obs else next(iter(obs))
    T = int(obs[key].shape[0]) if obs[key].shape else 0
    if T == 0:
        raise DataFormatError(f"{path}: {S.DATA}/{demo}/{S.OBS}/{key} has 0 frames: a demo needs at least one step; "
                              f"delete {S.DATA}/{demo} (or re-record it), then rerun `egogym split` on the file")
    return T


def split_pair(f: h5py.File) -> tuple[str, str] | None:
    """The first (train, valid) mask pair of `TRAIN_SPLITS` whose train mask the file has; None if none."""
    for pair in TRAIN_SPLITS:
        if f"{S.MASK}/{pair[0]}" in f:
            return pair
    return None


def split_problems(f: h5py.File, path: str, splits: tuple[str, ...] | None = None) -> list[str]:
    """Why `splits` (default: the file's `split_pair`) cannot be trained and validated on: a missing
    or empty mask; [] when both name demos. One line each, naming the mask and the fix."""
    splits = splits or split_pair(f) or TRAIN_SPLITS[0]
    out = []
    for s in splits:
        key = f"{S.MASK}/{s}"
        if key not in f:
            have = sorted(f[S.MASK].keys()) if S.MASK in f else []
            out.append(f"{path}: no '{key}' split (have: {have or 'no masks'}): `egogym train` needs "
                       f"{' and '.join(repr(x) for x in splits)}; run `egogym split {path}`")
        elif np.asarray(f[key]).size == 0:
            out.append(f"{path}: '{key}' is empty: a split with no demo trains or validates nothing; "
                       f"run `egogym split {path}`")
    return out


def nonfinite_problem(path: str, key: str, values: np.ndarray, where: str) -> str | None:
    """Why `values` of `key` (one demo's) cannot be normalised: NaN / inf anywhere (saying when
    it is nothing else). `where` names the demo. None when every value is finite."""
    v = np.asarray(values, dtype=np.float64)
    if np.all(np.isfinite(v)):
        return None
    what = "only NaN / inf" if not np.any(np.isfinite(v)) else "NaN or inf"
    return f"{path}: {where}: {key} holds {what}; re-record the demo or delete it (see `egogym validate {path}`)"


def constant_problem(path: str, key: str, mean: np.ndarray, std: np.ndarray, split: str) -> str | None:
    """Why `key` with the raw (unfloored) statistics mean / std over the train split breaks
    normalisation: every dimension constant over every step (a frozen or zeroed sensor), so its
    std would be the floor and any real deviation would be blown up ten thousand times. One
    constant dimension (a gripper that never moves) is fine: its std is floored. None when fine."""
    std = np.asarray(std, dtype=np.float64)
    if std.size and np.all(std == 0):
        value = np.unique(np.asarray(mean, dtype=np.float64))
        shown = f"{value[0]:g}" if len(value) == 1 else f"the same {np.asarray(mean).shape} array"
        return (f"{path}: {key} is constant over split {split!r} (every step is {shown}): its normalisation would "
                f"divide by the std floor; check how the file was recorded (a zeroed or frozen sensor?)")
    return None


def check_split(f: h5py.File, path: str, split: str) -> None:
    """DataFormatError (one line) when mask `split` is missing or empty: the readers' check before indexing."""
    problems = split_problems(f, path, (split,))
    if problems:
        raise DataFormatError(problems[0])


def trainability_problems(path: str, f: h5py.File | None = None) -> list[str]:
    """Every reason `egogym train` would refuse the schema-valid file at `path`, one line each
    ([] when it trains): missing or empty masks, 0-frame demos of the splits, and the train
    split's statistics (`NormStats.compute`: NaN, constant keys), computed as training does."""
    from egogym.data.reader import open_h5_checked, read_split
    from egogym.data.stats import NormStats

    own = f is None
    f = open_h5_checked(path) if own else f
    try:
        pair = split_pair(f) or TRAIN_SPLITS[0]
        problems = split_problems(f, path, pair)
        if problems:
            return problems
        for s in pair:
            try:
                for d in read_split(f, path, s):
                    demo_frames(f[S.DATA][d], path, d)
            except DataFormatError as e:
                problems.append(str(e))
        if problems:
            return problems
    finally:
        if own:
            f.close()
    try:
        NormStats.compute(path, pair[0])
    except DataFormatError as e:
        problems.append(str(e))
    return problems
