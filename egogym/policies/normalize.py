"""Per-domain z-score normalization as the model sees it (torch side of `NormStats`).

`Normalizer({"robot": NormStats, "human": NormStats})` wraps the data layer's
statistics (`egogym.data.stats.NormStats`: from the train split only; per key mean and
std, per chunk point for chunks) for torch tensors. The model reads and predicts:

- robot: `joint_positions` (7k,), `actions_joints_act` (100, 7k), `actions_xyz_act` (100, 3k)
- human: `ee_pose` (3k,), `actions_xyz_act` (100, 3k)

(k arms: widths `Arms.joint_width` and `Arms.xyz_width` of `Normalizer.arms(domain)`.)

A missing domain or key raises `MissingStatsError` naming it; nothing passes through
un-normalized. `pool(stats, "shared")` replaces the keys both domains hold by one set of
statistics over both (`policies.config.NORMALIZATIONS`). Checkpoints carry the statistics as the data layer's JSON files
(`stats_robot.json`, `stats_human.json`) and their digest in `checkpoint.json`.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import torch

from egogym.core.arms import Arms
from egogym.data.stats import NormStats

REQUIRED = {
    "robot": ("joint_positions", "actions_joints_act", "actions_xyz_act"),
    "human": ("ee_pose", "actions_xyz_act"),
}


SHARED_KEYS = ("ee_pose", "actions_xyz_act")
"""Keys whose values mean the same thing in both domains (the pinch point / palm, metres, in the
Aria frame of t): what a "shared" normalization pools."""


def pool(stats: dict[str, NormStats], scheme: str) -> dict[str, NormStats]:
    """The statistics a run of normalization `scheme` z-scores with.

    "per_domain": `stats` unchanged. "shared": for each of SHARED_KEYS that every domain holds,
    the moments of the equal-weight mixture of the domains (mean = average of the means;
    variance = average of (variance + (mean - pooled mean)^2)), per value and per chunk point,
    in every domain's statistics; the source says it was pooled. One domain: unchanged."""
    if scheme == "per_domain" or len(stats) < 2:
        return dict(stats)
    if scheme != "shared":
        raise ValueError(f"unknown normalization {scheme!r}")
    out = {d: dataclasses.replace(s, mean=dict(s.mean), std=dict(s.std)) for d, s in stats.items()}
    for k in SHARED_KEYS:
        if not all(k in s.mean for s in stats.values()):
            continue
        means = np.stack([s.mean[k] for s in stats.values()])
        mean = means.mean(axis=0)
        var = np.mean([s.std[k] ** 2 + (s.mean[k] - mean) ** 2 for s in stats.values()], axis=0)
        for s in out.values():
            s.mean[k], s.std[k] = mean, np.maximum(np.sqrt(var), s.std_floor)
    sources = " + ".join(f"{d}: {s.source}" for d, s in stats.items())
    for s in out.values():
        s.source = f"shared over ({sources})"
    return out


class MissingStatsError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; print it plainly
        return str(self.args[0])


class Normalizer:
    """stats[domain]: the NormStats of that domain's training split."""

    def __init__(self, stats: dict[str, NormStats]):
        for d, s in stats.items():
            if s.domain != d:
                raise MissingStatsError(f"statistics given as {d!r} are of the {s.domain!r} domain ({s.source})")
        self.stats = dict(stats)
        self._torch: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def require(self, domains) -> None:
        """Raise MissingStatsError naming the first domain/key the model needs and these stats lack."""
        for d in domains:
            if d not in self.stats:
                raise MissingStatsError(f"normalization statistics have no {d!r} domain "
                                        f"(have {sorted(self.stats)}): compute them from the {d} training split")
            for k in REQUIRED[d]:
                if k not in self.stats[d].mean:
                    raise MissingStatsError(f"normalization statistics for {d!r} ({self.stats[d].source}) lack {k!r}: "
                                            f"recompute them with `egogym stats`")

    def _get(self, domain: str, key: str, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) float32 tensors of domain/key on `device` (the CPU by default), cached per device."""
        where = (domain, key, str(device or "cpu"))
        if where not in self._torch:
            if domain not in self.stats or key not in self.stats[domain].mean:
                raise MissingStatsError(f"no normalization statistics for {domain}/{key}")
            s = self.stats[domain]
            self._torch[where] = (torch.as_tensor(np.asarray(s.mean[key], np.float32), device=device),
                                  torch.as_tensor(np.asarray(s.std[key], np.float32), device=device))
        return self._torch[where]

    def normalize(self, domain: str, key: str, x: torch.Tensor) -> torch.Tensor:
        """(x - mean) / std; x (..., *shape of key), on any device."""
        m, s = self._get(domain, key, x.device)
        if tuple(x.shape[x.ndim - m.ndim:]) != tuple(m.shape):
            raise MissingStatsError(f"{domain}/{key} has trailing shape {tuple(x.shape[x.ndim - m.ndim:])}, "
                                    f"the statistics {tuple(m.shape)}")
        return (x - m) / s

    def unnormalize(self, domain: str, key: str, x: torch.Tensor) -> torch.Tensor:
        m, s = self._get(domain, key, x.device)
        return x * s + m

    def digest(self) -> str:
        """sha256 over the statistics the model uses (recorded in checkpoints to detect a swapped stats file)."""
        h = hashlib.sha256()
        for d in sorted(self.stats):
            for k in REQUIRED[d]:
                if k in self.stats[d].mean:
                    h.update(f"{d}/{k}".encode())
                    h.update(np.ascontiguousarray(self.stats[d].mean[k], np.float64).tobytes())
                    h.update(np.ascontiguousarray(self.stats[d].std[k], np.float64).tobytes())
        return h.hexdigest()

    def arms(self, domain: str = "robot") -> Arms:
        """The arms (human: the hands) of a domain's statistics (`NormStats.arm_set`: the data
        file's names, or for older statistics the arms their widths mean); ValueError if neither."""
        if domain not in self.stats:
            raise MissingStatsError(f"normalization statistics have no {domain!r} domain (have {sorted(self.stats)})")
        return self.stats[domain].arm_set

    def dims(self) -> dict[str, int]:
        """Per-point widths: {"joints": 7k, "xyz": 3k} from the robot statistics."""
        r = self.stats["robot"]
        return {"joints": int(r.mean["actions_joints_act"].shape[-1]), "xyz": int(r.mean["actions_xyz_act"].shape[-1])}
