"""`egogym export lerobot` / `egogym import lerobot`: LeRobotDataset v3.0 folders, through LeRobot's library.

    egogym export lerobot robot.hdf5 --out robot_lerobot [--lossless] [--task TEXT]
    egogym import lerobot robot_lerobot --out robot.hdf5
    egogym import lerobot aloha_dataset --out aloha.hdf5 --copy-front-views [--map F=KEY] [--drop F]

LeRobot's dataset library (`lerobot-dataset` 0.4.4, import name `ledataset`) does the LeRobot side:
`LeRobotDataset.create` / `add_frame` / `save_episode` / `finalize` write the folder (parquet,
meta/info.json, stats, tasks, h264 videos through PyAV), `LeRobotDataset(repo_id, root=DIR)` reads it
(features, episodes, the parquet table). It needs torch 2.14.1 + torchvision, so it lives in
`.venv-sam2` (`bash .ci/setup.sh --tests`); `.venv/bin/egogym` says so in one line.

Written here because the library does not do it:
- decoding the videos (`_decode_episode_video`, with PyAV, the library's own dependency): the
  library's decoders are torchcodec (not installed: it needs the system's FFmpeg libraries) and
  `torchvision.io.VideoReader`, which torchvision 0.29 no longer has;
- reading the parquet columns as numpy (`_column`): `datasets`' numpy formatter imports the same
  missing VideoReader;
- the egogym metadata, in `meta/egogym.json` (a side file, not extra keys in meta/info.json:
  info.json is the library's own file, rewritten from its memory at every `save_episode`, and its
  schema is LeRobot's): the file's `data.attrs` (calibration: intrinsics (px) at the image size and
  extrinsics T_cam_base (Aria camera <- arm base, m), as `Calibration.to_dict()`), every demo's name
  and attributes, the split masks, the feature -> egogym key table and the dtypes;
- writing to a temporary name next to the output and renaming it when complete, as every egogym
  output (`egogym.core.outputs`): a killed export or import leaves `.NAME.tmpPID`, never a
  complete-looking NAME.

Features of an exported dataset (T steps of one demo = one episode; fps = the file's control rate):
- `observation.images.<key>` per image key of the file, (H, W, 3) uint8: h264 video (yuv420p,
  LeRobot's defaults: crf 30, GOP 2; lossy), or with `--lossless` PNG images in the parquet files;
- `observation.masks.<key>`: `front_img_1_mask` (H, W) bool (parquet, lossless);
- robot: `observation.state` = `obs/joint_positions` (7 per arm: 6 joints (rad), gripper [0, 1]),
  `action` = `actions` (the commanded joint targets, same layout); human: `action` = the palm
  positions at t (m, camera frame of t, 3 per hand) = `actions_xyz_act[:, 0]`, and
  `action.xyz_chunk` = the whole chunk (100, 3k) (each in the frame of its own t, so LeRobot's
  delta_timestamps cannot cut it from `action`);
- `observation.ee_pose` = `obs/ee_pose` (m, Aria camera frame of t, 3 per arm);
- `observation.sim_state` = `states` (sim qpos + qvel) and `action.ee_xyz` = `actions_xyz_step`
  (m, Aria frame), when the demos have them;
- `domain` (int64, (1,)): 0 robot, 1 human (`schema.DOMAINS`), the embodiment flag for mixing
  datasets. The task string of each episode is `--task`, else the file's `env_args["task"]`.
Low-dim features are float32 (LeRobot's convention; the round trip gives the float32 values
exactly), float64 with `--lossless` (bit for bit).

Importing a dataset this exporter wrote restores the file (every array: images within the video
codec's loss, or exactly after `--lossless`). Another dataset (e.g. ALOHA's layout) is mapped by
`FOREIGN_MAP` (docs/ECOSYSTEM.md); each feature must map, be dropped (`--drop`) or be mapped by hand
(`--map FEATURE=KEY`), else one line names it. Missing `ee_pose` is computed as the real robot does
(forward kinematics of the joints through the calibration's T_cam_base, `--calibration`);
missing `front_img_1_masked` / `_line` are copies of `front_img_1` only with `--copy-front-views`
(recorded in env_args["derived"]).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np

from egogym.core.arms import Arms
from egogym.core.errors import UserError
from egogym.core.outputs import atomic_path, check_output
from egogym.data import schema as S
from egogym.data.reader import open_h5_checked
from egogym.data.schema import DataFormatError
from egogym.data.writer import plain_value

# ---- LeRobot's names (its conventions: observation.state, action, observation.images.*) -------------
LIBRARY = "ledataset"  # import name of the lerobot-dataset package
LIBRARY_PIN = "lerobot-dataset==0.4.4"
CODEBASE_VERSION = "v3.0"  # the LeRobotDataset format version written and read
INFO_JSON = "meta/info.json"  # the library's file
SIDE_JSON = "meta/egogym.json"  # ours
TASKS_PARQUET, EPISODES_DIR, DATA_DIR = "meta/tasks.parquet", "meta/episodes", "data"  # the library's
IMAGES = "observation.images."
MASKS = "observation.masks."
STATE = "observation.state"
ACTION = "action"
EE_POSE = "observation.ee_pose"
SIM_STATE = "observation.sim_state"
EE_XYZ = "action.ee_xyz"
XYZ_CHUNK = "action.xyz_chunk"
DOMAIN = "domain"
TASK = "task"  # the per-frame task string `add_frame` requires
LIBRARY_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")
VCODEC = "h264"
VIDEO_BACKEND = "pyav"  # named so that the library does not look for torchcodec; its decoders are not used
SOURCE_EXPORT = "egogym export lerobot"
SOURCE_IMPORT = "egogym import lerobot"
SIDE_VERSION = 1

FOREIGN_MAP = {
    STATE: S.JOINT_POSITIONS, ACTION: S.ACTIONS_STEP, EE_POSE: S.EE_POSE,
    "observation.images.cam_high": S.FRONT, "observation.images.top": S.FRONT,
    "observation.images.cam_left_wrist": S.LEFT_WRIST,
    "observation.images.cam_right_wrist": S.RIGHT_WRIST,
    **{IMAGES + k: k for k in (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE, S.LEFT_WRIST, S.RIGHT_WRIST)},
}
"""Features of a dataset that egogym did not write -> egogym robot keys (ALOHA's camera names: real
ALOHA's cam_high and wrist cameras, ALOHA sim's top; and egogym's own). Values are copied as they
are (ALOHA's joint layout is egogym's: per arm 6 joints (rad) + gripper, left then right; its
gripper scale is ALOHA's)."""
MAPPABLE = (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE, S.LEFT_WRIST, S.RIGHT_WRIST, S.JOINT_POSITIONS, S.EE_POSE,
            S.ACTIONS_STEP)
BLOCK_STEPS = 64
"""Steps read and written at a time (images: 64 frames per key in memory)."""


def _library(progress: bool):
    """LeRobotDataset, or one line naming the fix. Quiets what the library and FFmpeg print
    (FFmpeg's encoder reports, `datasets`' progress bars unless `progress`)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: never wait on the Hub
    try:
        from ledataset.datasets.lerobot_dataset import LeRobotDataset

        import av
        import datasets
    except ImportError as e:
        raise UserError(f"LeRobot datasets need LeRobot's dataset library ({LIBRARY_PIN}, with torch 2.14.1 + "
                        f"torchvision; missing here: {e.name or e}): run it with .venv-sam2/bin/egogym, made by "
                        f"`bash .ci/setup.sh --tests`") from None
    av.logging.set_libav_level(av.logging.ERROR)  # FFmpeg's own printing (the library restores its callback)
    if not progress:
        datasets.disable_progress_bars()
    return LeRobotDataset


def _names(info: S.FileInfo, key: str) -> list[str] | None:
    from egogym.core.spec import EGOMIMIC

    if key in (S.JOINT_POSITIONS, S.ACTIONS_STEP):
        return [f"{a}_{j}" for a in info.arms for j in EGOMIMIC.arm(a).joint_names + ("gripper",)]
    if key in (S.EE_POSE, S.XYZ_STEP):
        return [f"{a}_{c}" for a in info.arms for c in "xyz"]
    return None


# ---- export ------------------------------------------------------------------------------------------
def _plan_export(f: h5py.File, info: S.FileInfo, path: str, demos: list[str], lossless: bool) -> dict:
    """{feature: (egogym path in a demo, LeRobot feature dict)} shared by every demo; raises on a demo
    whose arrays differ from the first's (a LeRobot dataset has one set of features) or hold
    something this export has no place for."""
    h, w = info.image_size
    fdt = "float64" if lossless else "float32"
    g0 = f[S.DATA][demos[0]]
    plan: dict[str, tuple[str, dict]] = {}
    for k in g0[S.OBS]:
        spec = S.OBS_KEYS.get(k)
        if spec is None:
            raise UserError(f"{path}: {S.DATA}/{demos[0]}/{S.OBS}/{k} is not an egogym key; a LeRobot dataset "
                            f"would lose it: remove it or export another file")
        if spec.kind == "image":
            plan[IMAGES + k] = (f"{S.OBS}/{k}", {"dtype": "image" if lossless else "video", "shape": (h, w, 3),
                                                 "names": ["height", "width", "channels"]})
        elif spec.kind == "mask":
            plan[MASKS + k] = (f"{S.OBS}/{k}", {"dtype": "bool", "shape": (h, w), "names": ["height", "width"]})
    nj, nx = info.arm_set.joint_width, info.arm_set.xyz_width
    if S.JOINT_POSITIONS in g0[S.OBS]:
        plan[STATE] = (f"{S.OBS}/{S.JOINT_POSITIONS}", {"dtype": fdt, "shape": (nj,),
                                                        "names": _names(info, S.JOINT_POSITIONS)})
    plan[EE_POSE] = (f"{S.OBS}/{S.EE_POSE}", {"dtype": fdt, "shape": (nx,), "names": _names(info, S.EE_POSE)})
    if info.domain == "robot":
        plan[ACTION] = (S.ACTIONS_STEP, {"dtype": fdt, "shape": (nj,), "names": _names(info, S.ACTIONS_STEP)})
        if S.XYZ_STEP in g0:
            plan[EE_XYZ] = (S.XYZ_STEP, {"dtype": fdt, "shape": (nx,), "names": _names(info, S.XYZ_STEP)})
    else:
        plan[ACTION] = (f"{S.XYZ_ACT}[:, 0]", {"dtype": fdt, "shape": (nx,), "names": _names(info, S.EE_POSE)})
        plan[XYZ_CHUNK] = (S.XYZ_ACT, {"dtype": fdt, "shape": (S.CHUNK, nx), "names": None})
    if S.STATES in g0:
        plan[SIM_STATE] = (S.STATES, {"dtype": fdt, "shape": (int(g0[S.STATES].shape[1]),), "names": None})
    plan[DOMAIN] = ("", {"dtype": "int64", "shape": (1,), "names": None})
    # Arrays that are derived (EgoMimic's pre-stacked keys, rebuilt from the file's `prestacked`) or mapped.
    mapped = {p.split("[")[0] for p, _ in plan.values() if p}
    for d in demos:
        g = f[S.DATA][d]
        for rel in mapped:
            if rel not in g:
                raise UserError(f"{path}: {S.DATA}/{d} lacks {rel}, which {S.DATA}/{demos[0]} has; a LeRobot "
                                f"dataset has one set of features: split the file (`egogym split`) or re-record")
    return plan


EXTRA_MAX_BYTES = 1 << 20
"""Largest array kept in meta/egogym.json (as JSON) when no feature holds it."""


def _extras(f: h5py.File, info: S.FileInfo, plan: dict, path: str) -> dict:
    """What the features and the episode attributes do not hold, for meta/egogym.json: {HDF5 path:
    {"attrs": {...}} (groups) or {"dtype", "shape", "data", "attrs"} (arrays up to EXTRA_MAX_BYTES)},
    e.g. what `egogym convert egomimic` keeps verbatim under `egomimic/`. Rebuilt arrays (EgoMimic's
    pre-stacked keys, made again from the file's `prestacked`) are left out; a larger array stops
    the export with one line (a LeRobot dataset would lose it)."""
    mapped = {p.split("[")[0] for p, _ in plan.values() if p}
    rebuilt = {S.JOINTS_SUB, S.XYZ_SUB} | ({S.JOINTS_ACT, S.XYZ_ACT} if info.domain == "robot" else set())
    out: dict[str, dict] = {}

    def visit(name: str, o) -> None:
        parts = name.split("/")
        if parts[0] == S.MASK or name == S.DATA:
            return
        in_demo = parts[0] == S.DATA and len(parts) >= 2 and S.is_demo_name(parts[1])
        rel = "/".join(parts[2:]) if in_demo else None
        if isinstance(o, h5py.Group):
            if in_demo and rel in ("", S.OBS):
                return  # the demo's attributes travel with its episode; obs has none
            if o.attrs:
                out[name] = {"attrs": {k: plain_value(v) for k, v in o.attrs.items()}}
            return
        if in_demo and (rel in mapped or rel in rebuilt):
            return
        if o.nbytes > EXTRA_MAX_BYTES or o.dtype.kind not in "biufSO":
            raise UserError(f"{path}: {name} ({o.shape} {o.dtype}) has no place in a LeRobot dataset (no feature "
                            f"holds it and it is too large for {SIDE_JSON}): remove it or keep the HDF5 file")
        v = o[()]
        out[name] = {"dtype": o.dtype.str if o.dtype.kind != "O" else "O", "shape": list(o.shape),
                     "data": [plain_value(x) for x in np.asarray(v).ravel().tolist()],
                     "attrs": {k: plain_value(a) for k, a in o.attrs.items()}}

    f.visititems(visit)
    return out


def _restore_extras(f: h5py.File, extras: dict) -> None:
    """Write back what `_extras` kept (groups' attributes, small arrays)."""
    for name, e in extras.items():
        if "dtype" in e:
            if e["dtype"] == "O":
                v = np.array(e["data"], dtype=h5py.string_dtype()).reshape(e["shape"])
            else:
                v = np.array(e["data"], dtype=np.dtype(e["dtype"])).reshape(e["shape"])
            parent = name.rpartition("/")[0]
            obj = f.require_group(parent).create_dataset(name.rpartition("/")[2], data=v) if parent else \
                f.create_dataset(name, data=v)
        else:
            obj = f.require_group(name)
        for k, a in e["attrs"].items():
            obj.attrs[k] = a


def _episode_arrays(g: h5py.Group, plan: dict, a: int, b: int, domain: str) -> dict[str, np.ndarray]:
    out = {}
    for feat, (rel, ft) in plan.items():
        if feat == DOMAIN:
            out[feat] = np.full((b - a, 1), S.DOMAINS.index(domain), dtype=np.int64)
            continue
        if rel.endswith("[:, 0]"):
            v = g[rel.split("[")[0]][a:b, 0]
        else:
            v = g[rel][a:b]
        out[feat] = np.asarray(v, dtype=ft["dtype"]) if ft["dtype"] not in ("image", "video") else np.asarray(v)
    return out


def export_lerobot(src: str | os.PathLike, dst: str | os.PathLike, *, lossless: bool = False, task: str | None = None,
                   repo_id: str | None = None, progress: bool = True) -> dict:
    """Write the LeRobotDataset v3.0 folder `dst` from the egogym file `src` (module docstring).

    Returns {"episodes", "frames", "features": [names], "bytes"}."""
    from tqdm import tqdm

    LeRobotDataset = _library(progress)
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise UserError(f"--out {dst} exists; choose another folder or delete it")
    check_output(dst, inputs=[src], kind="dir")
    with open_h5_checked(src) as f:
        try:
            info = S.read_file_info(f, str(src))
        except DataFormatError as e:
            raise UserError(str(e)) from None
        if info.version is None:
            raise UserError(f"{src}: an EgoMimic-layout file; convert it first (`egogym convert egomimic {src} "
                            f"--out FILE`) and export that")
        fps = int(round(info.control_hz))
        if abs(fps - info.control_hz) > 1e-9:
            raise UserError(f"{src}: control rate {info.control_hz} Hz is not a whole number; LeRobot datasets "
                            f"have an integer fps")
        h, w = info.image_size
        if not lossless and (h % 2 or w % 2):
            raise UserError(f"{src}: images of {h}x{w} px; h264 (yuv420p) needs an even height and width: "
                            f"export with --lossless")
        demos = sorted((k for k in f[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key)
        if not demos:
            raise UserError(f"{src}: no demos to export")
        plan = _plan_export(f, info, str(src), demos, lossless)
        extras = _extras(f, info, plan, str(src))
        task = task or str(info.env_args.get("task") or f"egogym {info.domain} demonstration")
        masks = {k: [plain_value(x) for x in np.asarray(ds[()]).tolist()] for k, ds in f.get(S.MASK, {}).items()
                 if isinstance(ds, h5py.Dataset)}
        file_attrs = {k: plain_value(v) for k, v in f[S.DATA].attrs.items()}
        lengths = [int(f[S.DATA][d][S.OBS][S.FRONT].shape[0]) for d in demos]
        episodes = []
        with atomic_path(dst) as tmp:
            ds = LeRobotDataset.create(repo_id or f"egogym/{src.stem}", fps, {k: ft for k, (_, ft) in plan.items()},
                                       root=tmp, robot_type=info.embodiment, use_videos=not lossless, vcodec=VCODEC,
                                       video_backend=VIDEO_BACKEND)
            bar = tqdm(total=sum(lengths), desc=f"export {src.name}", unit="step", disable=not progress,
                       file=sys.stderr, dynamic_ncols=True)
            for i, (d, T) in enumerate(zip(demos, lengths)):
                g = f[S.DATA][d]
                for a in range(0, T, BLOCK_STEPS):
                    b = min(T, a + BLOCK_STEPS)
                    block = _episode_arrays(g, plan, a, b, info.domain)
                    for t in range(b - a):
                        ds.add_frame({**{k: v[t] for k, v in block.items()}, TASK: task})
                    bar.update(b - a)
                with warnings.catch_warnings():  # its image statistics cast the bool masks, and say so
                    warnings.filterwarnings("ignore", "Converting input from bool", RuntimeWarning)
                    ds.save_episode(parallel_encoding=False)
                episodes.append({"episode_index": i, "demo": d, "length": T,
                                 "attrs": {k: plain_value(v) for k, v in g.attrs.items()}})
            bar.close()
            ds.finalize()
            images = tmp / "images"  # the library's frame folders, emptied by its encoder
            if images.is_dir() and not any(p.is_file() for p in images.rglob("*")):
                shutil.rmtree(images)
            side = {"egogym_lerobot_version": SIDE_VERSION, "written_by": SOURCE_EXPORT,
                    "source": {"file": src.name, "bytes": src.stat().st_size}, "lossless": bool(lossless),
                    "features": {k: p for k, (p, _) in plan.items()}, "file_attrs": file_attrs,
                    "episodes": episodes, "masks": masks, "extras": extras}
            (tmp / SIDE_JSON).write_text(json.dumps(side, indent=1))
            size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    return {"episodes": len(demos), "frames": sum(lengths), "features": list(plan), "bytes": size}


# ---- import ------------------------------------------------------------------------------------------
def _check_dataset_dir(src: Path) -> dict:
    """meta/info.json of a LeRobotDataset v3.0 folder; one line naming the problem otherwise."""
    if not src.exists():
        raise UserError(f"{src}: no such folder; give the root folder of a LeRobot dataset (the one holding meta/)")
    if not src.is_dir():
        raise UserError(f"{src}: a file; give the root folder of a LeRobot dataset (the one holding meta/)")
    p = src / INFO_JSON
    if not p.is_file():
        raise UserError(f"{src}: not a LeRobot dataset (no {INFO_JSON}); give the folder that holds meta/, data/")
    try:
        info = json.loads(p.read_text())
        version, features, fps = info["codebase_version"], info["features"], info["fps"]
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{p}: not LeRobot's info.json ({type(e).__name__}: {e}); the dataset is damaged") from None
    if version != CODEBASE_VERSION:
        raise UserError(f"{src}: a LeRobotDataset {version}; this reads {CODEBASE_VERSION}: convert it with LeRobot's "
                        f"convert_dataset_v21_to_v30 first")
    if not isinstance(features, dict) or not isinstance(fps, (int, float)) or fps <= 0:
        raise UserError(f"{p}: 'features' / 'fps' malformed; the dataset is damaged")
    for part in (TASKS_PARQUET, EPISODES_DIR, DATA_DIR):  # else the library goes to the Hub for them
        if not (src / part).exists() or ((src / part).is_dir() and not any((src / part).rglob("*.parquet"))):
            raise UserError(f"{src}: {part} is missing; the dataset is incomplete (copy the whole folder, or "
                            f"download it again)")
    return info


def _column(table, name: str, rows: np.ndarray, ft: dict) -> np.ndarray:
    """Rows `rows` of parquet column `name` as numpy ((N,) + shape, the feature's dtype; images
    (N, H, W, 3) uint8 decoded from their PNG bytes)."""
    col = table.column(name).take(rows).combine_chunks()
    if ft["dtype"] == "image":
        import PIL.Image

        return np.stack([np.asarray(PIL.Image.open(io.BytesIO(x["bytes"])).convert("RGB")) for x in col.to_pylist()])
    shape = tuple(ft["shape"])
    if hasattr(col, "flatten") and len(shape) == 1 and shape != (1,):
        return col.flatten().to_numpy(zero_copy_only=False).reshape((len(rows),) + shape)
    v = col.to_numpy(zero_copy_only=False)
    if v.dtype == object:
        v = np.stack([np.asarray(x) for x in v])
    return v.reshape((len(rows),) + shape)


def _decode_episode_video(path: Path, start_s: float, timestamps: np.ndarray, fps: float, where: str) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of `path` at start_s + timestamps (s), each within half a frame."""
    import av

    want = np.round((start_s + np.asarray(timestamps, float)) * fps).astype(np.int64)
    got: dict[int, np.ndarray] = {}
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        c.seek(max(0, int((start_s - 1.0 / fps) / s.time_base)), stream=s, backward=True, any_frame=False)
        for fr in c.decode(s):
            k = int(round(float(fr.pts * s.time_base) * fps))
            if k > want.max():
                break
            if k >= want.min():
                got[k] = fr.to_ndarray(format="rgb24")
    missing = [int(x) for x in want if x not in got]
    if missing:
        raise UserError(f"{where}: {path} has no frame at {missing[0] / fps:.3f} s; the video is shorter than "
                        f"the episode (damaged dataset)")
    return np.stack([got[int(x)] for x in want])


def _parse_maps(maps) -> dict[str, str]:
    out = {}
    for m in maps or ():
        feat, sep, key = m.partition("=")
        if not sep or not feat or key not in MAPPABLE:
            raise UserError(f"--map {m}: give FEATURE=KEY with KEY one of {', '.join(MAPPABLE)}")
        out[feat] = key
    return out


def _plan_foreign(src: Path, features: dict, maps: dict, drop: set, copy_views: bool) -> dict:
    """{egogym key: feature} for a dataset egogym did not write; one line on a feature that does not map."""
    out: dict[str, str] = {}
    for feat, ft in features.items():
        if feat in LIBRARY_COLUMNS or feat in drop:
            continue
        key = maps.get(feat, FOREIGN_MAP.get(feat))
        if key is None:
            raise UserError(f"{src}: feature {feat!r} ({ft.get('dtype')} {list(ft.get('shape', []))}) has no egogym "
                            f"counterpart: pass --drop {feat}, or --map {feat}=KEY (KEY: {', '.join(MAPPABLE)})")
        kind = "lowdim" if key == S.ACTIONS_STEP else S.OBS_KEYS[key].kind
        is_image = ft.get("dtype") in ("video", "image")
        if (kind == "image") != is_image or (is_image and len(ft.get("shape", ())) != 3):
            raise UserError(f"{src}: feature {feat!r} is {ft.get('dtype')} {list(ft.get('shape', []))}, egogym's "
                            f"{key} is {'an image' if kind == 'image' else 'a vector'}: --drop it or --map it "
                            f"elsewhere")
        if key in out:
            raise UserError(f"{src}: features {out[key]!r} and {feat!r} both map to {key}: --drop one of them")
        out[key] = feat
    for key in (S.FRONT, S.JOINT_POSITIONS, S.ACTIONS_STEP):
        if key not in out:
            have = ", ".join(k for k in features if k not in LIBRARY_COLUMNS)
            raise UserError(f"{src}: no feature maps to egogym's {key} (a robot file needs it): pass "
                            f"--map FEATURE={key} (features: {have})")
    for key in (S.FRONT_MASKED, S.FRONT_LINE):
        if key not in out and not copy_views:
            raise UserError(f"{src}: no feature maps to egogym's {key} (the arm-masked / line-drawn Aria view): pass "
                            f"--map FEATURE={key}, or --copy-front-views to store copies of {S.FRONT} (no masking)")
    return out


def _image_hw(ft: dict) -> tuple[int, int]:
    """(H, W) of an image feature: LeRobot stores (H, W, C) with names [height, width, channels]
    (or (C, H, W) with names [channels, height, width])."""
    shape, names = list(ft["shape"]), ft.get("names") or []
    if names and names[0] in ("channels", "channel"):
        return int(shape[1]), int(shape[2])
    return int(shape[0]), int(shape[1])


def import_lerobot(src: str | os.PathLike, dst: str | os.PathLike, *, maps=(), drop=(), calibration: str = "egomimic",
                   copy_front_views: bool = False, image_codec: str = S.DEFAULT_IMAGE_CODEC,
                   progress: bool = True) -> dict:
    """Write the egogym file `dst` from the LeRobotDataset v3.0 folder `src` (module docstring).

    Returns {"episodes", "frames", "egogym_written": bool, "mapping": {egogym key: feature}, "derived"}."""
    from tqdm import tqdm

    from egogym.core.kinematics import pinch_in_camera
    from egogym.core.spec import EGOMIMIC
    from egogym.data.presets import resolve_calibration
    from egogym.data.writer import DemoWriter, calibration_at

    src, dst = Path(src), Path(dst)
    info_json = _check_dataset_dir(src)
    check_output(dst, inputs=[src])
    maps, drop = _parse_maps(maps), set(drop or ())
    for feat in list(maps) + sorted(drop):
        if feat not in info_json["features"]:
            raise UserError(f"--map/--drop {feat}: {src} has no such feature (has: "
                            f"{', '.join(k for k in info_json['features'] if k not in LIBRARY_COLUMNS)})")
    side = None
    if (src / SIDE_JSON).is_file():
        try:
            side = json.loads((src / SIDE_JSON).read_text())
            side["features"], side["file_attrs"], side["episodes"]  # noqa: B018
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{src / SIDE_JSON}: damaged ({type(e).__name__}: {e}); delete it to import the dataset "
                            f"as a foreign one") from None
        if maps or drop or copy_front_views:
            raise UserError(f"{src}: written by egogym ({SIDE_JSON}); it imports as it was exported: drop "
                            f"--map / --drop / --copy-front-views")
    LeRobotDataset = _library(progress)
    try:
        ds = LeRobotDataset(str(info_json.get("repo_id") or f"local/{src.name}"), root=src,
                            video_backend=VIDEO_BACKEND)
    except Exception as e:  # the library's own errors on a damaged folder: many types, one line here
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise UserError(f"{src}: LeRobot's library cannot read it ({type(e).__name__}: {first[:200]}); "
                        f"the dataset is incomplete or damaged") from None
    meta, features, fps = ds.meta, ds.meta.features, float(ds.meta.fps)
    table = ds.hf_dataset.data.table
    ep_col = table.column("episode_index").to_numpy()
    ts_col = table.column("timestamp").to_numpy()
    episodes = list(range(meta.total_episodes))
    derived: dict[str, str] = {}
    if side is not None:
        from egogym.core.spec import Calibration

        fa = side["file_attrs"]
        finfo = S.FileInfo(int(fa[S.ATTR_VERSION]), fa[S.ATTR_DOMAIN], fa.get(S.ATTR_EMBODIMENT, fa[S.ATTR_DOMAIN]),
                           tuple(json.loads(fa[S.ATTR_ARMS])), float(fa[S.ATTR_CONTROL_HZ]),
                           tuple(json.loads(fa[S.ATTR_IMAGE_SIZE])), json.loads(fa[S.ATTR_CALIBRATION]),
                           json.loads(fa.get(S.ATTR_ENV_ARGS, "{}")), fa.get(S.ATTR_IMAGE_CODEC, image_codec),
                           bool(fa.get(S.ATTR_PRESTACKED, False)))
        cal = Calibration.from_dict(finfo.calibration)
        mapping = {p: feat for feat, p in side["features"].items() if p and "[" not in p}  # not: derived ones
        names = [e["demo"] for e in side["episodes"]]
        attrs = [e["attrs"] for e in side["episodes"]]
        if len(names) != len(episodes):
            raise UserError(f"{src}: {SIDE_JSON} lists {len(names)} episodes, the dataset has {len(episodes)}; "
                            f"it was changed after the export: delete {SIDE_JSON} to import it as a foreign one")
    else:
        mapping_f = _plan_foreign(src, features, maps, drop, copy_front_views)
        mapping = {(f"{S.OBS}/{k}" if k != S.ACTIONS_STEP else k): v for k, v in mapping_f.items()}
        try:  # a foreign dataset names no arms: one is the right arm, two are both (as EgoMimic's files)
            arm_set = Arms.from_joint_width(int(features[mapping_f[S.JOINT_POSITIONS]]["shape"][0]))
        except ValueError as e:
            raise UserError(f"{src}: {mapping_f[S.JOINT_POSITIONS]}: {e} (egogym's joint layout: per arm 6 joints "
                            f"+ gripper)") from None
        arms = arm_set.names
        for key in (S.ACTIONS_STEP, S.EE_POSE):
            if key in mapping_f:
                want = S.width(key, arm_set)
                got = int(features[mapping_f[key]]["shape"][0])
                if got != want:
                    raise UserError(f"{src}: {mapping_f[key]} has {got} values; with {len(arms)} arm(s) egogym's "
                                    f"{key} takes {want}: --map another feature to it")
        sizes = {k: _image_hw(features[v]) for k, v in mapping_f.items() if S.OBS_KEYS.get(k, None) and
                 S.OBS_KEYS[k].kind == "image"}
        size = sizes[S.FRONT]
        for k, hw in sizes.items():
            if hw != size:
                raise UserError(f"{src}: {mapping_f[k]} is {hw[0]}x{hw[1]} px, {mapping_f[S.FRONT]} "
                                f"{size[0]}x{size[1]}; an egogym file has one image size: --drop {mapping_f[k]}")
        for a in arms:
            if S.WRIST_OF_ARM[a] not in mapping_f:
                raise UserError(f"{src}: no feature maps to {S.WRIST_OF_ARM[a]} (egogym robot files need one wrist "
                                f"camera per arm): pass --map FEATURE={S.WRIST_OF_ARM[a]}")
        try:
            cal = calibration_at(resolve_calibration(calibration), size)
        except DataFormatError as e:
            raise UserError(f"--calibration: {e}") from None
        if S.EE_POSE not in mapping_f:
            missing = [a for a in arms if a not in cal.T_cam_base]
            if missing:
                raise UserError(f"--calibration {calibration}: no T_cam_base for arm(s) {missing}, needed to compute "
                                f"ee_pose from the joints: give a calibration with extrinsics (e.g. egomimic)")
            derived[S.EE_POSE] = f"forward kinematics of {S.JOINT_POSITIONS} through the calibration's T_cam_base"
        for k in (S.FRONT_MASKED, S.FRONT_LINE):
            if k not in mapping_f:
                derived[k] = f"a copy of {S.FRONT} (--copy-front-views: no arm masking or line)"
        finfo = S.FileInfo(S.FORMAT_VERSION, "robot", str(meta.robot_type or "lerobot"), arms, fps, size,
                           cal.to_dict(), {"source": SOURCE_IMPORT, "dataset": src.name, "repo_id": ds.repo_id,
                                           "robot_type": meta.robot_type, "mapping": mapping_f, "dropped": sorted(drop),
                                           "derived": derived, "calibration": str(calibration)},
                           image_codec, False)
        tasks = meta.episodes["tasks"] if "tasks" in meta.episodes.column_names else [[] for _ in episodes]
        names = [f"demo_{e}" for e in episodes]
        attrs = [{"lerobot_episode_index": e, "lerobot_task": "; ".join(tasks[e])} for e in episodes]
    arm_specs = tuple(EGOMIMIC.arm(a) for a in finfo.arms)
    summary = {"episodes": len(episodes), "frames": int(len(ep_col)), "egogym_written": side is not None,
               "mapping": mapping, "derived": derived}
    bar = tqdm(total=len(ep_col), desc=f"import {src.name}", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    with atomic_path(dst) as tmp:
        w = DemoWriter(tmp, finfo.domain, cal, arms=finfo.arms, control_hz=finfo.control_hz,
                       image_size=finfo.image_size, env_args=finfo.env_args, write_prestacked=finfo.prestacked,
                       image_codec=finfo.image_codec, embodiment=finfo.embodiment)
        for e, name, at in zip(episodes, names, attrs):
            rows = np.flatnonzero(ep_col == e)
            rows = rows[np.argsort(ts_col[rows], kind="stable")]
            ep = meta.episodes[e]
            where = f"{src}: episode {e}"
            xyz_step = []
            with w.begin_demo({k: v for k, v in at.items() if k != S.ATTR_NUM_SAMPLES}, name=name,
                              chunk_steps=BLOCK_STEPS) as st:
                for a in range(0, len(rows), BLOCK_STEPS):
                    r = rows[a:a + BLOCK_STEPS]
                    vals = {}
                    for path, feat in mapping.items():
                        ft = features[feat]
                        if ft["dtype"] == "video":
                            vals[path] = _decode_episode_video(src / meta.get_video_file_path(e, feat),
                                                               float(ep[f"videos/{feat}/from_timestamp"]),
                                                               ts_col[r], fps, where)
                        else:
                            vals[path] = _column(table, feat, r, ft)
                    obs = {p.split("/", 1)[1]: v for p, v in vals.items() if p.startswith(f"{S.OBS}/")}
                    for k, why in derived.items():
                        obs[k] = (pinch_in_camera(arm_specs, cal, obs[S.JOINT_POSITIONS]) if k == S.EE_POSE
                                  else obs[S.FRONT].copy())
                    if finfo.domain == "robot":
                        acts = {"joints": vals[S.ACTIONS_STEP]}
                    else:
                        acts = {"xyz_act": vals[S.XYZ_ACT]}
                    if S.XYZ_STEP in vals:
                        xyz_step.append(vals[S.XYZ_STEP])
                    st.extend(obs, acts, vals.get(S.STATES))
                    bar.update(len(r))
                if xyz_step:
                    st.raw_group().create_dataset(S.XYZ_STEP, data=np.concatenate(xyz_step).astype(np.float64))
                st.commit()
        bar.close()
        if side is not None:
            with h5py.File(tmp, "r+") as f:
                if side.get("masks"):
                    m = f.require_group(S.MASK)
                    for k, v in side["masks"].items():
                        m.create_dataset(k, data=np.array([str(x).encode() for x in v]))
                _restore_extras(f, side.get("extras", {}))
                for k, v in side["file_attrs"].items():  # as they were (total included)
                    f[S.DATA].attrs[k] = v
    return summary


# ---- CLI -------------------------------------------------------------------------------------------
def add_arguments_for(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=("lerobot",), help="lerobot: a LeRobotDataset v3.0 folder")
    if name == "export":
        parser.add_argument("input", type=Path, help="egogym HDF5 file (robot or human)")
        parser.add_argument("--out", type=Path, required=True, help="dataset folder (created; must not exist)")
        parser.add_argument("--lossless", action="store_true",
                            help="PNG images in the parquet files and float64 arrays (default: h264 videos, float32)")
        parser.add_argument("--task", help="the episodes' task string (default: the file's env_args task)")
        parser.add_argument("--repo-id", help="the dataset's repo id (default: egogym/<input stem>)")
    else:
        parser.add_argument("input", type=Path, help="LeRobot dataset folder (the one holding meta/)")
        parser.add_argument("--out", type=Path, required=True, help="egogym HDF5 file (created; must not exist)")
        parser.add_argument("--map", action="append", default=[], metavar="FEATURE=KEY",
                            help="map a feature to an egogym key (repeatable; see docs/ECOSYSTEM.md)")
        parser.add_argument("--drop", action="append", default=[], metavar="FEATURE",
                            help="leave a feature out (repeatable)")
        parser.add_argument("--calibration", default="egomimic", metavar="PRESET|JSON",
                            help="for datasets egogym did not write: the calibration stored (and used for ee_pose "
                                 "when no feature holds it); default egomimic")
        parser.add_argument("--copy-front-views", action="store_true",
                            help="store copies of front_img_1 as front_img_1_masked / _line when no feature holds them")
        parser.add_argument("--codec", choices=S.IMAGE_CODECS, default=S.DEFAULT_IMAGE_CODEC,
                            help="for datasets egogym did not write: image compression of the HDF5 file (lossless); "
                                 "egogym's own get back the codec they were exported with")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.command == "export":
        if not args.input.exists():
            raise UserError(f"{args.input}: no such file")
        s = export_lerobot(args.input, args.out, lossless=args.lossless, task=args.task, repo_id=args.repo_id,
                           progress=not args.no_progress)
        print(f"{args.out}: LeRobotDataset {CODEBASE_VERSION}, {s['episodes']} episodes, {s['frames']} frames, "
              f"{len(s['features'])} features, {s['bytes'] / 1e6:,.1f} MB "
              f"({'PNG images, float64' if args.lossless else 'h264 videos, float32'})")
        return 0
    try:
        s = import_lerobot(args.input, args.out, maps=args.map, drop=args.drop, calibration=args.calibration,
                           copy_front_views=args.copy_front_views, image_codec=args.codec,
                           progress=not args.no_progress)
    except DataFormatError as e:
        raise UserError(str(e)) from None
    print(f"{args.out}: {s['episodes']} demos, {s['frames']} steps from {args.input}"
          + ("" if s["egogym_written"] else f"; mapped {len(s['mapping'])} features")
          + (f"; derived {', '.join(s['derived'])}" if s["derived"] else ""))
    return 0
