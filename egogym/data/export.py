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


def export_egomimic(src: str | os.PathLike, dst: str | os.PathLike, masks: bool = True) -> None:
    """Write `dst` in EgoMimic's layout from the egogym file `src` (same demos, same values).

    masks: copy `mask/*` (as 1-D byte-string arrays) when `src` has them."""
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
                v = ds[()]
                if S.OBS_KEYS[k].kind == "lowdim":
                    obs.create_dataset(k, data=v)
                else:
                    obs.create_dataset(k, data=v, chunks=(1,) + v.shape[1:])
            for k in S.SCHEMAS[info.domain].action_keys:
                v = demo_action_chunks(g, info, k)
                og.create_dataset(k, data=v)
                og.create_dataset(S.JOINTS_SUB if k == S.JOINTS_ACT else S.XYZ_SUB, data=v[:, ::S.SUBSAMPLED])
        data.attrs[S.ATTR_TOTAL] = total
        if masks and S.MASK in f:
            m = out.create_group(S.MASK)
            for k, ds in f[S.MASK].items():
                m.create_dataset(k, data=np.asarray(ds[()]))
