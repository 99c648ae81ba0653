"""Copy the demos of the first N episodes (by seed) of a robot file into a new file, then split it.

    python exp/subset.py IN.hdf5 OUT.hdf5 N [VALID_FRACTION]"""
import subprocess
import sys
from pathlib import Path

import h5py

src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
vf = sys.argv[4] if len(sys.argv) > 4 else "0.2"
with h5py.File(src, "r") as fi, h5py.File(dst, "w") as fo:
    for k, v in fi.attrs.items():
        fo.attrs[k] = v
    g = fo.create_group("data")
    for k, v in fi["data"].attrs.items():
        g.attrs[k] = v
    demos = sorted(fi["data"], key=lambda d: int(fi["data"][d].attrs["seed"]))[:n]
    for d in demos:
        fi.copy(fi["data"][d], g, name=d)
    for k in fi:
        if k not in ("data", "mask"):
            fi.copy(fi[k], fo, name=k)
print(f"{dst}: {len(demos)} demos ({demos[0]}..{demos[-1]})")
subprocess.run([str(Path(sys.executable).parent / "egogym"), "split", dst, "--valid-fraction", vf], check=True)
