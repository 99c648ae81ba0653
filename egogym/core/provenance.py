"""Where a result was computed: the machine and the versions that decide its floating point.

Training is seeded and resumes to the same weights (tests/policies/test_train.py), but one seeded
ablation cell has given different results on two machines (docs/RESULTS.md); the CPU's vector
instructions can change which PyTorch and Mesa kernels run, and so their rounding. Results that
are compared across machines carry this, so such differences can be traced.
Reads /proc and package metadata only: importing nothing heavy."""
from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = ("egogym", "torch", "mujoco", "dm-control", "numpy")
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_tile")  # the ones kernel dispatch keys on


def machine() -> dict:
    """{"cpu": model name, "cpu_features": those of CPU_FEATURES present (None: /proc/cpuinfo
    unreadable, so unknown), "cores": usable cores, "python": version, "packages": {name: version or None}}."""
    model, flags = platform.processor() or platform.machine(), None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:  # not Linux: the model from platform, features unknown (None, not "none")
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    features = None if flags is None else [f for f in CPU_FEATURES if f in flags]
    return {"cpu": model, "cpu_features": features, "cores": cores,
            "python": platform.python_version(), "packages": versions}
