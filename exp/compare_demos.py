"""Compare two egogym HDF5 files demo by demo, matched by the episode seed (issue 24: is a rung's human data
the positive control's, for the same scenes?).

    python exp/compare_demos.py A.hdf5 B.hdf5 [--demos 4]

For each seed both files hold: the keys only one has, the samples per demo, and for every key both have,
over the samples both have (t < min length): mean and max |A - B| (grey levels for images, m for points),
the mean at t = 0, and for chunks the mean point distance at chunk points 0, 50 and 99 (cm).
"""
from __future__ import annotations

import argparse

import h5py
import hdf5plugin  # noqa: F401  (the blosc filter of egogym's images)
import numpy as np


def datasets(g: h5py.Group, prefix: str = "") -> dict[str, h5py.Dataset]:
    out = {}
    for k, v in g.items():
        out.update(datasets(v, f"{prefix}{k}/") if isinstance(v, h5py.Group) else {prefix + k: v})
    return out


def by_seed(f: h5py.File) -> dict[int, h5py.Group]:
    return {int(g.attrs["seed"]): g for g in f["data"].values() if isinstance(g, h5py.Group) and "seed" in g.attrs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--demos", type=int, default=4, help="compare the first N shared seeds")
    args = ap.parse_args()
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        sa, sb = by_seed(fa), by_seed(fb)
        for seed in sorted(set(sa) & set(sb))[: args.demos]:
            da, db = datasets(sa[seed]), datasets(sb[seed])
            print(f"seed {seed}: only in A {sorted(set(da) - set(db))}, only in B {sorted(set(db) - set(da))}")
            for k in sorted(set(da) & set(db)):
                x, y = da[k][()], db[k][()]
                n = min(len(x), len(y))
                d = np.abs(x[:n].astype(np.float64) - y[:n].astype(np.float64))
                line = (f"  {k}: A {len(x)} B {len(y)} samples; |A-B| mean {d.mean():.3g} max {d.max():.3g}, "
                        f"t=0 mean {d[0].mean():.3g}")
                if x.ndim == 3 and x.shape[-1] == 3 and x.shape[1] > 1 and x.dtype.kind == "f":  # chunks (T, 100, 3)
                    dist = np.linalg.norm(x[:n] - y[:n], axis=-1).mean(axis=0) * 100
                    line += f"; points 0/50/99 {dist[0]:.2f}/{dist[50]:.2f}/{dist[99]:.2f} cm"
                print(line)


if __name__ == "__main__":
    main()
