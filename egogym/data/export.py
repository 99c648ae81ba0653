"""Export an egogym file to EgoMimic's public layout (REFERENCE §1), for EgoMimic's tools.

The result is what EgoMimic's loaders expect and what its public files look like:
uncompressed images (one chunk per frame), pre-stacked `actions_*_act` (T, 100, D) and
their every-10th subsample `actions_joints` / `actions_xyz` (T, 10, D), byte-string
masks, `env_args` = "{}" and no calibration, version or per-step actions. Used by
bench/data_io.py as the reference layout and by the tests as an EgoMimic-style file.
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from egogym.data import schema as S
from egogym.data.reader import demo_action_chunks, open_h5_checked
from egogym.data.schema import DataFormatError


BLOCK_STEPS = 64
"""Steps copied at a time: images (and pre-stacked chunks) stream through in blocks, so
exporting a 3,000-step demo holds 64 frames per key, not the demo."""


def export_egomimic(src: str | os.PathLike, dst: str | os.PathLike, masks: bool = True,
                    block_steps: int = BLOCK_STEPS) -> None:
    """Write `dst` in EgoMimic's layout from the egogym file `src` (same demos, same values).

    masks: copy `mask/*` (as 1-D byte-string arrays) when `src` has them.
    block_steps: steps read and written at a time (memory: block_steps frames per key)."""
    dst = Path(dst)
    if dst.exists():
        raise DataFormatError(f"{dst} exists; choose another output path")
    with open_h5_checked(src) as f, h5py.File(dst, "w") as out:
        info = S.read_file_info(f, str(src))
        if info.version is None:
            raise DataFormatError(f"{src}: already in EgoMimic's layout")
        data = out.create_group(S.DATA)
        data.attrs[S.ATTR_ENV_ARGS] = "{}"
        total = 0
        for d in sorted((k for k in f[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key):
            g = f[S.DATA][d]
            og = data.create_group(d)
            T = int(g[S.OBS][S.FRONT].shape[0])
            og.attrs[S.ATTR_NUM_SAMPLES] = T
            total += T
            obs = og.create_group(S.OBS)
            for k, ds in g[S.OBS].items():
                if S.OBS_KEYS[k].kind == "lowdim":
                    obs.create_dataset(k, data=ds[()])
                    continue
                o = obs.create_dataset(k, shape=ds.shape, dtype=ds.dtype, chunks=(1,) + ds.shape[1:])
                for a in range(0, T, block_steps):
                    o[a:a + block_steps] = ds[a:a + block_steps]
            for k in S.SCHEMAS[info.domain].action_keys:
                sub = S.JOINTS_SUB if k == S.JOINTS_ACT else S.XYZ_SUB
                first = None
                for a in range(0, T, block_steps):
                    v = demo_action_chunks(g, info, k, a, min(T, a + block_steps))
                    if first is None:
                        first = og.create_dataset(k, shape=(T,) + v.shape[1:], dtype=v.dtype)
                        second = og.create_dataset(sub, shape=(T, v.shape[1] // S.SUBSAMPLED) + v.shape[2:], dtype=v.dtype)
                    first[a:a + len(v)] = v
                    second[a:a + len(v)] = v[:, ::S.SUBSAMPLED]
        data.attrs[S.ATTR_TOTAL] = total
        if masks and S.MASK in f:
            m = out.create_group(S.MASK)
            for k, ds in f[S.MASK].items():
                m.create_dataset(k, data=np.asarray(ds[()]))
