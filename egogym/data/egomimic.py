"""`egogym convert egomimic`: EgoMimic's public HDF5 files into egogym's layout, losslessly.

    egogym convert egomimic bowlplace_robot.hdf5 --out robot.hdf5 [--calibration egomimic]
    egogym convert egomimic bowlplace_human.hdf5 --out human.hdf5 --calibration egomimic-aria

What changes (and how each input array is reproduced from the output, `reconstruct`):

- Images are recompressed losslessly (the file's codec, default blosc-lz4, one chunk
  per frame): `obs/<image>` decodes to the same bytes.
- Robot `actions_joints_act` (T, 100, 7k): the per-step commands are recovered as
  chunk[:, 0] and stored as `actions` (T, 7k); the conversion checks that cutting them
  again (t, t+2, ..., t+198, clipped: `schema.prestack`) gives every input chunk bit for
  bit, else it stops with the first step that differs.
- Robot `actions_xyz_act`: cut from `obs/ee_pose` when that reproduces it; otherwise
  (EgoMimic's are the forward kinematics of the commands, not the observed pose) its
  chunk[:, 0] is stored as `actions_xyz_step` (T, 3k) and checked the same way.
- Human `actions_xyz_act` (T, 100, 3k) is stored as it is (each chunk lives in its own
  camera frame). `actions_joints` / `actions_xyz` (T, 10, D) are dropped when they equal
  chunk[:, ::10] (they always do in EgoMimic's files); otherwise kept verbatim.
- Low-dim arrays are stored as float64; another input dtype (float32) is recorded in
  the demo's `egomimic` group attributes and restored exactly on reconstruction.
- Anything else (unknown obs keys, other arrays in a demo) is copied verbatim into
  `data/demo_N/egomimic/<its path>`; the input's `mask/*` and `data.attrs` go verbatim to
  the root group `egomimic` (`egomimic/mask/*`, `egomimic.attrs`). Demo names and demo
  attributes are kept.
- Calibration (`egogym.data.presets`, rescaled to the file's image size) is stored.
- Splits are repaired: when `mask/train` and `mask/valid` (or `demo_train` /
  `demo_valid`) overlap or are missing, disjoint ones are written (`egogym split`'s rule,
  by demo, `--valid-fraction`, `--seed`), under both names; disjoint input splits are kept.

Resumable: each demo is one atomic update (`DemoWriter.begin_demo`), a rerun with the same
input and output skips the demos already there (checking their length) and continues. A
killed conversion leaves every finished demo. Verification (`verify`, on by default)
re-reads every input array and compares it with its reconstruction from the output.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np

from egogym.core.bounds import float_flag, seed_flag
from egogym.core.errors import UserError
from egogym.data import schema as S
from egogym.data.journal import JournaledFile
from egogym.data.presets import resolve_calibration
from egogym.data.reader import decode_names, demo_action_chunks, open_h5_checked
from egogym.data.schema import DataFormatError

BLOCK_STEPS = 64
"""Steps converted (read, recompressed, written) at a time: 64 steps x 4 views at 480x640 = 236 MB."""
SOURCE = "egogym convert egomimic"
ATTR_DTYPES = "dtypes"  # on data/demo_N/egomimic: JSON {input path: dtype} of low-dim arrays not float64
ATTR_DEMO_ATTRS = "demo_attrs"  # JSON list of the input demo's attribute names (kept on the demo)
ATTR_DONE = "complete"  # on the root egomimic group: the masks and data.attrs were written


def _relpaths(g: h5py.Group) -> list[str]:
    out: list[str] = []
    g.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(out)


def _plan_demo(g: h5py.Group, info: S.FileInfo, where: str) -> dict:
    """How one input demo maps into egogym's layout: {"obs": [keys], "xyz_step": bool,
    "drop_sub": [subsample keys reproducible], "foreign": [paths kept verbatim],
    "dtypes": {path: dtype}, "per_step": {hdf5 key: (T, D) float64}}. Raises on chunks
    that per-step arrays cannot reproduce."""
    T = int(g[S.OBS][S.FRONT].shape[0])
    n = int(g.attrs.get(S.ATTR_NUM_SAMPLES, T))
    if n != T:
        raise DataFormatError(f"{where}: num_samples={n} but {S.OBS}/{S.FRONT} has {T} steps; the file is inconsistent")
    schema = S.SCHEMAS[info.domain]
    allowed = set(schema.allowed_obs())
    plan = {"obs": [], "xyz_step": False, "drop_sub": [], "foreign": [], "dtypes": {}, "per_step": {}}
    for k, ds in g[S.OBS].items():
        if not isinstance(ds, h5py.Dataset) or k not in allowed or ds.shape[:1] != (T,):
            plan["foreign"].append(f"{S.OBS}/{k}")
            continue
        spec = S.OBS_KEYS[k]
        if spec.kind == "lowdim":
            if ds.dtype.kind != "f":
                plan["foreign"].append(f"{S.OBS}/{k}")
                continue
            if ds.dtype != np.float64:
                plan["dtypes"][f"{S.OBS}/{k}"] = ds.dtype.str
        elif ds.dtype != spec.dtype:
            plan["foreign"].append(f"{S.OBS}/{k}")
            continue
        plan["obs"].append(k)
    for k in schema.required_obs_for(info.arms):
        if k not in plan["obs"]:
            raise DataFormatError(f"{where}/{S.OBS}/{k} is missing or not {S.OBS_KEYS[k].kind} "
                                  f"{S.OBS_KEYS[k].dtype}; a {info.domain} file needs it")
    for k in schema.action_keys:
        if k not in g:
            raise DataFormatError(f"{where}/{k} is missing (EgoMimic's pre-stacked chunks)")
        if g[k].shape[:2] != (T, S.CHUNK) or g[k].dtype.kind != "f":
            raise DataFormatError(f"{where}/{k} has shape {g[k].shape} dtype {g[k].dtype}; expected ({T}, {S.CHUNK}, D) float")
        if g[k].dtype != np.float64:
            plan["dtypes"][k] = g[k].dtype.str
    chunks = {k: g[k][()] for k in schema.action_keys}
    if info.domain == "robot":
        per = chunks[S.JOINTS_ACT][:, 0].astype(np.float64)
        _check_restack(chunks[S.JOINTS_ACT], per, f"{where}/{S.JOINTS_ACT}", "per-step commands")
        plan["per_step"][S.ACTIONS_STEP] = per
        xyz = chunks[S.XYZ_ACT]
        ee = g[S.OBS][S.EE_POSE][()]
        if not (ee.shape == (xyz.shape[0], xyz.shape[2]) and np.array_equal(S.prestack(ee).astype(xyz.dtype), xyz)):
            per = xyz[:, 0].astype(np.float64)
            _check_restack(xyz, per, f"{where}/{S.XYZ_ACT}", "per-step end-effector targets")
            plan["per_step"][S.XYZ_STEP] = per
            plan["xyz_step"] = True
    for k, sub in ((S.JOINTS_ACT, S.JOINTS_SUB), (S.XYZ_ACT, S.XYZ_SUB)):
        if sub in g:
            if k in chunks and g[sub].dtype == chunks[k].dtype and np.array_equal(g[sub][()], chunks[k][:, ::S.SUBSAMPLED]):
                plan["drop_sub"].append(sub)
            else:
                plan["foreign"].append(sub)
    known = {f"{S.OBS}/{k}" for k in plan["obs"]} | set(schema.action_keys) | set(plan["drop_sub"])
    for rel in _relpaths(g):
        if rel not in known and rel not in plan["foreign"]:
            plan["foreign"].append(rel)
    plan["T"] = T
    return plan


def _check_restack(chunks: np.ndarray, per_step: np.ndarray, where: str, what: str) -> None:
    """Raise unless cutting `per_step` (T, D) again gives `chunks` (T, 100, D) bit for bit."""
    again = S.prestack(per_step).astype(chunks.dtype)
    if again.shape == chunks.shape and np.array_equal(again, chunks):
        return
    t, k = (0, 0)
    if again.shape == chunks.shape:
        t, k = (int(x) for x in np.argwhere(np.any(again != chunks, axis=-1))[0])
    raise DataFormatError(f"{where}: the chunk at t={t} differs at point {k} from the {what} at t, t+2, ..., t+198 "
                          f"(clipped), so it cannot be stored per step; this is not EgoMimic's pre-stacking")


def _input_id(src: Path) -> dict:
    st = src.stat()
    return {"input": src.name, "input_bytes": int(st.st_size)}


def convert_egomimic(src: str | os.PathLike, dst: str | os.PathLike, *, calibration: str | os.PathLike = "egomimic",
                     image_codec: str = S.DEFAULT_IMAGE_CODEC, valid_fraction: float = 0.2, seed: int = 0,
                     progress: bool = True, verify: bool = True, block_steps: int = BLOCK_STEPS,
                     log=None) -> dict:
    """Convert `src` (EgoMimic layout) into `dst` (egogym layout); see the module docstring.

    calibration: a preset (`egogym.data.presets.PRESETS`) or a calibration JSON file.
    Returns a summary: demos, steps, converted (this run), skipped (already there),
    masks (what was written), input_bytes, output_bytes, verified (arrays compared)."""
    from tqdm import tqdm

    from egogym.data.writer import DemoWriter, calibration_at

    log = log or (lambda s: print(s, file=sys.stderr))
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise UserError(f"--out {dst}: the output must be another file than the input")
    with open_h5_checked(src) as fin:
        info = S.read_file_info(fin, str(src))
        if info.version is not None:
            raise UserError(f"{src}: already an egogym file (format version {info.version}); nothing to convert")
        demos = sorted((k for k in fin[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key)
        lengths = {d: int(fin[S.DATA][d][S.OBS][S.FRONT].shape[0]) for d in demos}
    try:
        cal = calibration_at(resolve_calibration(calibration), info.image_size)
    except DataFormatError as e:
        raise UserError(f"--calibration: {e}") from None
    ident = _input_id(src)
    env_args = {"source": SOURCE, **ident, "calibration": str(calibration)}
    if dst.exists():
        with open_h5_checked(dst) as f:
            have = S.read_file_info(f, str(dst))
        if have.version is None or have.env_args.get("source") != SOURCE or any(
                have.env_args.get(k) != v for k, v in ident.items()):
            raise UserError(f"--out {dst} exists and is not a conversion of {src}: choose another --out "
                            f"(or delete it to start over)")
    writer = DemoWriter(dst, info.domain, cal, arms=info.arms, control_hz=info.control_hz, image_size=info.image_size,
                        env_args=env_args, image_codec=image_codec, embodiment=f"egomimic-{info.domain}")
    done = writer.demo_attrs()
    summary = {"demos": len(demos), "steps": sum(lengths.values()), "converted": 0, "skipped": 0}
    for d in demos:
        if d in done and int(done[d].get(S.ATTR_NUM_SAMPLES, -1)) != lengths[d]:
            raise UserError(f"{dst}: {S.DATA}/{d} has {done[d].get(S.ATTR_NUM_SAMPLES)} steps, the input {lengths[d]}; "
                            f"the output is not from this input: delete it and convert again")
    todo = [d for d in demos if d not in done]
    summary["skipped"] = len(demos) - len(todo)
    if summary["skipped"]:
        log(f"{dst}: resuming: {summary['skipped']} demo(s) already converted, {len(todo)} to go")
    bar = tqdm(total=sum(lengths[d] for d in todo), desc=f"convert {src.name}", unit="step", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    with open_h5_checked(src) as fin:
        for d in todo:
            _convert_demo(fin, writer, d, info, f"{src}: {S.DATA}/{d}", block_steps, bar, log)
            summary["converted"] += 1
        bar.close()
        summary["masks"] = _write_root(fin, dst, demos, valid_fraction, seed, log)
    summary["input_bytes"] = src.stat().st_size
    summary["output_bytes"] = dst.stat().st_size
    if verify:
        summary["verified"] = verify_lossless(src, dst, block_steps=block_steps, progress=progress)
    return summary


def _convert_demo(fin: h5py.File, writer, d: str, info: S.FileInfo, where: str, block: int, bar, log) -> None:
    g = fin[S.DATA][d]
    plan = _plan_demo(g, info, where)
    T = plan["T"]
    for rel in plan["foreign"]:
        log(f"{where}/{rel}: not part of egogym's layout; kept verbatim under {S.DATA}/{d}/{S.FOREIGN}/{rel}")
    attrs = {k: _attr(v) for k, v in g.attrs.items() if k != S.ATTR_NUM_SAMPLES}
    low = {k: g[S.OBS][k][()].astype(np.float64) for k in plan["obs"] if S.OBS_KEYS[k].kind == "lowdim"}
    images = [k for k in plan["obs"] if S.OBS_KEYS[k].kind != "lowdim"]
    xyz = g[S.XYZ_ACT] if info.domain == "human" else None
    with writer.begin_demo(attrs, name=d, chunk_steps=block) as st:
        for a in range(0, T, block):
            b = min(T, a + block)
            obs = {k: g[S.OBS][k][a:b] for k in images}
            obs.update({k: v[a:b] for k, v in low.items()})
            acts = ({"joints": plan["per_step"][S.ACTIONS_STEP][a:b]} if info.domain == "robot"
                    else {"xyz_act": xyz[a:b].astype(np.float64)})
            st.extend(obs, acts)
            bar.update(b - a)
        out = st.raw_group()
        if plan["xyz_step"]:
            out.create_dataset(S.XYZ_STEP, data=plan["per_step"][S.XYZ_STEP])
        fg = out.create_group(S.FOREIGN)
        fg.attrs[ATTR_DTYPES] = json.dumps(plan["dtypes"])
        fg.attrs[ATTR_DEMO_ATTRS] = json.dumps(sorted(attrs))
        for rel in plan["foreign"]:
            parent = os.path.dirname(rel)
            dest = fg.require_group(parent) if parent else fg
            fin.copy(g[rel], dest, name=os.path.basename(rel))
        st.commit()


def _attr(v):
    return v.decode() if isinstance(v, bytes) else v


def _write_root(fin: h5py.File, dst: Path, demos: list[str], valid_fraction: float, seed: int, log) -> dict:
    """The input's masks and data.attrs verbatim under /egomimic, and disjoint splits under mask/."""
    from egogym.data.commands import split_file

    masks = {}
    if S.MASK in fin:
        for k, ds in fin[S.MASK].items():
            if isinstance(ds, h5py.Dataset):
                masks[k] = ds[()]
    jf = JournaledFile(dst)
    try:
        with h5py.File(jf, "r+") as f:
            if S.FOREIGN in f:
                del f[S.FOREIGN]
            root = f.create_group(S.FOREIGN)
            for k, v in fin[S.DATA].attrs.items():
                root.attrs[k] = v
            mg = root.create_group(S.MASK)
            for k, v in masks.items():
                mg.create_dataset(k, data=v)
            m = f.require_group(S.MASK)
            for k in list(m):
                del m[k]
            for k, v in masks.items():  # names lists other than the pairs (e.g. train_50%) as they are
                if not any(k in pair for pair in S.SPLIT_PAIRS):
                    m.create_dataset(k, data=v)
            root.attrs[ATTR_DONE] = True
    except BaseException:
        jf.abort()
        raise
    jf.commit()
    # the pairs: keep a disjoint input pair, else repair
    names = {k: decode_names(v, str(dst), f"{S.MASK}/{k}") for k, v in masks.items() if v.ndim == 1}
    good = None
    for a, b in S.SPLIT_PAIRS:
        if a in names and b in names and names[a] and names[b] and not set(names[a]) & set(names[b]) \
                and set(names[a]) | set(names[b]) <= set(demos):
            good = (names[a], names[b])
            break
    if good is None:
        why = ("no mask/train and mask/valid" if "train" not in names or "valid" not in names else
               f"mask/train and mask/valid share {len(set(names['train']) & set(names['valid']))} demo(s)")
        if len(demos) < 2:
            log(f"{dst}: {why}; only {len(demos)} demo, so no split written: train with --splits on another file")
            return {"repaired": False, "why": why}
        train, valid = split_file(dst, valid_fraction, seed)
        log(f"{dst}: {why}: wrote disjoint mask/train ({len(train)}) and mask/valid ({len(valid)}: "
            f"{', '.join(valid)}), also as demo_train / demo_valid")
        return {"repaired": True, "why": why, "train": train, "valid": valid}
    jf = JournaledFile(dst)
    try:
        with h5py.File(jf, "r+") as f:
            m = f[S.MASK]
            for k, v in (("train", good[0]), ("valid", good[1]), ("demo_train", good[0]), ("demo_valid", good[1])):
                m.create_dataset(k, data=np.array([s.encode() for s in v]))
    except BaseException:
        jf.abort()
        raise
    jf.commit()
    return {"repaired": False, "train": good[0], "valid": good[1]}


# ---- reconstruction and verification --------------------------------------------------------
def reconstruct(fout: h5py.File, path: str, start: int = 0, stop: int | None = None) -> np.ndarray:
    """The input array at `path` (e.g. "data/demo_0/actions_joints_act", "mask/train")
    rebuilt from a converted file, steps start..stop-1 for per-step arrays."""
    info = S.read_file_info(fout, fout.filename)
    parts = path.split("/")
    if parts[0] == S.MASK:
        return fout[S.FOREIGN][path][()]
    if parts[0] != S.DATA or len(parts) < 3:
        raise KeyError(path)
    d, rel = parts[1], "/".join(parts[2:])
    g = fout[S.DATA][d]
    fg = g[S.FOREIGN]
    if rel in fg:
        return fg[rel][()]
    dtypes = json.loads(fg.attrs[ATTR_DTYPES])
    if rel.startswith(f"{S.OBS}/"):
        v = g[rel][start:stop]
    elif rel in (S.JOINTS_ACT, S.XYZ_ACT):
        v = demo_action_chunks(g, info, rel, start, stop)
    elif rel in (S.JOINTS_SUB, S.XYZ_SUB):
        full = S.JOINTS_ACT if rel == S.JOINTS_SUB else S.XYZ_ACT
        v = demo_action_chunks(g, info, full, start, stop)[:, ::S.SUBSAMPLED]
        rel_dtype = dtypes.get(full)
        return v.astype(rel_dtype) if rel_dtype else v
    else:
        raise KeyError(path)
    return v.astype(dtypes[rel]) if rel in dtypes else v


def verify_lossless(src: str | os.PathLike, dst: str | os.PathLike, block_steps: int = BLOCK_STEPS,
                    progress: bool = False) -> int:
    """Compare every array (and attribute) of the EgoMimic file `src` with its
    reconstruction from `dst` (`reconstruct`); return the number of arrays compared.
    Raises DataFormatError naming the first array that differs."""
    from tqdm import tqdm

    src, dst = Path(src), Path(dst)
    n = 0
    with open_h5_checked(src) as fin, open_h5_checked(dst) as fout:
        paths: list[str] = []
        fin.visititems(lambda p, o: paths.append(p) if isinstance(o, h5py.Dataset) else None)
        root = fout.get(S.FOREIGN)
        if root is None or not root.attrs.get(ATTR_DONE, False):
            raise DataFormatError(f"{dst}: the conversion did not finish (no '{S.FOREIGN}' group): run it again")
        for k, v in fin[S.DATA].attrs.items():
            if k not in root.attrs or not np.array_equal(np.asarray(root.attrs[k]), np.asarray(v)):
                raise DataFormatError(f"{dst}: data.attrs[{k!r}] of the input is not reproduced")
        for p in tqdm(paths, desc="verify", unit="array", disable=not progress, file=sys.stderr):
            ds = fin[p]
            parts = p.split("/")
            foreign = (parts[0] != S.DATA or len(parts) < 3 or parts[1] not in fout[S.DATA]
                       or "/".join(parts[2:]) in fout[S.DATA][parts[1]].get(S.FOREIGN, {}))
            blocks = [(0, None)] if foreign or ds.ndim == 0 else \
                [(a, min(ds.shape[0], a + block_steps)) for a in range(0, ds.shape[0], block_steps)] or [(0, 0)]
            for a, b in blocks:
                want = ds[()] if b is None else ds[a:b]
                try:
                    got = reconstruct(fout, p) if b is None else reconstruct(fout, p, a, b)
                except KeyError:
                    raise DataFormatError(f"{dst}: input array {p} has no counterpart in the output") from None
                got = np.asarray(got)
                if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
                    raise DataFormatError(f"{dst}: input array {p}" + ("" if b is None else f" (steps {a}..{b - 1})")
                                          + f" is not reproduced (got {got.shape} {got.dtype}, want {want.shape} "
                                            f"{want.dtype})")
            n += 1
        for d in (k for k in fin[S.DATA].keys() if S.is_demo_name(k)):
            gi, go = fin[S.DATA][d], fout[S.DATA][d]
            for k, v in gi.attrs.items():
                if k not in go.attrs or not np.array_equal(np.asarray(_attr(go.attrs[k])), np.asarray(_attr(v))):
                    raise DataFormatError(f"{dst}: {S.DATA}/{d}.attrs[{k!r}] of the input is not reproduced")
    return n


# ---- CLI -------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=("egomimic",), help="egomimic: an EgoMimic-layout HDF5 file")
    parser.add_argument("input", type=Path, help="EgoMimic HDF5 file (robot or human)")
    parser.add_argument("--out", type=Path, required=True, help="egogym HDF5 file (created; a rerun resumes it)")
    parser.add_argument("--calibration", default="egomimic", metavar="PRESET|JSON",
                        help="calibration stored in the output (default egomimic: EgoMimic's published intrinsics "
                             "and ariaJul29 extrinsics; egomimic-aria: intrinsics only; or a JSON file)")
    parser.add_argument("--codec", choices=S.IMAGE_CODECS, default=S.DEFAULT_IMAGE_CODEC, help="image compression (lossless)")
    parser.add_argument("--valid-fraction", type=float_flag("--valid-fraction", 0, 1, lo_open=True, hi_open=True), default=0.2, help="for repaired splits: fraction of demos in valid")
    parser.add_argument("--seed", type=seed_flag(), default=0, help="for repaired splits: seed of the assignment")
    parser.add_argument("--no-verify", action="store_true", help="skip re-reading the input to check the output")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if not args.input.exists():
        raise UserError(f"{args.input}: no such file")
    try:
        s = convert_egomimic(args.input, args.out, calibration=args.calibration, image_codec=args.codec,
                             valid_fraction=args.valid_fraction, seed=args.seed, progress=not args.no_progress,
                             verify=not args.no_verify)
    except DataFormatError as e:
        raise UserError(str(e)) from None
    ratio = s["input_bytes"] / max(s["output_bytes"], 1)
    print(f"{args.out}: {s['demos']} demos, {s['steps']} steps ({s['converted']} converted, {s['skipped']} already there); "
          f"{s['input_bytes'] / 1e6:,.1f} MB -> {s['output_bytes'] / 1e6:,.1f} MB (1/{ratio:.1f})"
          + (f"; lossless: {s['verified']} input arrays reproduced" if "verified" in s else "; not verified"))
    return 0
