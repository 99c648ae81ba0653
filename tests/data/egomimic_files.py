"""Small files in EgoMimic's public HDF5 layout, written with plain h5py from REFERENCE §1.

Independent of egogym's writer and schema module on purpose: the key names, shapes and
the pre-stacking rule are spelled here from the documented layout, so a test that
converts or reads these files checks egogym against EgoMimic's layout, not against itself.

Robot file (EgoMimic's bowlplace_robot.hdf5 in small): demos with non-contiguous names
(demo_0, demo_1, demo_10, demo_11 as the walkthrough's), uncompressed images, one chunk
per frame, `actions_joints_act` (T, 100, 7) = commanded joints at t, t+2, ..., t+198
clipped at the end, `actions_xyz_act` (T, 100, 3) = FK of the commanded joints (here a
smooth curve that is NOT the observed `ee_pose`), `actions_joints` / `actions_xyz`
(T, 10, D) every 10th point, overlapping `mask/train` and `mask/valid`, no calibration,
`env_args` "{}". Human file: demos of up to 300 frames, `actions_xyz_act` (T, 100, 3)
interpolated from 10 knots, `front_img_1_mask` optional.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

HORIZON, STRIDE, EVERY = 100, 2, 10


def _prestack(x: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """(T, D) -> (T, 100, D): x[min(t + stride k, T - 1)] (EgoMimic's pre-stacking)."""
    T = len(x)
    idx = np.minimum(np.arange(T)[:, None] + stride * np.arange(HORIZON)[None], T - 1)
    return x[idx]


def _frames(rng: np.random.Generator, T: int, size: tuple[int, int], tint: int) -> np.ndarray:
    """Images that change over time and compress like camera frames (smooth + a little noise)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), np.full_like(xx, tint)], -1)
    out = np.empty((T, h, w, 3), np.uint8)
    for t in range(T):
        out[t] = np.roll(base, t, axis=1)
        noisy = rng.random((h, w)) < 0.03  # sensor noise on a few pixels
        out[t][noisy] = rng.integers(0, 256, (int(noisy.sum()), 3))
    return out


def _masks(names: list[str]) -> np.ndarray:
    return np.array([n.encode() for n in names])


def write_egomimic_robot(path: Path, lengths=(30, 41, 25, 36), names=("demo_0", "demo_1", "demo_10", "demo_11"),
                         size=(24, 32), bimanual: bool = False, overlap: bool = True, seed: int = 0,
                         lowdim_dtype=np.float64, wrist: bool = True) -> dict:
    """Write an EgoMimic-layout robot file; return {demo: {hdf5 path in the demo: array}}."""
    rng = np.random.default_rng(seed)
    n = 2 if bimanual else 1
    arrays = {}
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = "{}"
        total = 0
        for name, T in zip(names, lengths):
            g = data.create_group(name)
            t = np.linspace(0, 1, T)[:, None]
            cmd = np.concatenate([np.sin(t * (1 + k) + rng.normal()) for k in range(7 * n)], 1).astype(lowdim_dtype)
            joints = (cmd + 0.01 * rng.normal(size=cmd.shape)).astype(lowdim_dtype)
            ee = (np.concatenate([np.cos(t * (2 + k)) for k in range(3 * n)], 1) * 0.2
                  + np.array([0.0, 0.1, 0.5] * n)).astype(lowdim_dtype)
            fk_cmd = (ee + 0.02 * np.sin(7 * t)).astype(lowdim_dtype)  # FK of the commands: not ee_pose
            a = {"obs/front_img_1": _frames(rng, T, size, 10), "obs/front_img_1_masked": _frames(rng, T, size, 60),
                 "obs/front_img_1_line": _frames(rng, T, size, 120),
                 "obs/joint_positions": joints, "obs/ee_pose": ee,
                 "actions_joints_act": _prestack(cmd), "actions_xyz_act": _prestack(fk_cmd)}
            if wrist:
                a["obs/right_wrist_img"] = _frames(rng, T, size, 200)
                if bimanual:
                    a["obs/left_wrist_img"] = _frames(rng, T, size, 230)
            a["actions_joints"] = a["actions_joints_act"][:, ::EVERY]
            a["actions_xyz"] = a["actions_xyz_act"][:, ::EVERY]
            for k, v in a.items():
                if v.dtype == np.uint8:
                    g.create_dataset(k, data=v, chunks=(1,) + v.shape[1:])
                else:
                    g.create_dataset(k, data=v)
            g.attrs["num_samples"] = T
            total += T
            arrays[name] = a
        data.attrs["total"] = total
        names = list(names)
        if overlap:  # the public bowlplace robot file: train and valid name the same demos
            f.create_dataset("mask/train", data=_masks(names))
            f.create_dataset("mask/valid", data=_masks(names))
        else:
            f.create_dataset("mask/train", data=_masks(names[:-1]))
            f.create_dataset("mask/valid", data=_masks(names[-1:]))
    return arrays


def write_egomimic_human(path: Path, lengths=(40, 33, 28), size=(24, 32), seed: int = 1, mask_key: bool = True) -> dict:
    """Write an EgoMimic-layout human file; return {demo: {path: array}}."""
    rng = np.random.default_rng(seed)
    arrays = {}
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = "{}"
        for i, T in enumerate(lengths):
            name = f"demo_{i}"
            g = data.create_group(name)
            knots = rng.normal(size=(T, 10, 3)) * 0.05 + np.array([0.0, 0.1, 0.45])
            s = np.linspace(0, 1, 10)
            u = np.linspace(0, 1, HORIZON)
            chunks = np.stack([np.stack([np.interp(u, s, knots[t, :, d]) for d in range(3)], -1) for t in range(T)])
            a = {"obs/front_img_1": _frames(rng, T, size, 30), "obs/front_img_1_masked": _frames(rng, T, size, 90),
                 "obs/front_img_1_line": _frames(rng, T, size, 150), "obs/ee_pose": chunks[:, 0].copy(),
                 "actions_xyz_act": chunks, "actions_xyz": chunks[:, ::EVERY]}
            if mask_key:
                a["obs/front_img_1_mask"] = rng.random((T, *size)) < 0.2
            for k, v in a.items():
                g.create_dataset(k, data=v, chunks=((1,) + v.shape[1:]) if v.ndim >= 3 and k.startswith("obs/") else None)
            g.attrs["num_samples"] = T
            arrays[name] = a
        names = [f"demo_{i}" for i in range(len(lengths))]
        f.create_dataset("mask/train", data=_masks(names[:-1]))
        f.create_dataset("mask/valid", data=_masks(names[-1:]))
    return arrays
