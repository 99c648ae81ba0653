"""`egogym split | validate | stats`: the data file's splits, checks and normalization statistics.

    egogym split robot.hdf5 --valid-fraction 0.2 --seed 0
    egogym validate robot.hdf5            # one line per problem, exit code 2 when any
    egogym stats robot.hdf5 --out robot_stats.json
"""
from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np

from egogym.core.bounds import float_flag, seed_flag
from egogym.core.errors import UserError
from egogym.core.outputs import atomic_path, check_output
from egogym.data import schema as S
from egogym.data.journal import JournaledFile, journal_path
from egogym.data.reader import decode_names, demo_action_chunks, open_h5_checked
from egogym.data.schema import DataFormatError
from egogym.data.trainable import demo_frames, split_pair, split_problems, trainability_problems


def add_arguments_for(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="an egogym or EgoMimic HDF5 file")
    if name == "split":
        parser.add_argument("--valid-fraction", type=float_flag("--valid-fraction", 0, 1, lo_open=True, hi_open=True), default=0.2, help="fraction of demos in mask/valid")
        parser.add_argument("--seed", type=seed_flag(), default=0, help="seed of the random demo assignment")
    elif name == "validate":
        parser.add_argument("--deep", action="store_true", help="decode every image frame (slow on big files)")
    elif name == "stats":
        parser.add_argument("--out", type=Path, required=True, help="output JSON file")
        parser.add_argument("--split", default="train", help="the training mask (train or demo_train)")
    else:  # pragma: no cover
        raise ValueError(name)


def run(args: argparse.Namespace) -> int:
    if args.command == "split":
        train, valid = split_file(args.file, args.valid_fraction, args.seed)
        print(f"{args.file}: mask/train and mask/demo_train {len(train)} demos, mask/valid and mask/demo_valid "
              f"{len(valid)} demos ({', '.join(valid)})")
        return 0
    if args.command == "validate":
        problems, summary = validate_file(args.file, deep=args.deep)
        for p in problems:
            print(f"{args.file}: {p}")
        if problems:
            print(f"{args.file}: {len(problems)} problem(s)")
            return 2
        if unsplit_note(args.file):  # valid, but `egogym train` would refuse it until it is split
            print(f"{args.file}: valid ({summary}), not trainable yet: {unsplit_note(args.file)}")
            return 0
        print(f"{args.file}: ok ({summary})")
        return 0
    if args.command == "stats":
        from egogym.data.stats import NormStats

        check_output(args.out, [args.file], suffixes=(".json",))
        stats = NormStats.compute(args.file, split=args.split)
        with atomic_path(args.out) as tmp:
            stats.save(tmp)
        print(f"{args.out}: {stats.domain} statistics of {', '.join(stats.mean)} from {len(stats.demos)} train demos")
        return 0
    raise UserError(f"unknown data command {args.command!r}")


# ---- split -------------------------------------------------------------------------------
def split_file(path: str | Path, valid_fraction: float = 0.2, seed: int = 0,
               egomimic_names: bool = True) -> tuple[list[str], list[str]]:
    """Write disjoint `mask/train` and `mask/valid` (by demo, byte strings as EgoMimic) and
    return them; with egomimic_names also `mask/demo_train` / `mask/demo_valid` (the
    same demos: the names EgoMimic's configs read). Existing masks of those names are
    replaced; other masks are kept."""
    path = Path(path)
    if not 0.0 < valid_fraction < 1.0:
        raise UserError(f"--valid-fraction {valid_fraction}: give a fraction strictly between 0 and 1")
    with open_h5_checked(path) as f:
        S.read_file_info(f, str(path))
        demos = sorted((k for k in f[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key)
    if len(demos) < 2:
        raise UserError(f"{path}: {len(demos)} demo(s); a train/valid split needs at least 2")
    n_valid = min(len(demos) - 1, max(1, int(round(valid_fraction * len(demos)))))
    order = np.random.default_rng(seed).permutation(len(demos))
    valid = sorted((demos[i] for i in order[:n_valid]), key=S.demo_sort_key)
    train = sorted((demos[i] for i in order[n_valid:]), key=S.demo_sort_key)
    jf = JournaledFile(path)
    try:
        with h5py.File(jf, "r+") as f:
            m = f.require_group(S.MASK)
            names = {"train": train, "valid": valid}
            if egomimic_names or "demo_train" in m or "demo_valid" in m:
                names.update(demo_train=train, demo_valid=valid)
            for k, v in names.items():
                if k in m:
                    del m[k]
                m.create_dataset(k, data=np.array([s.encode() for s in v], dtype=f"S{max(map(len, v))}"))
    except BaseException:
        jf.abort()
        raise
    jf.commit()
    return train, valid


# ---- validate ------------------------------------------------------------------------------
def unsplit_note(path: str | Path) -> str | None:
    """For a schema-valid file without train / valid masks: the line saying what `egogym train`
    needs (`egogym split`); None when the file has a mask pair."""
    with open_h5_checked(path) as f:
        if split_pair(f) is not None:
            return None
        return split_problems(f, str(path))[0].removeprefix(f"{path}: ")


def validate_file(path: str | Path, deep: bool = False) -> tuple[list[str], str]:
    """Check a file against the schema; return (problems, summary). Each problem is one
    line naming the key and the fix. The file is opened read-only and never modified."""
    path = Path(path)
    if not path.exists():
        return ["no such file"], ""
    if journal_path(path).exists():
        return [f"an interrupted write left {journal_path(path).name}: open the file with EgoDataset or "
                f"DemoWriter (or resume collect) to roll it back"], ""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        return [f"not a readable HDF5 file ({str(e).splitlines()[0]}); it may be truncated: re-record it"], ""
    problems: list[str] = []
    with f:
        try:
            info = S.read_file_info(f, str(path))
        except DataFormatError as e:
            return [str(e).removeprefix(f"{path}: ")], ""
        demos = sorted((k for k in f[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key)
        others = sorted(k for k in f[S.DATA].keys() if not S.is_demo_name(k))
        for k in others:
            problems.append(f"'{S.DATA}/{k}' is not a demo_N group")
        if not demos:
            problems.append(f"'{S.DATA}' holds no demo_N groups")
        if info.calibration is not None:
            problems += _check_calibration(info)
        total = 0
        for d in demos:
            try:
                total += _check_demo(f[S.DATA][d], d, info, deep, problems)
            except DataFormatError as e:
                problems.append(str(e))
        if info.version is not None and S.ATTR_TOTAL in f[S.DATA].attrs and int(f[S.DATA].attrs[S.ATTR_TOTAL]) != total:
            problems.append(f"data.attrs['{S.ATTR_TOTAL}'] = {int(f[S.DATA].attrs[S.ATTR_TOTAL])} but the demos hold {total} steps")
        problems += _check_masks(f, demos)
        if not problems and split_pair(f) is not None:
            # the schema holds: what training would still refuse (empty or 0-frame splits, NaN or
            # constant keys), by the same check `egogym train` runs (egogym.data.trainable)
            problems += [p.removeprefix(f"{path}: ") for p in trainability_problems(str(path), f)]
    layout = "EgoMimic layout" if info.version is None else f"egogym format v{info.version}"
    return problems, f"{info.domain}, {layout}, {len(demos)} demos, {total} steps"


def _check_calibration(info: S.FileInfo) -> list[str]:
    from egogym.core.spec import Calibration

    try:
        cal = Calibration.from_dict(info.calibration)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return [f"data.attrs['{S.ATTR_CALIBRATION}'] is malformed ({e}); re-record the file"]
    out = []
    if S.FRONT not in cal.intrinsics:
        out.append(f"calibration has no intrinsics of {S.FRONT}")
    elif tuple(cal.image_sizes.get(S.FRONT, ())) != info.image_size:
        out.append(f"calibration intrinsics are for {S.FRONT} at {cal.image_sizes.get(S.FRONT)}, "
                   f"the images are {info.image_size}")
    for k, K in cal.intrinsics.items():
        if np.asarray(K).shape != (3, 3) or not np.all(np.isfinite(K)):
            out.append(f"calibration intrinsics of {k} are not a finite 3x3 matrix")
    for k, T in cal.T_cam_base.items():
        if np.asarray(T).shape != (4, 4) or not np.all(np.isfinite(T)):
            out.append(f"calibration T_cam_base of {k} is not a finite 4x4 transform")
    return out


def _check_demo(g: h5py.Group, d: str, info: S.FileInfo, deep: bool, problems: list[str]) -> int:
    schema = S.SCHEMAS[info.domain]
    where = f"{S.DATA}/{d}"
    if not isinstance(g, h5py.Group) or S.OBS not in g:
        problems.append(f"{where} has no '{S.OBS}' group")
        return 0
    obs = g[S.OBS]
    if S.FRONT not in obs:
        problems.append(f"{where}/{S.OBS}/{S.FRONT} is missing")
        return 0
    try:
        T = demo_frames(g, "", d)
    except DataFormatError as e:  # a 0-frame demo: nothing below can index it
        problems.append(str(e).removeprefix(": "))
        return 0
    if S.ATTR_NUM_SAMPLES not in g.attrs:
        problems.append(f"{where}.attrs lacks '{S.ATTR_NUM_SAMPLES}'")
    elif int(g.attrs[S.ATTR_NUM_SAMPLES]) != T:
        problems.append(f"{where}.attrs['{S.ATTR_NUM_SAMPLES}'] = {int(g.attrs[S.ATTR_NUM_SAMPLES])} but "
                        f"{S.OBS}/{S.FRONT} has {T} steps")
    required = schema.required_obs_for(info.arms)
    if info.version is None and info.domain == "human":
        required = tuple(k for k in required if k != S.FRONT_MASK)  # not in every EgoMimic human file
    for k in required:
        if k not in obs:
            problems.append(f"{where}/{S.OBS}/{k} is missing ({info.domain} files with arms {list(info.arms)} need it)")
    for k in obs.keys():
        spec = S.OBS_KEYS.get(k)
        if spec is None or k not in schema.allowed_obs():
            if info.version is not None:
                problems.append(f"{where}/{S.OBS}/{k} is not part of the {info.domain} schema")
            continue
        ds = obs[k]
        want = (T,) + spec.step_shape(info.image_size, info.arm_set)
        if ds.shape != want:
            problems.append(f"{where}/{S.OBS}/{k} has shape {ds.shape}, expected {want}")
            continue
        if spec.kind == "lowdim":
            if ds.dtype.kind != "f":
                problems.append(f"{where}/{S.OBS}/{k} has dtype {ds.dtype}, expected float64")
            elif not np.all(np.isfinite(ds[()])):
                problems.append(f"{where}/{S.OBS}/{k} holds NaN or inf")
        else:
            if ds.dtype != spec.dtype:
                problems.append(f"{where}/{S.OBS}/{k} has dtype {ds.dtype}, expected {spec.dtype}")
                continue
            try:
                if deep:
                    for t in range(T):
                        ds[t]
                else:
                    ds[0], ds[T - 1]
            except OSError as e:
                problems.append(f"{where}/{S.OBS}/{k} cannot be decoded ({str(e).splitlines()[0]}); "
                                f"`import hdf5plugin` or re-record")
    arms = info.arm_set
    if info.version is not None and info.domain == "robot":
        if S.ACTIONS_STEP not in g:
            problems.append(f"{where}/{S.ACTIONS_STEP} is missing (per-step joint targets)")
        else:
            a = g[S.ACTIONS_STEP]
            if a.shape != (T, arms.joint_width) or a.dtype.kind != "f":
                problems.append(f"{where}/{S.ACTIONS_STEP} has shape {a.shape} dtype {a.dtype}, "
                                f"expected ({T}, {arms.joint_width}) float64")
            elif not np.all(np.isfinite(a[()])):
                problems.append(f"{where}/{S.ACTIONS_STEP} holds NaN or inf")
    if info.version is None or info.prestacked:
        chunk_keys = schema.action_keys
    else:  # egogym robot files cut chunks at load time; human files store them
        chunk_keys = (S.XYZ_ACT,) if info.domain == "human" else ()
    for k in chunk_keys:
        want = (T, S.CHUNK, S.width(k, arms))
        if k not in g:
            problems.append(f"{where}/{k} is missing")
            continue
        if g[k].shape != want or g[k].dtype.kind != "f":
            problems.append(f"{where}/{k} has shape {g[k].shape} dtype {g[k].dtype}, expected {want} float")
            continue
        v = g[k][()]
        if not np.all(np.isfinite(v)):
            problems.append(f"{where}/{k} holds NaN or inf")
            continue
        sub = S.JOINTS_SUB if k == S.JOINTS_ACT else S.XYZ_SUB
        if sub in g and (g[sub].shape != (T, S.SUBSAMPLED, want[2]) or not np.array_equal(g[sub][()], v[:, ::S.SUBSAMPLED])):
            problems.append(f"{where}/{sub} is not every 10th point of {k} (chunk inconsistency)")
        if info.version is not None and info.domain == "robot" and S.ACTIONS_STEP in g and S.EE_POSE in obs:
            cut = demo_action_chunks(g, info, k)
            if cut.shape != v.shape or not np.array_equal(cut, v):
                problems.append(f"{where}/{k} differs from the chunks cut from the per-step data (chunk inconsistency)")
        elif info.domain == "robot" and T > 2:
            bad = _first_bad_stride(v)
            if bad is not None:
                problems.append(f"{where}/{k} does not follow the every-2nd-step schedule (chunk inconsistency at t={bad})")
    if S.STATES in g:
        s = g[S.STATES]
        if s.ndim != 2 or s.shape[0] != T or s.dtype.kind != "f":
            problems.append(f"{where}/{S.STATES} has shape {s.shape} dtype {s.dtype}, expected ({T}, nq + nv) float64")
    return T


def _first_bad_stride(v: np.ndarray) -> int | None:
    """First t where pre-stacked chunk t+2 is not chunk t advanced by one point.

    With chunk[t][k] = x[min(t + 2k, T-1)], chunk[t+2][k] = chunk[t][k+1] for every k,
    clipped tails included; None when the whole demo follows the schedule."""
    ok = np.all(v[2:, :-1] == v[:-2, 1:], axis=tuple(range(1, v.ndim)))
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if len(bad) else None


def _check_masks(f: h5py.File, demos: list[str]) -> list[str]:
    if S.MASK not in f:
        return []
    out, names = [], {}
    for k in f[S.MASK].keys():
        try:
            names[k] = decode_names(f[S.MASK][k][()], "", f"{S.MASK}/{k}")
        except DataFormatError as e:
            out.append(str(e).removeprefix(": "))
            continue
        if not names[k]:
            out.append(f"'{S.MASK}/{k}' is empty: a split with no demo trains or validates nothing; "
                       f"run `egogym split FILE`")
            continue
        missing = [n for n in names[k] if n not in demos]
        if missing:
            out.append(f"'{S.MASK}/{k}' names {missing[0]!r}, which is not a demo in '{S.DATA}'")
        if len(set(names[k])) != len(names[k]):
            out.append(f"'{S.MASK}/{k}' lists a demo twice")
    for a, b in S.SPLIT_PAIRS:
        if a in names and b in names:
            both = sorted(set(names[a]) & set(names[b]), key=S.demo_sort_key)
            if both:
                out.append(f"'{S.MASK}/{a}' and '{S.MASK}/{b}' share {len(both)} demo(s) (first {both[0]}): "
                           f"run `egogym split FILE` to write disjoint splits")
    return out

