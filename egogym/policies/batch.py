"""From dataset samples to model inputs: batch order, collation, images, jitter, normalization.

Samples are the dicts of `egogym.data.reader.EgoDataset` (numpy): observation keys at
time t, `actions_xyz_act` (100, 3k), `actions_joints_act` (100, 7k, robot only) and
`pad_mask` (100,) bool (the data layer's convention: True where the chunk point is a
real step of the demo, False for the clipped repeats past its end). `ModelInputs`
turns it around into `pad_mask` True = padding, as attention masks want it.

Determinism: everything random in a training step (which samples, the CVAE noise, the
colour-jitter factors) is drawn for the *global* batch from a generator seeded by
(seed, step, domain), and each DDP rank takes its slice. A run therefore does not
depend on how it is split over processes or interrupted and resumed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from egogym.policies.config import ColorJitter, ModelConfig
from egogym.policies.normalize import Normalizer

_DOMAIN_CODE = {"robot": 1, "human": 2}


def step_generator(seed: int, step: int, domain: str, stream: int = 0) -> torch.Generator:
    """A torch generator for (seed, step, domain, stream); independent of rank and history."""
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([seed, step, _DOMAIN_CODE[domain], stream]).generate_state(1)[0]))
    return g


@dataclass(frozen=True)
class BatchPlan:
    """Which samples each rank reads at each step.

    The sample stream is a sequence of epochs, each a fresh permutation of range(n)
    (seeded by (seed, domain, epoch)); step s takes global positions
    [s*G, (s+1)*G) of that stream with G = batch * world, and rank r the r-th slice.
    """

    n: int
    batch: int
    seed: int
    domain: str
    world: int = 1
    rank: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"the {self.domain} training split is empty")

    def _perm(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, _DOMAIN_CODE[self.domain], epoch])
        return rng.permutation(self.n)

    def indices(self, step: int) -> np.ndarray:
        G = self.batch * self.world
        pos = np.arange(step * G + self.rank * self.batch, step * G + (self.rank + 1) * self.batch)
        epochs = pos // self.n
        out = np.empty(len(pos), dtype=np.int64)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = self._perm(int(e))[pos[sel] % self.n]
        return out


def collate(samples: list[dict]) -> dict[str, np.ndarray]:
    """Stack a list of sample dicts key by key."""
    keys = samples[0].keys()
    return {k: np.stack([s[k] for s in samples]) for k in keys if isinstance(samples[0][k], np.ndarray)
            or np.isscalar(samples[0][k])}


def images_to_tensor(img: np.ndarray | torch.Tensor, size: tuple[int, int], crop: tuple[float, ...] = ()) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, h, w) in [0, 1], resized (bilinear, antialiased) to size=(h, w).
    crop: (top, left, height, width) fractions of the image kept before resizing (() keeps it all)."""
    x = (img if isinstance(img, torch.Tensor) else torch.as_tensor(np.asarray(img))).permute(0, 3, 1, 2).float().div_(255.0)
    if crop:
        H, W = x.shape[-2:]
        t, l = int(round(crop[0] * H)), int(round(crop[1] * W))
        x = x[..., t:t + max(1, int(round(crop[2] * H))), l:l + max(1, int(round(crop[3] * W)))]
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def color_jitter(x: torch.Tensor, jitter: ColorJitter, factors: torch.Tensor) -> torch.Tensor:
    """Colour-jitter images x (B, 3, H, W) in [0, 1] with per-image uniform draws
    factors (B, 4) in [0, 1) for brightness, contrast, saturation and hue (in that order)."""
    if jitter.brightness == jitter.contrast == jitter.saturation == jitter.hue == 0:
        return x
    u = factors * 2 - 1  # [-1, 1)
    b = (1 + jitter.brightness * u[:, 0]).view(-1, 1, 1, 1)
    c = (1 + jitter.contrast * u[:, 1]).view(-1, 1, 1, 1)
    s = (1 + jitter.saturation * u[:, 2]).view(-1, 1, 1, 1)
    x = (x * b).clamp(0, 1)
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    x = ((x - gray.mean(dim=(2, 3), keepdim=True)) * c + gray.mean(dim=(2, 3), keepdim=True)).clamp(0, 1)
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    x = ((x - gray) * s + gray).clamp(0, 1)
    if jitter.hue > 0:
        theta = 2 * torch.pi * jitter.hue * u[:, 3]
        cos, sin = theta.cos(), theta.sin()
        R = torch.zeros(len(x), 3, 3, device=x.device)
        R[:, 0, 0] = 1
        R[:, 1, 1], R[:, 1, 2], R[:, 2, 1], R[:, 2, 2] = cos, -sin, sin, cos
        yiq = _RGB_TO_YIQ.to(x.device)
        M = torch.linalg.inv(yiq) @ R @ yiq  # (B, 3, 3) hue rotation in YIQ
        x = torch.einsum("bij,bjhw->bihw", M, x).clamp(0, 1)
    return x


def random_shift(x: torch.Tensor, pad: int, offsets: torch.Tensor) -> torch.Tensor:
    """DrQ's random shift: replicate-pad images x (B, C, H, W) by `pad` px on each side and
    crop back to (H, W) at integer offsets (B, 2) = (dy, dx) in [0, 2 pad]."""
    if pad <= 0:
        return x
    H, W = x.shape[-2:]
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    return torch.stack([xp[i, :, int(dy):int(dy) + H, int(dx):int(dx) + W] for i, (dy, dx) in enumerate(offsets)])


@dataclass
class ModelInputs:
    """One domain's batch, ready for `EgoACT.forward` (normalized, float32)."""

    domain: str
    images: dict[str, torch.Tensor]  # "front", "wrist" -> (B, 3, h, w) in [0, 1]
    proprio: torch.Tensor  # (B, 7k) robot joint positions or (B, 3k) human palm xyz, normalized
    actions: torch.Tensor | None  # (B, 100, 7k + 3k) robot [joints, xyz] or (B, 100, 3k) human, normalized
    pad_mask: torch.Tensor | None  # (B, 100) True = padding
    wrist_keep: torch.Tensor | None = None  # (B,) bool, robot only: False = read without the wrist camera (train.wrist_dropout)

    @property
    def size(self) -> int:
        return self.proprio.shape[0]


def model_inputs(batch: dict[str, np.ndarray], domain: str, cfg: ModelConfig, normalizer: Normalizer,
                 jitter: ColorJitter | None = None, jitter_factors: torch.Tensor | None = None,
                 shift_pad: int = 0, shift_offsets: torch.Tensor | None = None) -> ModelInputs:
    """Turn a collated numpy batch into normalized tensors for one domain.

    Training augmentation: colour jitter (jitter, jitter_factors (B, 8): 4 per camera), then
    a random shift (shift_pad, shift_offsets (B, 4) integers in [0, 2 shift_pad]: (dy, dx)
    per camera); either is skipped when its draws are None.

    Raises KeyError naming a missing key (e.g. a human file given as --robot)."""
    need = [cfg.front_key] + ([cfg.wrist_key] if domain == "robot" and cfg.wrist_key else [])
    need.append(cfg.proprio_key(domain))
    for k in need:
        if k not in batch:
            raise KeyError(f"{domain} batch lacks {k!r} (has {sorted(batch)})")
    cams = {"front": cfg.front_key}
    if domain == "robot" and cfg.wrist_key:
        cams["wrist"] = cfg.wrist_key
    images = {}
    for i, (cam, key) in enumerate(cams.items()):
        x = images_to_tensor(batch[key], cfg.image_size, cfg.front_crop if cam == "front" else ())
        if jitter is not None and jitter_factors is not None:
            x = color_jitter(x, jitter, jitter_factors[:, 4 * i: 4 * i + 4])
        if shift_pad > 0 and shift_offsets is not None:
            x = random_shift(x, shift_pad, shift_offsets[:, 2 * i: 2 * i + 2])
        images[cam] = x
    pkey = cfg.proprio_key(domain)
    proprio = normalizer.normalize(domain, pkey, torch.as_tensor(batch[pkey], dtype=torch.float32))
    actions = pad = None
    if "actions_xyz_act" in batch:
        xyz = normalizer.normalize(domain, "actions_xyz_act", torch.as_tensor(batch["actions_xyz_act"], dtype=torch.float32))
        if domain == "robot":
            if "actions_joints_act" not in batch:
                raise KeyError("robot batch lacks 'actions_joints_act'")
            j = normalizer.normalize(domain, "actions_joints_act",
                                     torch.as_tensor(batch["actions_joints_act"], dtype=torch.float32))
            actions = torch.cat([j, xyz], dim=-1)
        else:
            actions = xyz
        pad = ~torch.as_tensor(batch["pad_mask"], dtype=torch.bool) if "pad_mask" in batch else None
    return ModelInputs(domain, images, proprio, actions, pad)
