"""`egogym inspect tree | image | actions`: look inside egogym and EgoMimic HDF5 files.

    egogym inspect tree robot.hdf5 --max-items 80
    egogym inspect image robot.hdf5 --demo demo_0 --key obs/front_img_1_line --index 0 --out x.png
    egogym inspect actions --human human.hdf5 --robot robot.hdf5 --dim 1 --out-dir plots/

`actions` draws histograms of one dimension of `actions_xyz_act` (every chunk point of
every demo) for both domains, before and after a per-domain z-score (mean and std of
that dimension over the plotted values of each domain), as in the seed walkthrough.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from egogym.core.bounds import int_flag
from egogym.core.errors import UserError
from egogym.core.outputs import atomic_path, check_output
from egogym.data import schema as S
from egogym.data.reader import demo_action_chunks, open_h5_checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    t = sub.add_parser("tree", help="print every dataset's path, shape, dtype and codec, and the file's metadata")
    t.add_argument("file", type=Path)
    t.add_argument("--max-items", type=int_flag("--max-items", 1, 10**9), default=120, help="print at most this many datasets")
    i = sub.add_parser("image", help="save one frame of an image or mask key as PNG")
    i.add_argument("file", type=Path)
    i.add_argument("--demo", required=True, help="e.g. demo_0")
    i.add_argument("--key", required=True, help="path inside the demo, e.g. obs/front_img_1_line")
    i.add_argument("--index", type=int_flag("--index", -10**12, 10**12), default=0, help="time step")
    i.add_argument("--out", type=Path, required=True, help="output .png")
    a = sub.add_parser("actions", help="histograms of actions_xyz_act, human vs robot, before/after per-domain z-score")
    a.add_argument("--human", type=Path, required=True)
    a.add_argument("--robot", type=Path, required=True)
    a.add_argument("--dim", type=int_flag("--dim", 0, 5), default=1, help="which xyz dimension (0 x, 1 y, 2 z; +3 for the second arm)")
    a.add_argument("--out-dir", type=Path, required=True)
    a.add_argument("--max-rows", type=int_flag("--max-rows", 1, 10**8), default=200_000, help="at most this many chunk points per domain")


def run(args: argparse.Namespace) -> int:
    if args.what == "tree":
        print_tree(args.file, args.max_items)
    elif args.what == "image":
        check_output(args.out, [args.file], suffixes=(".png",))
        save_image(args.file, args.demo, args.key, args.index, args.out)
        print(f"saved {args.out}")
    else:
        check_output(args.out_dir, [args.human, args.robot], flag="--out-dir", kind="dir")
        outs = plot_actions(args.human, args.robot, args.dim, args.out_dir, args.max_rows)
        print("saved " + ", ".join(str(o) for o in outs))
    return 0


def print_tree(path: Path, max_items: int = 120) -> None:
    """Print the file's metadata (format, domain, arms, rate, image size, calibration
    source), then up to max_items datasets as `path shape dtype codec`."""
    if max_items < 1:
        raise UserError(f"--max-items {max_items}: give at least 1")
    with open_h5_checked(path) as f:
        info = S.read_file_info(f, str(path))
        layout = "EgoMimic layout (no version)" if info.version is None else f"egogym format v{info.version}"
        cal = "none in the file" if info.calibration is None else (info.calibration.get("source") or "stored")
        print(f"{path}: {layout}; domain {info.domain}; arms {list(info.arms)}; {info.control_hz:g} Hz; "
              f"images {info.image_size[0]}x{info.image_size[1]} ({info.image_codec}); calibration: {cal}")
        print(f"env_args: {json.dumps(info.env_args)}")
        count = 0

        def visit(name, obj):
            nonlocal count
            if count >= max_items or not isinstance(obj, h5py.Dataset):
                return None
            codec = obj.compression if obj.compression not in (None, "unknown") else (
                "blosc" if "32001" in obj._filters else "-")
            print(f"{name:60s} shape={obj.shape} dtype={obj.dtype} codec={codec}")
            count += 1
            return None

        f.visititems(visit)
        if count >= max_items:
            print(f"... (stopped at --max-items {max_items})")


def save_image(path: Path, demo: str, key: str, index: int, out: Path) -> None:
    """Save frame `index` of `data/<demo>/<key>` (an (H, W, 3) uint8 image or an (H, W)
    bool mask, shown white on black) as a PNG."""
    from PIL import Image

    with open_h5_checked(path) as f:
        S.read_file_info(f, str(path))
        full = f"{S.DATA}/{demo}/{key}"
        if f"{S.DATA}/{demo}" not in f:
            have = sorted(f[S.DATA].keys(), key=S.demo_sort_key)[:5]
            raise UserError(f"{path}: no demo {demo!r} (first demos: {', '.join(have)})")
        if full not in f or not isinstance(f[full], h5py.Dataset):
            have = sorted(f"{S.OBS}/{k}" for k in f[f"{S.DATA}/{demo}"].get(S.OBS, {}).keys())
            raise UserError(f"{path}: no dataset {full!r}; image keys: {', '.join(have)}")
        ds = f[full]
        if not (ds.ndim == 4 and ds.shape[-1] == 3 and ds.dtype == np.uint8) and not (ds.ndim == 3 and ds.dtype == bool):
            raise UserError(f"{path}: {full} has shape {ds.shape} dtype {ds.dtype}; not an image or mask key")
        if not -ds.shape[0] <= index < ds.shape[0]:
            raise UserError(f"--index {index}: {full} has {ds.shape[0]} frames")
        frame = ds[index]
    if frame.dtype == bool:
        frame = frame.astype(np.uint8) * 255
    with atomic_path(out) as tmp:
        Image.fromarray(frame).save(tmp, format="PNG")


def action_values(path: Path, key: str = S.XYZ_ACT, max_rows: int = 200_000, domain: str | None = None,
                  flag: str = "") -> np.ndarray:
    """Every chunk point of `key` in every demo of a file, as rows (N, D); with `domain`, a file
    of the other domain is refused naming `flag`."""
    rows, n = [], 0
    with open_h5_checked(path) as f:
        info = S.read_file_info(f, str(path))
        if domain is not None and info.domain != domain:
            raise UserError(f"{flag} {path} is a {info.domain} file; give a {domain} file "
                            f"(were --human and --robot swapped?)")
        for d in sorted((k for k in f[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key):
            v = demo_action_chunks(f[S.DATA][d], info, key)
            v = v.reshape(-1, v.shape[-1])
            rows.append(v[: max_rows - n])
            n += len(rows[-1])
            if n >= max_rows:
                break
    if not rows:
        raise UserError(f"{path}: no demos with {key}")
    return np.concatenate(rows)


def plot_actions(human: Path, robot: Path, dim: int, out_dir: Path, max_rows: int = 200_000) -> list[Path]:
    """Write action_distribution_before.png and action_distribution_after.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = action_values(human, max_rows=max_rows, domain="human", flag="--human")
    r = action_values(robot, max_rows=max_rows, domain="robot", flag="--robot")
    for name, v, p in (("--human", h, human), ("--robot", r, robot)):
        if not 0 <= dim < v.shape[1]:
            raise UserError(f"--dim {dim}: {p} has {v.shape[1]} xyz dimensions ({name})")
    out_dir.mkdir(parents=True, exist_ok=True)
    outs = []
    for title, fname, hv, rv in (
            ("Before normalization", "action_distribution_before.png", h[:, dim], r[:, dim]),
            ("After per-domain z-score", "action_distribution_after.png", _z(h[:, dim]), _z(r[:, dim]))):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(hv, bins=80, alpha=0.5, density=True, label=f"human ({len(hv)} points)")
        ax.hist(rv, bins=80, alpha=0.5, density=True, label=f"robot ({len(rv)} points)")
        ax.set_xlabel(f"{S.XYZ_ACT} dim={dim}" + (" (m, camera frame)" if "Before" in title else " (z-score)"))
        ax.set_ylabel("density")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=120)
        plt.close(fig)
        outs.append(out_dir / fname)
    return outs


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-12)
