"""Synthetic datasets with EgoDataset's sample layout, for tests and benchmarks only.

`SyntheticEgoData(n, domain, ...)` behaves like `egogym.data.reader.EgoDataset` for the
policy code: `len()`, `[i] -> dict` of numpy arrays, `.domain`, `.calibration`, `.lengths`
(one demo of n steps). Its
chunks are a learnable function of the observation: the future xyz chunk moves from
`ee_pose` towards a target whose position is encoded in the Aria image's brightness
(left half) and colour (right half), so a model that reads the image and the proprio
can drive the loss down. Joint chunks are a fixed linear map of the xyz chunk.
Nothing here is real data; never use it to report task performance.
"""
from __future__ import annotations

import numpy as np

from egogym.core import geometry
from egogym.core.arms import ARM_NAMES, Arms
from egogym.data.schema import CHUNK
from egogym.data.stats import STD_FLOOR, NormStats
from egogym.core.spec import Calibration, aria_focal_px
from egogym.core.views import EE_POSE, FRONT, FRONT_LINE, FRONT_MASKED, LEFT_WRIST, RIGHT_WRIST



def synthetic_calibration(image_size: tuple[int, int], arms: "Arms | str | tuple[str, ...]" = ("right",)) -> Calibration:
    """A plausible calibration: the Aria looks down onto arm bases 0.5 m in front of it."""
    h, w = image_size
    K = geometry.intrinsics(aria_focal_px(h), h, w)
    T = {}
    # Columns: base x -> camera z (forward), base y -> camera -x, base z (up) -> camera -y (image up).
    R = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    for a in ARM_NAMES:
        T[a] = geometry.make_transform(R, np.array([0.15 * (1 if a == "right" else -1), 0.3, 0.2]))
    return Calibration({FRONT: K, RIGHT_WRIST: K, LEFT_WRIST: K},
                       {FRONT: (h, w), RIGHT_WRIST: (h, w), LEFT_WRIST: (h, w)},
                       {a: T[a] for a in Arms.parse(arms)}, source="synthetic")


class SyntheticEgoData:
    """n samples of one domain ("robot" or "human") of `arms` (an `Arms`, a label or arm names;
    `self.arms` is the `Arms`; see the module docstring).

    image_size: (H, W) of the stored images; pad_tail: the last samples' chunks are padded
    (pad_mask True) as at a demo's end.
    """

    def __init__(self, n: int, domain: str, arms: "Arms | str | tuple[str, ...]" = "right",
                 image_size: tuple[int, int] = (32, 32), seed: int = 0, pad_tail: int = 2):
        if domain not in ("robot", "human"):
            raise ValueError(domain)
        arms = Arms.parse(arms)
        self.n, self.domain, self.arms, self.image_size = n, domain, arms, tuple(image_size)
        self.lengths = [n]  # steps per demo, as EgoDataset.lengths: all n samples are one demo
        rng = np.random.default_rng([seed, 1 if domain == "robot" else 2])
        self.centre = np.tile([0, 0, 0.5], len(arms))  # each arm's centre of the chunks' start and target points
        self.target = rng.uniform(-0.1, 0.1, (n, arms.xyz_width)).astype(np.float32)
        self.start = rng.uniform(-0.1, 0.1, (n, arms.xyz_width)).astype(np.float32) + self.centre
        self.target += self.centre.astype(np.float32)
        self.noise_seed = seed
        self.pad_tail = pad_tail
        self.J = rng.normal(0, 1.0, (arms.xyz_width, arms.joint_width)).astype(np.float32)
        self.calibration = synthetic_calibration(self.image_size, arms)

    def __len__(self) -> int:
        return self.n

    def _image(self, i: int, flavour: int) -> np.ndarray:
        h, w = self.image_size
        img = np.zeros((h, w, 3), np.uint8)
        t = (self.target[i, Arms.xyz(0)] - self.centre[Arms.xyz(0)]) / 0.2 + 0.5  # first arm's target, in [0, 1]
        img[:, : w // 2] = (255 * t[0]).astype(np.uint8)
        img[:, w // 2:, 0] = (255 * t[1]).astype(np.uint8)
        img[:, w // 2:, 1] = (255 * t[2]).astype(np.uint8)
        img[:, w // 2:, 2] = 40 * flavour
        return img

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(i)
        s = np.linspace(0, 1, CHUNK, dtype=np.float32)[:, None]
        xyz = (1 - s) * self.start[i] + s * self.target[i]  # (100, 3k)
        pad = np.ones(CHUNK, bool)  # data-layer convention: True = a real step
        if i >= self.n - self.pad_tail:
            pad[CHUNK // 2:] = False
            xyz[CHUNK // 2:] = xyz[CHUNK // 2 - 1]
        out = {FRONT: self._image(i, 0), FRONT_MASKED: self._image(i, 1),
               FRONT_LINE: self._image(i, 2), EE_POSE: self.start[i].astype(np.float64),
               "actions_xyz_act": xyz.astype(np.float64), "pad_mask": pad}
        if self.domain == "robot":
            joints = (xyz - self.centre) @ self.J
            out["actions_joints_act"] = joints.astype(np.float64)
            out["joint_positions"] = joints[0].astype(np.float64)
            out[RIGHT_WRIST] = self._image(i, 3)[::-1].copy()
        return out


def synthetic_stats(ds: SyntheticEgoData) -> NormStats:
    """The data layer's NormStats (mean/std per key, floored) over every sample of a synthetic dataset."""
    keys = ("joint_positions", "ee_pose", "actions_joints_act", "actions_xyz_act") if ds.domain == "robot" \
        else ("ee_pose", "actions_xyz_act")
    samples = [ds[i] for i in range(len(ds))]
    mean = {k: np.mean([s[k] for s in samples], 0) for k in keys}
    std = {k: np.maximum(np.std([s[k] for s in samples], 0), STD_FLOOR) for k in keys}
    return NormStats(ds.domain, mean, std, source=f"synthetic {ds.domain}", demos=["synthetic"],
                     image_size=tuple(ds.image_size), arms=ds.arms.names)


def train_synthetic_run(out, preset_name: str = "smoke", image_size: tuple[int, int] = (32, 32), steps: int = 1,
                        cotrain: bool = True, samples: int = 16, overrides: dict | None = None):
    """A run folder trained `steps` steps on synthetic data at `image_size` (tests, benchmarks,
    rehearsals: a real checkpoint in seconds, its weights barely trained). Returns `out`."""
    from egogym.policies.config import preset
    from egogym.policies.train import Trainer

    r = SyntheticEgoData(samples, "robot", image_size=image_size)
    data, stats = {"robot": (r, r)}, {"robot": synthetic_stats(r)}
    if cotrain:
        h = SyntheticEgoData(samples, "human", image_size=image_size)
        data["human"], stats["human"] = (h, h), synthetic_stats(h)
    cfg = preset(preset_name).with_overrides({"train.video_frames": 0, **(overrides or {})})
    Trainer(cfg, data, stats, out, steps, progress=False).fit()
    return out
