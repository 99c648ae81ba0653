"""Typed, frozen configuration of a policy and its training, with named presets.

A run is described by one `Config` = `ModelConfig` (the network) + `TrainConfig`
(optimisation, validation, logging) + an execution choice (`FirstK` or
`TemporalEnsemble`, how a predicted chunk is played out at evaluation time). Every
field is validated on construction; `Config.to_dict()` is written into each run's
folder as `config.json` and `Config.from_dict` reads it back, refusing unknown
fields with the nearest known name.

Presets (`PRESETS`, `preset(name)`):
- `paper`: EgoMimic's Object-in-Bowl configuration (REFERENCE §3), for GPU users:
  ResNet18 per camera, hidden 512, 7 encoder / 7 decoder / 4 style layers, 100 queries,
  images at 480x640, batch 16 per domain, AdamW 5e-5.
- `cpu`: for this 2-core machine; its shape chosen by throughput (bench/train_throughput.py,
  table in docs/POLICIES.md), its recipe by closed-loop success (exp/LOG.md).
- `smoke`: a tiny model for tests (runs in milliseconds).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Union

from egogym.core.configs import build_frozen, check_keys, nearest as _nearest
from egogym.core.errors import UserError
from egogym.core.spec import ARIA_IMAGE_SIZE
from egogym.core.views import FRONT, FRONT_LINE, FRONT_MASKED, RIGHT_WRIST
from egogym.data.schema import CHUNK  # points per action chunk: EgoMimic's *_act arrays hold 100



class ConfigError(UserError, ValueError):
    """A bad preset, field or value; the message is one line naming the fix."""


@dataclass(frozen=True)
class ModelConfig:
    """The ACT network shared by the EgoMimic model and the robot-only baseline."""

    image_size: tuple[int, int] = (64, 64)  # (height, width) every camera image is resized to (px)
    backbone: str = "conv"  # "conv": a small strided CNN; "resnet18": torchvision-style ResNet18 (random init)
    conv_channels: tuple[int, ...] = (32, 64, 128, 128)  # "conv" backbone: channels of each stride-2 3x3 conv
    hidden: int = 256  # transformer width d_model
    ff: int = 1024  # transformer feed-forward width
    heads: int = 8  # attention heads
    enc_layers: int = 2  # main transformer encoder layers
    dec_layers: int = 2  # decoder layers; every one of them runs (no ACT "only the first" bug)
    style_layers: int = 2  # CVAE style-encoder layers
    latent: int = 32  # CVAE latent size
    dropout: float = 0.1  # dropout inside the transformer layers
    chunk: int = CHUNK  # points per predicted chunk (fixed by the data: 100)
    queries: int = 100  # decoder queries; the chunk is linearly interpolated from them (== chunk: one per point)
    style_points: int = 100  # chunk points the style encoder sees (evenly subsampled from the chunk)
    front_key: str = FRONT_LINE  # Aria image key fed to the model (both domains)
    wrist_key: str = RIGHT_WRIST  # robot wrist camera key ("" for none)
    front_crop: tuple[float, ...] = ()  # (top, left, height, width) fractions of the Aria image kept before resizing to image_size (): whole image
    coord_channels: bool = False  # append 2 normalized (y, x) coordinate channels to every image before the CNN (CoordConv)
    keypoints: int = 0  # >0: spatial-softmax keypoints (robomimic) from the CNN's penultimate map, as one extra token per camera
    robot_state: str = "joints"  # ROBOT_STATES: what the robot's proprio and style inputs are ("joints": EgoMimic's; "pinch": the human's)

    def proprio_key(self, domain: str) -> str:
        """The observation key a domain's proprio input reads: the robot's joint positions, or the
        pinch point (`ee_pose`, m, Aria frame) for the human and for a robot whose state is "pinch"."""
        return "joint_positions" if domain == "robot" and self.robot_state == "joints" else "ee_pose"

    def __post_init__(self):
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise ConfigError(f"model.image_size={self.image_size}: give (height, width), each at least 16")
        object.__setattr__(self, "image_size", tuple(int(x) for x in self.image_size))
        object.__setattr__(self, "conv_channels", tuple(int(x) for x in self.conv_channels))
        if self.backbone not in ("conv", "resnet18"):
            raise ConfigError(f"model.backbone={self.backbone!r}: {_nearest(self.backbone, ('conv', 'resnet18'))}")
        if self.backbone == "conv" and not self.conv_channels:
            raise ConfigError("model.conv_channels is empty: give at least one conv layer")
        if self.hidden % self.heads:
            raise ConfigError(f"model.hidden={self.hidden} is not divisible by model.heads={self.heads}")
        for name in ("hidden", "ff", "heads", "enc_layers", "dec_layers", "style_layers", "latent"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}={getattr(self, name)}: must be at least 1")
        if self.chunk != CHUNK:
            raise ConfigError(f"model.chunk={self.chunk}: the data's chunks have {CHUNK} points")
        if not 2 <= self.queries <= self.chunk:
            raise ConfigError(f"model.queries={self.queries}: must be in [2, {self.chunk}]")
        if not 1 <= self.style_points <= self.chunk:
            raise ConfigError(f"model.style_points={self.style_points}: must be in [1, {self.chunk}]")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout}: must be in [0, 1)")
        object.__setattr__(self, "front_crop", tuple(float(x) for x in self.front_crop))
        if self.front_crop:
            t, l, h, w = self.front_crop if len(self.front_crop) == 4 else (-1, -1, -1, -1)
            if not (0 <= t < 1 and 0 <= l < 1 and 0 < h <= 1 - t + 1e-9 and 0 < w <= 1 - l + 1e-9):
                raise ConfigError(f"model.front_crop={self.front_crop}: give (top, left, height, width) as fractions "
                                  f"inside the image, or () for none")
        if self.robot_state not in ROBOT_STATES:
            raise ConfigError(f"model.robot_state={self.robot_state!r}: {_nearest(self.robot_state, ROBOT_STATES)}")
        if self.keypoints < 0:
            raise ConfigError(f"model.keypoints={self.keypoints}: must not be negative")
        if self.front_key not in (FRONT, FRONT_MASKED, FRONT_LINE):
            raise ConfigError(f"model.front_key={self.front_key!r}: "
                              f"{_nearest(self.front_key, (FRONT, FRONT_MASKED, FRONT_LINE))}")


    @property
    def cameras(self) -> tuple[str, ...]:
        """The observation image keys the model reads: the Aria view, then the wrist camera if any."""
        return tuple(k for k in (self.front_key, self.wrist_key) if k)


@dataclass(frozen=True)
class ColorJitter:
    """Colour jitter, EgoMimic's only image augmentation. Factors are drawn uniformly
    per image: brightness and contrast and saturation in [1-x, 1+x], hue rotation in
    [-x, x] of a full turn. All zero turns it off."""

    brightness: float = 0.3
    contrast: float = 0.4
    saturation: float = 0.5
    hue: float = 0.08

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not 0.0 <= v < (0.5 if f.name == "hue" else 1.0):
                raise ConfigError(f"train.jitter.{f.name}={v}: out of range")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, validation and logging."""

    batch_size: int = 16  # samples per domain per optimizer step per process (one robot + one human batch)
    steps: int = 2000  # optimizer steps of a run (--steps overrides)
    lr: float = 1e-4  # AdamW learning rate (constant)
    weight_decay: float = 1e-4  # AdamW weight decay
    kl_weight: float = 20.0  # weight of the CVAE KL term
    hand_lambda: float = 1.0  # weight of the human loss (EgoMimic's hand_lambda)
    grad_clip: float = 10.0  # global gradient-norm clip (0: off)
    val_every: int = 500  # validate every this many steps (and at the end)
    val_batches: int = 8  # validation batches per domain (0: the whole valid split)
    video_frames: int = 60  # frames per validation video (0: no videos)
    ckpt_every: int = 500  # write a checkpoint every this many steps (and at the end)
    log_every: int = 10  # TensorBoard scalars every this many steps
    seed: int = 0  # batch order, initial weights, noise: the same seed gives the same run
    jitter: ColorJitter = ColorJitter()
    shift_pad: int = 0  # DrQ-style random shift of every training image: replicate-pad by this many px, random-crop back (0: off)
    lr_schedule: str = "constant"  # "constant" or "cosine" (cosine decay from lr to 0 over the run's steps, after warmup)
    warmup_steps: int = 0  # linear learning-rate warmup from 0 over this many steps (0: none)
    early_steps: int = 0  # robot frames t < early_steps of each demo (where only vision tells where the toy is) ...
    early_repeat: int = 1  # ... are drawn this many times as often as the others (1: uniform over frames)
    early_human: bool = False  # the human demos' first early_steps frames too (False: EgoMimic-era runs, robot frames only)
    proprio_dropout: float = 0.0  # probability that a robot training sample's joint positions are replaced by their mean (0 normalized)
    wrist_dropout: float = 0.0  # probability that a robot training sample is read without its wrist camera (its tokens masked out), as every human sample is
    normalization: str = "per_domain"  # NORMALIZATIONS: "per_domain" (EgoMimic: each domain its own statistics) or "shared" (one set over both)
    # Bridges between the domains' trunk features (`policies.align`; co-training only, 0 = off):
    ot_weight: float = 0.0  # weight of EgoBridge's action-conditioned Sinkhorn divergence between the two batches' trunk features
    ot_blur: float = 0.5  # Sinkhorn blur: entropic eps = ot_blur^2, in the pair cost's units (mean squared feature difference)
    ot_action_scale: float = 1.0  # weight of the action term (soft-DTW divergence of the xyz chunks, (z-units)^2 per point) in the pair cost
    ot_dtw_points: int = 10  # chunk points the soft-DTW compares (evenly subsampled from the 100)
    ot_dtw_gamma: float = 0.1  # soft-DTW smoothing gamma, (z-units)^2 (-> 0: plain DTW)
    adversarial_weight: float = 0.0  # weight of the DANN loss: a domain classifier on the trunk features through gradient reversal
    align_tokens: str = "queries"  # ALIGN_TOKENS: which pooled trunk features both bridges read

    def __post_init__(self):
        if isinstance(self.jitter, dict):
            object.__setattr__(self, "jitter", _build(ColorJitter, self.jitter, "train.jitter"))
        for name in ("batch_size", "steps", "val_every", "ckpt_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}={getattr(self, name)}: must be at least 1")
        for name in ("lr", "weight_decay", "kl_weight", "hand_lambda", "grad_clip", "val_batches", "video_frames"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}={getattr(self, name)}: must not be negative")
        if self.lr == 0:
            raise ConfigError("train.lr=0: nothing would train")
        if self.shift_pad < 0:
            raise ConfigError(f"train.shift_pad={self.shift_pad}: must not be negative")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"train.lr_schedule={self.lr_schedule!r}: {_nearest(self.lr_schedule, LR_SCHEDULES)}")
        if self.warmup_steps < 0:
            raise ConfigError(f"train.warmup_steps={self.warmup_steps}: must not be negative")
        if self.early_steps < 0 or self.early_repeat < 1:
            raise ConfigError(f"train.early_steps={self.early_steps}, train.early_repeat={self.early_repeat}: "
                              f"give early_steps >= 0 and early_repeat >= 1")
        for name in ("proprio_dropout", "wrist_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"train.{name}={getattr(self, name)}: must be in [0, 1)")
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"train.normalization={self.normalization!r}: {_nearest(self.normalization, NORMALIZATIONS)}")
        for name in ("ot_weight", "ot_action_scale", "adversarial_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}={getattr(self, name)}: must not be negative (0: off)")
        for name in ("ot_blur", "ot_dtw_gamma"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"train.{name}={getattr(self, name)}: must be positive")
        if not 2 <= self.ot_dtw_points <= CHUNK:
            raise ConfigError(f"train.ot_dtw_points={self.ot_dtw_points}: must be in [2, {CHUNK}]")
        if self.align_tokens not in ALIGN_TOKENS:
            raise ConfigError(f"train.align_tokens={self.align_tokens!r}: {_nearest(self.align_tokens, ALIGN_TOKENS)}")

    @property
    def bridges(self) -> tuple[str, ...]:
        """The alignment losses this run adds (their weight fields), () for EgoMimic's objective."""
        return tuple(n for n in ("ot_weight", "adversarial_weight") if getattr(self, n) > 0)

    def check_domains(self, domains: tuple[str, ...]) -> None:
        """ConfigError naming the field when a bridge is on but there is no human data to align with."""
        if self.bridges and "human" not in domains:
            name = self.bridges[0]
            raise ConfigError(f"train.{name}={getattr(self, name)} aligns robot and human features, and this run "
                              f"has no human data: pass --human, or set train.{name}=0")

    def lr_at(self, step: int, total: int) -> float:
        """Learning rate of optimizer step `step` (0-based) in a run of `total` steps."""
        f = 1.0
        if self.warmup_steps and step < self.warmup_steps:
            f = (step + 1) / self.warmup_steps
        elif self.lr_schedule == "cosine":
            span = max(1, total - self.warmup_steps)
            f = 0.5 * (1 + math.cos(math.pi * min(1.0, (step - self.warmup_steps) / span)))
        return self.lr * f


LR_SCHEDULES = ("constant", "cosine")
NORMALIZATIONS = ("per_domain", "shared")
"""How the two domains' values are z-scored (`policies.normalize.pool`): "per_domain" as EgoMimic
(each domain its own mean and std, so one camera-frame point has a different normalized value in
each domain); "shared": the keys both domains hold (`ee_pose`, `actions_xyz_act`) with one mean
and std over both, weighting the domains equally as every training step does (one batch each)."""
ALIGN_TOKENS = ("queries", "memory")
"""The pooled trunk features the bridges (`train.ot_weight`, `train.adversarial_weight`) align, each
(B, hidden), LayerNorm'ed by the trunk: "queries": the decoder's output features, averaged over the
`model.queries` queries (what the heads read); "memory": the main encoder's outputs at the front
(Aria) camera's image tokens, averaged (the tokens both domains have; the robot's wrist tokens and
the z and proprio tokens left out)."""
ROBOT_STATES = ("joints", "pinch")
"""The robot's state as the model reads it (`ModelConfig.robot_state`): "joints" as EgoMimic (its
joint positions through robot-only input layers; the style encoder reads joint and xyz chunks);
"pinch": the human's representation (the pinch point in the Aria frame, the xyz chunk), through the
same input layers as the human's, so that no input layer tells the domains apart (HAT's one state
representation, arXiv 2503.13441). The joint head is trained on robot data either way."""


@dataclass(frozen=True)
class FirstK:
    """Query every k chunk points and play the first k points of each chunk
    (EgoMimic: k=25 at 25 Hz, a query once a second)."""

    k: int = 25

    def __post_init__(self):
        if not 1 <= self.k <= CHUNK:
            raise ConfigError(f"execution.k={self.k}: must be in [1, {CHUNK}]")


@dataclass(frozen=True)
class TemporalEnsemble:
    """Query at every chunk point; the command is an average over every chunk that
    covers the current time, weighted exp(-m * i) with i=0 the oldest chunk (ACT)."""

    m: float = 0.01

    def __post_init__(self):
        if self.m < 0:
            raise ConfigError(f"execution.m={self.m}: must not be negative")


DRIVES = ("joint_head", "pose_head_ik", "human_pose_ik")
"""Which head places the arm at evaluation (`egogym.policies.policy.EgoPolicy`): EgoMimic's joint
head; the pose head through position IK (the joint head's wrist and gripper kept); or the pose head
read as the human domain (front camera only, the human's statistics) through the same IK."""
HUMAN_DRIVES = ("human_pose_ik",)
"""Drives that read the human domain: co-trained runs only."""

Execution = Union[FirstK, TemporalEnsemble]
EXECUTIONS = {"first_k": FirstK, "temporal_ensemble": TemporalEnsemble}


@dataclass(frozen=True)
class Config:
    """A whole run: model, training and how chunks are executed."""

    preset: str = "cpu"  # the preset this config started from (recorded, not interpreted)
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    execution: Execution = FirstK()
    chunk_stride_steps: int = 2  # control steps (50 Hz) between chunk points: actions_*_act are t, t+2, ..., t+198

    def __post_init__(self):
        if self.chunk_stride_steps < 1:
            raise ConfigError(f"chunk_stride_steps={self.chunk_stride_steps}: must be at least 1")
        if self.train.wrist_dropout > 0 and not self.model.wrist_key:
            raise ConfigError(f"train.wrist_dropout={self.train.wrist_dropout}: the model reads no wrist camera "
                              f"(model.wrist_key is empty); leave it at 0")

    # ---- (de)serialisation ---------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        kind = next(k for k, v in EXECUTIONS.items() if isinstance(self.execution, v))
        d["execution"] = {"kind": kind, **d["execution"]}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        d = dict(d)
        _check_keys(cls, d, "")
        kw: dict[str, Any] = {}
        if "model" in d:
            kw["model"] = _build(ModelConfig, d["model"], "model")
        if "train" in d:
            kw["train"] = _build(TrainConfig, d["train"], "train")
        if "execution" in d:
            kw["execution"] = _build_execution(d["execution"])
        for k in ("preset", "chunk_stride_steps"):
            if k in d:
                kw[k] = d[k]
        return cls(**kw)

    def with_overrides(self, overrides: dict[str, Any]) -> "Config":
        """A copy with dotted fields replaced, e.g. {"train.lr": 1e-4, "model.queries": 20}."""
        d = self.to_dict()
        for key, value in overrides.items():
            node, parts = d, key.split(".")
            for i, p in enumerate(parts):
                if not isinstance(node, dict) or p not in node:
                    where = ".".join(parts[:i]) or "config"
                    known = list(node) if isinstance(node, dict) else []
                    raise ConfigError(f"unknown field {key!r} ({where} has no {p!r}): {_nearest(p, known)}")
                if i == len(parts) - 1:
                    node[p] = _coerce(value, node[p], key)
                else:
                    node = node[p]
        return Config.from_dict(d)


def _coerce(value: Any, old: Any, key: str) -> Any:
    """Parse a command-line string into the type of the field it replaces."""
    if not isinstance(value, str) or isinstance(old, str):
        return value
    try:
        if isinstance(old, bool):
            return value.lower() in ("1", "true", "yes")
        if isinstance(old, int):
            return int(value)
        if isinstance(old, float):
            return float(value)
        if isinstance(old, (list, tuple)):
            return [type(old[0])(x) if old else float(x) for x in value.replace("x", ",").split(",")]
    except ValueError:
        raise ConfigError(f"{key}={value!r}: expected a {type(old).__name__}") from None
    raise ConfigError(f"{key}: cannot be set from the command line")


def _check_keys(cls, d: dict, where: str) -> None:
    check_keys(cls, d, where.rstrip(".") or "config", ConfigError)


def _build(cls, d: dict, where: str):
    return build_frozen(cls, d, where, ConfigError)


def execution_from_dict(d: dict) -> Execution:
    """An execution choice from its dict ({"kind": "first_k", "k": 25} or
    {"kind": "temporal_ensemble", "m": 0.01}, as `Config.to_dict` writes it); ConfigError otherwise."""
    return _build_execution(d)


def execution_to_dict(execution: Execution) -> dict:
    """The inverse of `execution_from_dict`."""
    kind = next(k for k, v in EXECUTIONS.items() if isinstance(execution, v))
    return {"kind": kind, **dataclasses.asdict(execution)}


def _build_execution(d) -> Execution:
    if isinstance(d, (FirstK, TemporalEnsemble)):
        return d
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in EXECUTIONS:
        raise ConfigError(f"execution.kind={kind!r}: {_nearest(str(kind), EXECUTIONS)}")
    return _build(EXECUTIONS[kind], d, "execution")


# ---- presets ------------------------------------------------------------------------
PRESETS: dict[str, Config] = {
    # REFERENCE §3 (EgoMimic Object-in-Bowl). For GPUs: about 0.8 samples/s on this CPU.
    "paper": Config(
        preset="paper",
        model=ModelConfig(image_size=ARIA_IMAGE_SIZE, backbone="resnet18", hidden=512, ff=3200, heads=8,
                          enc_layers=7, dec_layers=7, style_layers=4, latent=32, dropout=0.1,
                          queries=100, style_points=100),
        train=TrainConfig(batch_size=16, steps=120_000, lr=5e-5, weight_decay=1e-4, kl_weight=20.0,
                          hand_lambda=1.0, val_every=5000, ckpt_every=5000, log_every=50, video_frames=200),
        execution=FirstK(25),
    ),
    # Shape chosen by measurement on this 2-core CPU (docs/POLICIES.md, bench/train_throughput.py --design):
    # 64x64 images, a 4-conv CNN, width 128 (ff 512, 4 heads), 2/2/1 layers, the style encoder on 10 of the 100
    # points, no dropout (its random masks cost a tenth of a step here). Recipe chosen by
    # closed-loop success of robot-only ACT on Object-in-Bowl (exp/LOG.md, docs/POLICIES.md
    # "The cpu recipe"): 25 decoder queries (10 cannot fit the chunks closer than 1.2 cm RMS), the
    # Aria image cropped to the workspace before resizing (the toy is ~3 px at 64x64), DrQ random
    # shift in place of colour jitter (the sim's lighting is fixed), the first 10 frames of each
    # robot demo drawn 10x as often and joint positions dropped from 30% of robot samples (the
    # policy otherwise extrapolates from its joints and never learns where the toy is), warmup +
    # cosine learning rate. Width 128 rather than 256: half the step time and as good per step
    # (197 demos, 3000 steps: 91.0% and 73.0% over two seeds, against 78.5% at width 256 and 4500
    # steps). 3000 steps: about 7 minutes robot-only with --threads 1.
    "cpu": Config(
        preset="cpu",
        model=ModelConfig(image_size=(64, 64), backbone="conv", conv_channels=(32, 64, 128, 256),
                          hidden=128, ff=512, heads=4, enc_layers=2, dec_layers=2, style_layers=1, latent=32,
                          dropout=0.0, queries=25, style_points=10, front_crop=(0.34375, 0.4375, 0.5, 0.5)),
        train=TrainConfig(batch_size=16, steps=3000, lr=3e-4, weight_decay=1e-4, kl_weight=20.0, hand_lambda=1.0,
                          val_every=500, val_batches=4, ckpt_every=250, log_every=10, video_frames=60,
                          jitter=ColorJitter(0.0, 0.0, 0.0, 0.0), shift_pad=4, lr_schedule="cosine", warmup_steps=100,
                          early_steps=10, early_repeat=10, proprio_dropout=0.3),
        execution=FirstK(25),
    ),
    # Tests: tiny and fast; no jitter so outputs are easy to pin.
    "smoke": Config(
        preset="smoke",
        model=ModelConfig(image_size=(32, 32), backbone="conv", conv_channels=(8, 16), hidden=32, ff=64, heads=2,
                          enc_layers=1, dec_layers=1, style_layers=1, latent=4, dropout=0.0, queries=5,
                          style_points=5),
        train=TrainConfig(batch_size=4, steps=4, lr=1e-3, val_every=2, val_batches=1, ckpt_every=2, log_every=1,
                          video_frames=4, jitter=ColorJitter(0.0, 0.0, 0.0, 0.0)),
        execution=FirstK(25),
    ),
}


DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"
"""The `--device` names (`egogym.policies.device.resolve_device`), checked torch-free here."""
DEVICE_HELP = ("where the model runs: auto (CUDA when torch sees a GPU, else the CPU), cpu, cuda or cuda:N; "
               "on CUDA bf16 autocast with fp32 weights")


def check_device(text: str) -> str:
    """`text` if it names a device (see DEVICE_PATTERN), else UserError naming --device. Torch-free:
    whether the device is there is `resolve_device`'s question."""
    import re

    if not isinstance(text, str) or not re.fullmatch(DEVICE_PATTERN, text):
        raise UserError(f"--device {text!r}: use auto, cpu, cuda or cuda:N")
    return text


def default_threads(processes: int = 1, cores: int | None = None) -> int:
    """Torch threads per process when `processes` share this machine's `cores`: one core left
    free, so that no thread of ours waits for a core (torch's threads meet at barriers: one
    descheduled thread stalls them all). Measured on 2 cores beside one other busy process
    (docs/POLICIES.md, "Threads"): 1 thread trained the cpu preset at 99 samples/s (median
    step), 2 threads at 32; so 1 thread there, and cores // processes - 1 on larger machines."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, processes) - 1)


def load_run_config(run_dir: str | Path) -> Config:
    """The `Config` a training run folder was started with (`RUN/config.json`), without torch.

    A missing or unreadable file is a one-line ConfigError naming it."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; give a run folder written by `egogym train`")
    try:
        return Config.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a JSON config ({e}); retrain, or restore the file") from None
    except (TypeError, AttributeError) as e:
        raise ConfigError(f"{path}: not a run config ({e}); retrain, or restore the file") from None


def preset(name: str) -> Config:
    """The named preset; an unknown name is a one-line ConfigError with the nearest name."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: {_nearest(name, PRESETS)}")
    return PRESETS[name]
