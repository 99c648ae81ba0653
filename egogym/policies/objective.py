"""EgoMimic's training objective and validation metrics.

Per optimizer step one robot batch and one human batch (REFERENCE §3):

    robot loss = L1(joints) + L1(xyz) + kl_weight * KL
    human loss = hand_lambda * (L1(xyz) + kl_weight * KL)
    loss       = (robot loss + human loss) / 2        (robot loss alone without human data)

With a bridge on (`train.ot_weight`, `train.adversarial_weight`; `policies.align`), each adds
its weight times its loss on the two batches' pooled trunk features to that mean, and logs it
unweighted ("align/ot" with the Sinkhorn solver's marginal error "align/ot_err", "align/adv" with the
classifier's accuracy "align/adv_acc"); at weight 0 nothing is computed.

L1 is over normalized chunks, averaged over valid (un-padded) points. The joint head
only runs on robot batches, so it gets no gradient from human data; the pose head and
the trunk get both.

Validation (`chunk_errors`) reports EgoMimic's `paired_mse` (mean squared error over
every valid chunk point) and `final_mse` (at the last valid point), in data units
(m^2 for xyz, rad^2 for joints), per domain and head.
"""
from __future__ import annotations

import torch
from torch import Tensor

from egogym.policies.align import DomainClassifier, adversarial_loss, ot_loss
from egogym.policies.batch import ModelInputs
from egogym.policies.config import TrainConfig
from egogym.policies.model import EgoACT, kl_divergence, masked_l1
from egogym.policies.normalize import Normalizer


def make_optimizer(model: torch.nn.Module, train: TrainConfig, extra: torch.nn.Module | None = None
                   ) -> torch.optim.AdamW:
    """AdamW over every parameter, fused (one kernel over all tensors instead of a Python
    loop per tensor). Alone its gain was within run-to-run noise here; with dropout off it
    took the width-256 `cpu` shape from 130 to 143 samples/s (docs/POLICIES.md).
    extra: a training-only module (the DANN domain classifier) whose parameters follow the model's."""
    params = list(model.parameters()) + (list(extra.parameters()) if extra is not None else [])
    return torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay, fused=True)


def domain_loss(model: EgoACT, inp: ModelInputs, train: TrainConfig, noise: Tensor | None = None
                ) -> tuple[Tensor, dict[str, float]]:
    """Loss of one domain's batch (hand_lambda applied to human batches) and its parts for logging."""
    loss, logs, _ = _domain_loss(model, inp, train, noise)
    return loss, logs


def _domain_loss(model: EgoACT, inp: ModelInputs, train: TrainConfig, noise: Tensor | None = None,
                 features: bool = False) -> tuple[Tensor, dict[str, float], dict[str, Tensor]]:
    """`domain_loss`, and the model's outputs (with the pooled trunk features when `features`)."""
    out = model(inp.domain, inp.images, inp.proprio, inp.actions, inp.pad_mask, noise=noise, features=features,
                wrist_keep=inp.wrist_keep)
    out = {k: v.float() for k, v in out.items()}  # bf16 under CUDA autocast: the loss in fp32 (no-op on the CPU)
    kl = kl_divergence(out["mu"], out["logvar"])
    dj = model.dim_joints
    if inp.domain == "robot":
        l_joints = masked_l1(out["joints"], inp.actions[..., :dj], inp.pad_mask)
        l_xyz = masked_l1(out["xyz"], inp.actions[..., dj:], inp.pad_mask)
        loss = l_joints + l_xyz + train.kl_weight * kl
        logs = {"robot/l1_joints": l_joints.item(), "robot/l1_xyz": l_xyz.item(), "robot/kl": kl.item()}
    else:
        l_xyz = masked_l1(out["xyz"], inp.actions, inp.pad_mask)
        loss = train.hand_lambda * (l_xyz + train.kl_weight * kl)
        logs = {"human/l1_xyz": l_xyz.item(), "human/kl": kl.item()}
    logs[f"{inp.domain}/loss"] = loss.item()
    return loss, logs, out


def cotrain_loss(model: EgoACT, robot: ModelInputs, human: ModelInputs | None, train: TrainConfig,
                 noise: dict[str, Tensor] | None = None, domain_head: DomainClassifier | None = None
                 ) -> tuple[Tensor, dict[str, float]]:
    """Mean of the robot and human losses (robot loss alone when human is None), plus each bridge
    that is on (see the module docstring). domain_head: DANN's classifier, needed when
    `train.adversarial_weight` > 0."""
    noise = noise or {}
    train.check_domains(("robot",) if human is None else ("robot", "human"))
    bridges = bool(train.bridges)
    loss, logs, r_out = _domain_loss(model, robot, train, noise.get("robot"), bridges)
    if human is not None:
        h_loss, h_logs, h_out = _domain_loss(model, human, train, noise.get("human"), bridges)
        loss = 0.5 * (loss + h_loss)
        logs.update(h_logs)
        if bridges:
            a_loss, a_logs = _bridge_loss(model, robot, r_out, human, h_out, train, domain_head)
            loss = loss + a_loss
            logs.update(a_logs)
    logs["loss"] = loss.item()
    return loss, logs


def _bridge_loss(model: EgoACT, robot: ModelInputs, r_out: dict[str, Tensor], human: ModelInputs,
                 h_out: dict[str, Tensor], train: TrainConfig, domain_head: DomainClassifier | None
                 ) -> tuple[Tensor, dict[str, float]]:
    """The weighted sum of the bridges that are on, and their unweighted values for the logs."""
    key = f"features_{train.align_tokens}"
    f, g = r_out[key], h_out[key]
    total, logs = f.new_zeros(()), {}
    if train.ot_weight > 0:
        a, b = robot.actions[..., model.dim_joints:], human.actions  # the normalised xyz chunks
        ot, err = ot_loss(f, a, g, b, train)
        total = total + train.ot_weight * ot
        logs["align/ot"], logs["align/ot_err"] = ot.item(), err
    if train.adversarial_weight > 0:
        if domain_head is None:
            raise ValueError("train.adversarial_weight > 0 needs the domain classifier: pass domain_head")
        adv, acc = adversarial_loss(domain_head, f, g)
        total = total + train.adversarial_weight * adv
        logs["align/adv"], logs["align/adv_acc"] = adv.item(), acc.item()
    return total, logs


def _last_valid(pad_mask: Tensor | None, B: int, P: int, device: torch.device | None = None) -> Tensor:
    if pad_mask is None:
        return torch.full((B,), P - 1, dtype=torch.long, device=device)
    valid = (~pad_mask.bool()).long()
    idx = torch.arange(P, device=pad_mask.device)[None].expand(B, -1)
    return (idx * valid).amax(dim=1)


@torch.no_grad()
def chunk_errors(model: EgoACT, inp: ModelInputs, normalizer: Normalizer) -> dict[str, Tensor]:
    """Per-sample squared errors in data units for one validation batch (model in eval mode,
    z = 0). Returns {"<domain>/paired_mse_<head>": (B,), "<domain>/final_mse_<head>": (B,)}."""
    out = {k: v.float() for k, v in model(inp.domain, inp.images, inp.proprio).items()}
    d, dj = inp.domain, model.dim_joints
    B, P = inp.proprio.shape[0], model.cfg.chunk
    dev = inp.proprio.device
    valid = torch.ones(B, P, device=dev) if inp.pad_mask is None else (~inp.pad_mask.bool()).float()
    last = _last_valid(inp.pad_mask, B, P, dev)
    heads = {"xyz": (out["xyz"], inp.actions[..., dj:] if d == "robot" else inp.actions, "actions_xyz_act")}
    if d == "robot":
        heads["joints"] = (out["joints"], inp.actions[..., :dj], "actions_joints_act")
    res = {}
    for head, (pred, target, key) in heads.items():
        se = (normalizer.unnormalize(d, key, pred) - normalizer.unnormalize(d, key, target)).pow(2).mean(-1)  # (B, P)
        res[f"{d}/paired_mse_{head}"] = (se * valid).sum(1) / valid.sum(1).clamp(min=1)
        res[f"{d}/final_mse_{head}"] = se[torch.arange(B, device=dev), last]
    return res
