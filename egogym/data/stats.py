"""Per-domain normalization statistics, from the train split only.

EgoMimic z-scores low-dimensional observations and actions separately per domain (human,
robot), with a separate mean and std for each of the 100 chunk steps (REFERENCE §3). Its
statistics cover every demo, validation included, and live in pickles outside the data;
here they come from `mask/train` only and are saved as a small JSON file that names the
data file, its domain and the demos used.

    stats = NormStats.compute("robot.hdf5")          # train split
    stats.save("robot_stats.json")
    x = NormStats.load("robot_stats.json").normalize(sample)

Shapes: low-dim obs keys (`joint_positions`, `ee_pose`) have mean/std of shape (D,);
action chunk keys (`actions_joints_act`, `actions_xyz_act`) of shape (100, D). As in
EgoMimic, chunk steps clipped at a demo's end count with their repeated values. A std
below `std_floor` is raised to it (a joint that never moves would divide by zero).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from egogym.core.arms import Arms
from egogym.core.outputs import write_text_atomic
from egogym.data import schema as S
from egogym.data.reader import demo_action_chunks, open_h5_checked, read_split
from egogym.data.schema import DataFormatError
from egogym.data.trainable import check_split, constant_problem, demo_frames, nonfinite_problem

STATS_FORMAT = "egogym-normstats"
STATS_VERSION = 1
STD_FLOOR = 1e-4
NORMALIZED_KEYS = S.LOWDIM_OBS + (S.JOINTS_ACT, S.XYZ_ACT)
"""Sample keys that normalization covers."""


class _Moments:
    """Running mean and sum of squared deviations (Chan et al.'s pairwise merge), float64."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        n_b = len(x)
        if n_b == 0:
            return
        mean_b = x.mean(axis=0)
        m2_b = ((x - mean_b) ** 2).sum(axis=0)
        if self.n == 0:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta ** 2 * (self.n * n_b / n)
        self.n = n

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean, np.sqrt(self.m2 / self.n)


@dataclass
class NormStats:
    """Mean and std per key of one domain's samples.

    domain: "robot" | "human". mean[key], std[key]: arrays shaped like one sample's
    value of key. source: the data file; demos: the train demos used; std_floor.
    arms: the file's arm names (human: hands), layout order, or None in statistics saved
    before they were recorded (`arm_set` then infers them from the widths).
    """

    domain: str
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    source: str = ""
    demos: list[str] = field(default_factory=list)
    std_floor: float = STD_FLOOR
    image_size: tuple[int, int] | None = None  # (height, width) px of the file's images; None: not recorded
    arms: tuple[str, ...] | None = None  # the file's arms (`FileInfo.arms`); None: not recorded

    @classmethod
    def compute(cls, path: str | os.PathLike, split: str = "train", std_floor: float = STD_FLOOR) -> "NormStats":
        """Statistics of the `split` demos (a training split: "train" or "demo_train")."""
        if split not in ("train", "demo_train"):
            raise DataFormatError(f"normalization statistics come from the train split only, not {split!r}")
        path = str(path)
        with open_h5_checked(path) as f:
            info = S.read_file_info(f, path)
            check_split(f, path, split)
            demos = read_split(f, path, split)
            keys = [k for k in S.LOWDIM_OBS if k in f[S.DATA][demos[0]][S.OBS]]
            keys += list(S.SCHEMAS[info.domain].action_keys)
            acc = {k: _Moments() for k in keys}
            for d in demos:
                g = f[S.DATA][d]
                demo_frames(g, path, d)  # a 0-frame demo adds nothing and would leave a key without moments
                for k in keys:
                    if k in S.LOWDIM_OBS:
                        if k not in g[S.OBS]:
                            raise DataFormatError(f"{path}: {S.DATA}/{d}/{S.OBS}/{k} is missing")
                        v = g[S.OBS][k][()]
                    else:
                        v = demo_action_chunks(g, info, k)
                    problem = nonfinite_problem(path, k, v, f"{S.DATA}/{d}")
                    if problem:
                        raise DataFormatError(problem)
                    acc[k].add(v)
        mean, std = {}, {}
        for k, m in acc.items():
            mean[k], s = m.result()
            problem = constant_problem(path, k, mean[k], s, split)  # before the floor hides it
            if problem:
                raise DataFormatError(problem)
            std[k] = np.maximum(s, std_floor)
        return cls(info.domain, mean, std, source=path, demos=list(demos), std_floor=std_floor,
                   image_size=tuple(int(x) for x in info.image_size), arms=tuple(info.arms))

    # ---- persistence ----
    def to_dict(self) -> dict:
        return {"format": STATS_FORMAT, "version": STATS_VERSION, "domain": self.domain, "source": self.source,
                "split_demos": self.demos, "std_floor": self.std_floor,
                "image_size": list(self.image_size) if self.image_size is not None else None,
                "arms": list(self.arms) if self.arms is not None else None,
                "stats": {k: {"shape": list(self.mean[k].shape), "mean": self.mean[k].ravel().tolist(),
                              "std": self.std[k].ravel().tolist()} for k in self.mean}}

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON (float64 values round-trip exactly)."""
        write_text_atomic(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NormStats":
        path = Path(path)
        if not path.exists():
            raise DataFormatError(f"{path}: no normalization statistics; compute them with `egogym stats DATA --out {path}`")
        try:
            d = json.loads(path.read_text())
        except ValueError as e:
            raise DataFormatError(f"{path}: not a JSON file ({e})") from None
        if not isinstance(d, dict) or d.get("format") != STATS_FORMAT:
            raise DataFormatError(f"{path}: not an egogym normalization-statistics file")
        if d.get("version") != STATS_VERSION:
            raise DataFormatError(f"{path}: statistics version {d.get('version')}, this egogym reads {STATS_VERSION}: "
                                  f"recompute with `egogym stats`")
        mean, std = {}, {}
        try:
            for k, v in d["stats"].items():
                shape = tuple(v["shape"])
                mean[k] = np.asarray(v["mean"], dtype=np.float64).reshape(shape)
                std[k] = np.asarray(v["std"], dtype=np.float64).reshape(shape)
        except (KeyError, ValueError, TypeError) as e:
            raise DataFormatError(f"{path}: malformed statistics entry ({e!r}); recompute with `egogym stats`") from None
        for k, s in std.items():
            if not np.all(np.isfinite(s)) or np.any(s <= 0) or not np.all(np.isfinite(mean[k])):
                raise DataFormatError(f"{path}: statistics of {k!r} hold a non-finite mean or a std <= 0")
        arms = d.get("arms")
        if arms is not None and not S.layout_names(arms):
            raise DataFormatError(f"{path}: arms {arms!r} are not arm names in layout order (left first); "
                                  f"recompute with `egogym stats`")
        return cls(d["domain"], mean, std, source=d.get("source", ""), demos=list(d.get("split_demos", [])),
                   std_floor=float(d.get("std_floor", STD_FLOOR)),
                   image_size=tuple(int(x) for x in d["image_size"]) if d.get("image_size") else None,
                   arms=tuple(arms) if arms is not None else None)

    @property
    def arm_set(self) -> Arms:
        """The arms (human: hands) these statistics are for: the names they record, checked against
        the widths of their chunks; without names (older statistics), the arms the widths mean
        (`Arms.from_joint_width`: one arm is the right one, as EgoMimic's files and every
        other layout that names none). ValueError when neither gives a set of arms."""
        key = S.JOINTS_ACT if S.JOINTS_ACT in self.mean else S.XYZ_ACT
        if key not in self.mean:
            raise ValueError(f"statistics of {self.source or 'this file'} have no {S.JOINTS_ACT} or {S.XYZ_ACT}")
        width = int(self.mean[key].shape[-1])
        if self.arms is None:
            return Arms.from_joint_width(width) if key == S.JOINTS_ACT else Arms.from_xyz_width(width)
        arms = Arms.parse(self.arms)
        if S.width(key, arms) != width:
            raise ValueError(f"statistics of {self.source or 'this file'} name arms {list(self.arms)} but their "
                             f"{key} has {width} values, not {S.width(key, arms)}")
        return arms

    # ---- use ----
    def _check(self, key: str, x: np.ndarray) -> None:
        if key not in self.mean:
            raise DataFormatError(f"normalization statistics of {self.source or 'this file'} lack {key!r} "
                                  f"({self.domain} stats have {', '.join(self.mean)}); recompute them with `egogym stats`")
        shape = self.mean[key].shape
        if x.shape[x.ndim - len(shape):] != shape:
            raise DataFormatError(f"{key!r} has trailing shape {x.shape[x.ndim - len(shape):]}, the statistics {shape}")

    def normalize(self, sample: Mapping[str, np.ndarray]) -> dict:
        """(x - mean) / std for every normalizable key of `sample` (a sample or a batch:
        leading dimensions broadcast); other keys pass through. A normalizable key the
        statistics lack is an error, never passed through."""
        out = dict(sample)
        for k in NORMALIZED_KEYS:
            if k in sample:
                x = np.asarray(sample[k])
                self._check(k, x)
                out[k] = (x - self.mean[k]) / self.std[k]
        return out

    def unnormalize(self, sample: Mapping[str, np.ndarray]) -> dict:
        """Inverse of `normalize`."""
        out = dict(sample)
        for k in NORMALIZED_KEYS:
            if k in sample:
                x = np.asarray(sample[k])
                self._check(k, x)
                out[k] = x * self.std[k] + self.mean[k]
        return out

    def check_keys(self, keys) -> None:
        """Raise unless every normalizable key in `keys` has statistics (use before training)."""
        for k in keys:
            if k in NORMALIZED_KEYS and k not in self.mean:
                raise DataFormatError(f"normalization statistics of {self.source or 'this file'} lack {k!r}; "
                                      f"recompute them with `egogym stats`")
