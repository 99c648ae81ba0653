"""ACT with EgoMimic's two heads: one network for co-training and for the robot-only baseline.

`EgoACT(cfg, arms, domains)` is a CVAE action-chunking transformer (ACT):

- a style encoder (transformer, `style_layers`) reads [CLS, proprio, a subsample of the
  ground-truth chunk] and gives the posterior N(mu, sigma) over a `latent`-D style z
  (z = 0 at inference);
- per camera a CNN backbone (`conv` or `resnet18`) turns each image into a grid of
  tokens (+ fixed 2-D sine position codes + a learned camera embedding);
- the main encoder (`enc_layers`) reads [z, proprio, image tokens]; the decoder
  (`dec_layers`, every layer runs) turns `queries` learned queries into `queries`
  feature vectors, and the heads map them to chunk points;
- `queries < chunk`: the 100-point chunk is the linear interpolation of the `queries`
  points placed evenly over it (fixed matrix `interp`, shape (chunk, queries));
- heads: the pose head (xyz, 3 per arm) runs for both domains; the joint head
  (7 per arm) only for robot batches, so it gets gradients only from robot data.

The trunk (backbones, encoders, decoder, queries) is shared by human and robot data;
only the proprio and action input projections are per domain, because the domains'
inputs differ (robot: joint positions and joint+xyz chunks; human: palm xyz), unless
`model.robot_state = "pinch"` gives the robot the human's inputs through the same layers.

Everything is in normalized units: the model reads z-scored low-dimensional inputs
and predicts z-scored chunks (per domain, per chunk point; see `policies.normalize`).
Images are float in [0, 1], (B, 3, H, W) at `cfg.image_size`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from egogym.core.arms import Arms
from egogym.policies.config import ModelConfig

DOMAINS = ("robot", "human")


def interpolation_matrix(chunk: int, queries: int) -> Tensor:
    """(chunk, queries) weights: point i of the chunk is linearly interpolated between the
    two query points around position i, with query k placed at i = k (chunk-1)/(queries-1)."""
    pos = torch.linspace(0, queries - 1, chunk, dtype=torch.float64)
    lo = pos.floor().clamp(max=queries - 2).long()
    frac = pos - lo
    W = torch.zeros(chunk, queries, dtype=torch.float64)
    W[torch.arange(chunk), lo] = 1 - frac
    W[torch.arange(chunk), lo + 1] += frac
    return W.float()


def sine_positions_2d(h: int, w: int, dim: int) -> Tensor:
    """(h*w, dim) fixed 2-D sine/cosine position codes (half the channels for y, half for x)."""
    quarter = dim // 4
    freq = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float32) / max(quarter, 1)))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    parts = []
    for coord in (ys.reshape(-1), xs.reshape(-1)):
        ang = coord[:, None] * freq[None]
        parts += [ang.sin(), ang.cos()]
    pe = torch.cat(parts, dim=1)
    return F.pad(pe, (0, dim - pe.shape[1]))


class ConvBackbone(nn.Module):
    """Stride-2 3x3 convolutions with ReLU, then a 1x1 projection to the model width.

    in_channels: 3 (RGB) or 5 (RGB + coordinate channels). keypoints > 0: `keypoints_of`
    gives spatial-softmax keypoints (robomimic's SpatialSoftmax: a 1x1 conv to K maps,
    softmax over the map, expected (x, y) in [-1, 1]) from the penultimate conv's map
    (stride 2^(n-1): twice the resolution of the token grid)."""

    def __init__(self, channels: tuple[int, ...], out: int, in_channels: int = 3, keypoints: int = 0):
        super().__init__()
        layers, c_in = [], in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c_in, out, 1)
        self.stride = 2 ** len(channels)
        self.keypoints = keypoints
        if keypoints:
            pen = channels[-2] if len(channels) >= 2 else in_channels
            self.kp_maps = nn.Conv2d(pen, keypoints, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.body(x))

    def forward_with_keypoints(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(token map (B, out, h, w), keypoints (B, K, 2) as (x, y) in [-1, 1])."""
        cut = len(self.body) - 2  # input of the last conv: the penultimate map
        pen = self.body[:cut](x)
        f = self.proj(self.body[cut:](pen))
        m = self.kp_maps(pen)
        B, K, H, W = m.shape
        att = m.flatten(2).softmax(-1).view(B, K, H, W)
        ys = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype)
        kx = (att.sum(2) * xs).sum(-1)
        ky = (att.sum(3) * ys).sum(-1)
        return f, torch.stack([kx, ky], dim=-1)


def coordinate_channels(img: Tensor) -> Tensor:
    """img (B, C, H, W) -> (B, C+2, H, W) with normalized y and x in [-1, 1] appended (CoordConv)."""
    B, _, H, W = img.shape
    ys = torch.linspace(-1, 1, H, device=img.device, dtype=img.dtype).view(1, 1, H, 1).expand(B, 1, H, W)
    xs = torch.linspace(-1, 1, W, device=img.device, dtype=img.dtype).view(1, 1, 1, W).expand(B, 1, H, W)
    return torch.cat([img, ys, xs], dim=1)


class _Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c_out)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c_out)
        self.down = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet18Backbone(nn.Module):
    """ResNet18 layout (stem + 4 stages of 2 basic blocks, stride 32), random init, then a
    1x1 projection to the model width. (No ImageNet weights offline: train from scratch.)"""

    def __init__(self, out: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        stages, c_in = [], 64
        for c, s in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [_Basic(c_in, c, s), _Basic(c, c, 1)]
            c_in = c
        self.stages = nn.Sequential(*stages)
        self.proj = nn.Conv2d(512, out, 1)
        self.stride = 32

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.stages(self.stem(x)))


def _encoder(cfg: ModelConfig, layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, cfg.ff, cfg.dropout, batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(cfg.hidden), enable_nested_tensor=False)


def model_arms(arms: "Arms | str | int") -> Arms:
    """The `Arms` of a model: an `Arms`, a label or arm names; an int is a number of arms
    (`Arms.from_count`: how models and checkpoints named their arms before `Arms`)."""
    if isinstance(arms, int) and not isinstance(arms, bool):
        return Arms.from_count(arms)
    return Arms.parse(arms)


class EgoACT(nn.Module):
    """The EgoMimic / ACT network (see the module docstring).

    arms: the arms it drives: an `Arms`, "right" | "left" | "both" or arm names (their
    `joint_width` joint values and `xyz_width` xyz per point); a number of arms, as older
    code and checkpoints give it, means `Arms.from_count` (1: the right arm, 2: both).
    `model.arms` is the `Arms`.
    domains: ("robot",) for the robot-only baseline, ("robot", "human") for co-training;
    human-only input projections exist only when "human" is in domains.
    """

    def __init__(self, cfg: ModelConfig, arms: "Arms | str | int" = "right", domains: tuple[str, ...] = DOMAINS):
        super().__init__()
        for d in domains:
            if d not in DOMAINS:
                raise ValueError(f"unknown domain {d!r}: choose from {DOMAINS}")
        if "robot" not in domains:
            raise ValueError("the joint head needs robot data: domains must include 'robot'")
        self.cfg, self.arms, self.domains = cfg, model_arms(arms), tuple(domains)
        h = cfg.hidden
        self.dim_joints, self.dim_xyz = self.arms.joint_width, self.arms.xyz_width
        self.cameras = {"robot": ["front"] + (["wrist"] if cfg.wrist_key else []), "human": ["front"]}
        if cfg.backbone != "conv" and (cfg.coord_channels or cfg.keypoints):
            raise ValueError("model.coord_channels / model.keypoints need the 'conv' backbone")
        in_ch = 5 if cfg.coord_channels else 3
        make = ((lambda: ConvBackbone(cfg.conv_channels, h, in_ch, cfg.keypoints)) if cfg.backbone == "conv"
                else (lambda: ResNet18Backbone(h)))
        self.backbones = nn.ModuleDict({"front": make()})
        if cfg.wrist_key:
            self.backbones["wrist"] = make()
        self.camera_embed = nn.ParameterDict({k: nn.Parameter(torch.zeros(h)) for k in self.backbones})
        if cfg.keypoints:  # one extra token per camera: its K keypoints' (x, y), flattened and projected
            self.keypoint_in = nn.ModuleDict({k: nn.Linear(2 * cfg.keypoints, h) for k in self.backbones})
            self.keypoint_embed = nn.ParameterDict({k: nn.Parameter(torch.randn(h) * 0.02) for k in self.backbones})
        stride = self.backbones["front"].stride
        fh, fw = math.ceil(cfg.image_size[0] / stride), math.ceil(cfg.image_size[1] / stride)
        self.register_buffer("image_pos", sine_positions_2d(fh, fw, h), persistent=False)
        # Input projections per domain (the domains' inputs differ in meaning and size), or one set
        # for both when the robot reads the human's representation (model.robot_state = "pinch").
        self.input_of = {d: d if cfg.robot_state == "joints" else "shared" for d in domains}
        joints_in = cfg.robot_state == "joints"
        proprio_dim = {"robot": self.dim_joints, "human": self.dim_xyz, "shared": self.dim_xyz}
        action_dim = {"robot": self.dim_joints + self.dim_xyz, "human": self.dim_xyz, "shared": self.dim_xyz}
        inputs = list(dict.fromkeys(self.input_of.values()))  # domain order: the init draws as before
        self.proprio_in = nn.ModuleDict({k: nn.Linear(proprio_dim[k], h) for k in inputs})
        self.style_proprio_in = nn.ModuleDict({k: nn.Linear(proprio_dim[k], h) for k in inputs})
        self.style_action_in = nn.ModuleDict({k: nn.Linear(action_dim[k], h) for k in inputs})
        self._style_from = 0 if joints_in else self.dim_joints  # robot actions: [joints, xyz]; "pinch" reads xyz
        # Style (CVAE) encoder.
        self.style_cls = nn.Parameter(torch.zeros(1, 1, h))
        self.style_pos = nn.Parameter(torch.randn(1, 2 + cfg.style_points, h) * 0.02)
        self.style_encoder = _encoder(cfg, cfg.style_layers)
        self.style_out = nn.Linear(h, 2 * cfg.latent)
        idx = torch.linspace(0, cfg.chunk - 1, cfg.style_points).round().long()
        self.register_buffer("style_index", idx, persistent=False)
        # Main encoder / decoder.
        self.latent_in = nn.Linear(cfg.latent, h)
        self.token_pos = nn.Parameter(torch.randn(1, 2, h) * 0.02)  # for [z, proprio]
        self.encoder = _encoder(cfg, cfg.enc_layers)
        self.queries = nn.Parameter(torch.randn(1, cfg.queries, h) * 0.02)
        dec_layer = nn.TransformerDecoderLayer(h, cfg.heads, cfg.ff, cfg.dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(dec_layer, cfg.dec_layers, norm=nn.LayerNorm(h))
        self.joint_head = nn.Linear(h, self.dim_joints)
        self.pose_head = nn.Linear(h, self.dim_xyz)
        self.register_buffer("interp", interpolation_matrix(cfg.chunk, cfg.queries), persistent=False)

    # ---- parts -------------------------------------------------------------------
    def image_tokens(self, camera: str, img: Tensor) -> Tensor:
        """img (B, 3, H, W) in [0, 1] -> tokens (B, h*w [+ 1 keypoint token], hidden)."""
        if self.cfg.coord_channels:
            img = coordinate_channels(img)
        if self.cfg.keypoints:
            f, kp = self.backbones[camera].forward_with_keypoints(img)
        else:
            f = self.backbones[camera](img)
        tok = f.flatten(2).transpose(1, 2)
        tok = tok + self.image_pos[: tok.shape[1]] + self.camera_embed[camera]
        if self.cfg.keypoints:
            kt = self.keypoint_in[camera](kp.flatten(1)) + self.keypoint_embed[camera] + self.camera_embed[camera]
            tok = torch.cat([tok, kt[:, None]], dim=1)
        return tok

    def posterior(self, domain: str, proprio: Tensor, actions: Tensor, pad_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """Style encoder. actions (B, chunk, A) normalized (robot: joints then xyz);
        pad_mask (B, chunk) True where a point is padding. Returns mu, logvar (B, latent)."""
        B, k = proprio.shape[0], self.input_of[domain]
        a = actions[:, self.style_index, self._style_from if domain == "robot" else 0:]
        tokens = torch.cat([self.style_cls.expand(B, -1, -1), self.style_proprio_in[k](proprio)[:, None],
                            self.style_action_in[k](a)], dim=1) + self.style_pos
        key_pad = None
        if pad_mask is not None:
            key_pad = torch.cat([torch.zeros(B, 2, dtype=torch.bool, device=proprio.device),
                                 pad_mask[:, self.style_index].bool()], dim=1)
        out = self.style_encoder(tokens, src_key_padding_mask=key_pad)
        mu, logvar = self.style_out(out[:, 0]).chunk(2, dim=-1)
        return mu, logvar

    def forward(self, domain: str, images: dict[str, Tensor], proprio: Tensor, actions: Tensor | None = None,
                pad_mask: Tensor | None = None, noise: Tensor | None = None, features: bool = False,
                wrist_keep: Tensor | None = None) -> dict[str, Tensor]:
        """Predict chunks for one domain's batch.

        images: {"front": (B,3,H,W), "wrist": (B,3,H,W) robot only}, floats in [0, 1].
        proprio: (B, 7k) robot joint positions or (B, 3k) pinch / palm xyz (the human's, and the
        robot's when `cfg.robot_state` is "pinch"), normalized.
        actions: (B, chunk, 7k+3k) robot / (B, chunk, 3k) human normalized ground truth,
        given in training (the style encoder reads it); None at inference (z = 0).
        noise: (B, latent) standard normal draws for the reparameterisation (drawn here if None).
        wrist_keep: (B,) bool, robot batches with a wrist camera: where False, the sample's wrist-camera
        tokens are masked out of every attention (encoder and decoder), so it is read with the human's
        camera set (`train.wrist_dropout`); None keeps every sample's.
        features: also return the pooled trunk features the bridges align (`config.ALIGN_TOKENS`):
        "features_queries" (B, hidden), the decoder's outputs averaged over the queries, and
        "features_memory" (B, hidden), the encoder's outputs at the front camera's tokens, averaged.
        Returns "xyz" (B, chunk, 3k), "joints" (B, chunk, 7k) for robot batches, and in
        training "mu", "logvar" (B, latent).
        """
        if domain not in self.domains:
            raise ValueError(f"this model was built for {self.domains}; got a {domain!r} batch")
        B = proprio.shape[0]
        out: dict[str, Tensor] = {}
        if actions is not None:
            mu, logvar = self.posterior(domain, proprio, actions, pad_mask)
            if noise is None:
                noise = torch.randn_like(mu)
            z = mu + noise * (0.5 * logvar).exp()
            out["mu"], out["logvar"] = mu, logvar
        else:
            z = torch.zeros(B, self.cfg.latent, device=proprio.device, dtype=proprio.dtype)
        tokens = [torch.stack([self.latent_in(z), self.proprio_in[self.input_of[domain]](proprio)], dim=1) + self.token_pos]
        for cam in self.cameras[domain]:
            tokens.append(self.image_tokens(cam, images[cam]))
        hide = None  # (B, tokens) True = left out of attention
        if wrist_keep is not None and "wrist" in self.cameras[domain]:
            n_wrist = tokens[-1].shape[1]  # the wrist camera's tokens come last
            hide = torch.zeros(B, sum(t.shape[1] for t in tokens), dtype=torch.bool, device=proprio.device)
            hide[:, -n_wrist:] = ~wrist_keep.to(device=proprio.device, dtype=torch.bool)[:, None]
        memory = self.encoder(torch.cat(tokens, dim=1), src_key_padding_mask=hide)
        feats = self.decoder(self.queries.expand(B, -1, -1), memory, memory_key_padding_mask=hide)  # (B, queries, hidden)
        out["xyz"] = torch.einsum("cq,bqd->bcd", self.interp, self.pose_head(feats))
        if domain == "robot":
            out["joints"] = torch.einsum("cq,bqd->bcd", self.interp, self.joint_head(feats))
        if features:  # tokens[1] is the front camera's: the same tokens in both domains
            out["features_queries"] = feats.mean(1)
            out["features_memory"] = memory[:, 2:2 + tokens[1].shape[1]].mean(1)
        return out


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, sigma) || N(0, I)) summed over latent dims, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(-1).mean()


def masked_l1(pred: Tensor, target: Tensor, pad_mask: Tensor | None) -> Tensor:
    """Mean absolute error over each sample's valid chunk points, then over the batch (every
    sample weighs the same, so averaging per-rank losses under DDP equals the global loss).
    pred, target (B, chunk, D); pad_mask (B, chunk) True = padding."""
    err = (pred - target).abs().mean(-1)  # (B, chunk)
    if pad_mask is None:
        return err.mean()
    valid = (~pad_mask.bool()).to(err.dtype)
    return ((err * valid).sum(1) / valid.sum(1).clamp(min=1)).mean()
