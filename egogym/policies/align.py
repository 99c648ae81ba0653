"""Bridges between the domains' trunk features, as training losses (issue 24, item 3).

Two options of `TrainConfig`, each off at weight 0 (docs/POLICIES.md, "Co-training options"):

- **Action-conditioned optimal transport** (`train.ot_weight`), as EgoBridge describes it
  (arXiv 2509.19626; facts from the paper, no code from it): a Sinkhorn divergence between the
  robot batch's and the human batch's pooled trunk features, whose ground cost between a robot
  sample i and a human sample j is

      C_ij = |f_i - g_j|^2 / hidden  +  ot_action_scale * sdtw_div(a_i, b_j) / ot_dtw_points

  f, g: the pooled trunk features (`align_tokens`, each (hidden,), LayerNorm'ed by the trunk, so
  the first term is a mean squared difference per feature); a, b: the two samples' normalised
  xyz chunks (the pose head's targets, z-scored as `train.normalization` says), subsampled to
  `ot_dtw_points` evenly spaced points (EgoBridge's "made cheaper to match"); sdtw_div: the
  soft-DTW divergence (Blondel, Mensch & Vert 2021), which is 0 for identical chunks and
  positive otherwise, so a pair with similar motions is cheaper to match than one whose features
  are as close but whose motions differ. The same cost gives the two self-terms of the
  divergence  S = OT(r, h) - OT(r, r) / 2 - OT(h, h) / 2, with OT the entropic OT value at
  eps = ot_blur^2 (POT's log-domain Sinkhorn; its gradient by the envelope theorem). The action
  term carries no gradient (the chunks are data): it only decides which pairs the plan matches.
- **Domain-adversarial** (`train.adversarial_weight`, DANN, Ganin et al. 2016): a two-layer
  classifier on the same pooled features predicts the domain (robot 0, human 1) through a
  gradient-reversal layer: the classifier learns to tell the domains apart, the trunk to make
  them indistinguishable.

The cost is pairwise over the two batches: (B_robot, B_human), with the self-terms (B_r, B_r)
and (B_h, B_h). Under DDP each rank aligns its own slice of the two batches.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from egogym.policies.config import TrainConfig

_BIG = 1e10  # "unreachable" cell of the soft-DTW table: finite, so that no gradient becomes NaN


def subsample_chunk(chunk: Tensor, points: int) -> Tensor:
    """(B, P, D) -> (B, points, D): `points` evenly spaced chunk points (first and last included)."""
    idx = torch.linspace(0, chunk.shape[1] - 1, points, device=chunk.device).round().long()
    return chunk[:, idx]


def _softmin(a: Tensor, b: Tensor, c: Tensor, gamma: float) -> Tensor:
    return -gamma * torch.logsumexp(torch.stack([a, b, c]) / -gamma, dim=0)


def soft_dtw(x: Tensor, y: Tensor, gamma: float) -> Tensor:
    """Pairwise soft-DTW (Cuturi & Blondel 2017) with the squared Euclidean point cost.

    x (N, L, D), y (M, K, D) -> (N, M): R[L, K] of R[i, j] = |x_i - y_j|^2 + softmin_gamma(
    R[i-1, j-1], R[i-1, j], R[i, j-1]), softmin_gamma(v) = -gamma log sum exp(-v / gamma),
    R[0, 0] = 0 and the rest of row and column 0 unreachable. As gamma -> 0 it tends to DTW (the
    least sum of squared distances along a monotone alignment path). Differentiable."""
    return _soft_dtw_table((x[:, None, :, None, :] - y[None, :, None, :, :]).pow(2).sum(-1), gamma)


def _soft_dtw_table(dist: Tensor, gamma: float) -> Tensor:
    """R[L, K] for point costs dist (..., L, K), one anti-diagonal at a time (L + K - 1 steps over
    (..., L + 1) tensors, so that a whole batch of pairs runs at once)."""
    L, K = dist.shape[-2:]
    i = torch.arange(L + 1, device=dist.device)
    big = torch.full((*dist.shape[:-2], L + 1), _BIG, dtype=dist.dtype, device=dist.device)
    shift = lambda d: torch.cat([big[..., :1], d[..., :-1]], dim=-1)  # the value at row i - 1
    prev2 = torch.where(i == 0, torch.zeros_like(big), big)  # anti-diagonal 0: R[0, 0] = 0
    prev1 = big  # anti-diagonal 1: R[0, 1] and R[1, 0], unreachable
    for s in range(2, L + K + 1):  # anti-diagonal s holds the cells (i, s - i)
        j = s - i
        valid = (i >= 1) & (j >= 1) & (j <= K)
        d = dist[..., (i - 1).clamp(0, L - 1), (j - 1).clamp(0, K - 1)]
        cur = torch.where(valid, d + _softmin(shift(prev2), shift(prev1), prev1, gamma), big)
        prev2, prev1 = prev1, cur
    return prev1[..., L]


def soft_dtw_divergence(x: Tensor, y: Tensor, gamma: float) -> Tensor:
    """(N, M): sdtw(x_i, y_j) - sdtw(x_i, x_i) / 2 - sdtw(y_j, y_j) / 2 (Blondel, Mensch & Vert
    2021): 0 when x_i == y_j, positive otherwise, unlike soft-DTW itself (negative at x = x)."""
    self_x = _soft_dtw_table((x[:, :, None] - x[:, None, :]).pow(2).sum(-1), gamma)  # (N,)
    self_y = _soft_dtw_table((y[:, :, None] - y[:, None, :]).pow(2).sum(-1), gamma)  # (M,)
    return soft_dtw(x, y, gamma) - 0.5 * self_x[:, None] - 0.5 * self_y[None, :]


def action_cost(a: Tensor, b: Tensor, train: TrainConfig) -> Tensor:
    """(N, M) action term of the pair cost, before `ot_action_scale`: the soft-DTW divergence of
    the xyz chunks a (N, P, D), b (M, P, D) (normalised units), subsampled to `ot_dtw_points`,
    per point ((z-units)^2 per chunk point). No gradient: the chunks are data."""
    with torch.no_grad():
        n = train.ot_dtw_points
        return soft_dtw_divergence(subsample_chunk(a.float(), n), subsample_chunk(b.float(), n),
                                   train.ot_dtw_gamma) / n


def feature_cost(f: Tensor, g: Tensor) -> Tensor:
    """(N, M) mean squared difference per feature between f (N, H) and g (M, H)."""
    return (f[:, None, :] - g[None, :, :]).pow(2).mean(-1)


def pair_cost(f: Tensor, a: Tensor, g: Tensor, b: Tensor, train: TrainConfig) -> Tensor:
    """The ground cost (N, M) between samples (f_i, a_i) and (g_j, b_j) (see the module docstring):
    feature term + `ot_action_scale` x action term; 0 for a pair with the same features and chunk."""
    c = feature_cost(f, g)
    if train.ot_action_scale > 0:
        c = c + train.ot_action_scale * action_cost(a, b, train)
    return c


def _entropic_ot(cost: Tensor, eps: float) -> tuple[Tensor, float]:
    """(entropic OT value with uniform weights, the plan's column-marginal error, L1 over total mass 1)."""
    # POT (pot on PyPI, pinned in pyproject's train extra), imported here: it costs most of a second.
    import ot

    # float64: in float32 the log-domain iterations stall at a marginal error of about float32's
    # resolution times cost / eps. POT's "did not converge" warning is replaced by the logged error.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sinkhorn did not converge", UserWarning)
        res = ot.solve(cost.double(), reg=eps, method="sinkhorn_log", grad="envelope", max_iter=SINKHORN_ITERS,
                       tol=SINKHORN_TOL)
    err = float((res.plan.sum(0) * cost.shape[1] - 1).abs().mean())
    return res.value.to(cost.dtype), err


SINKHORN_ITERS, SINKHORN_TOL = 1000, 1e-6
"""POT's log-domain Sinkhorn: at most this many iterations, stopped sooner when the plan's marginals are
within this (L2, total mass 1) of the uniform weights. The iterations needed grow with cost range /
eps and with near ties (two samples of a batch with almost the same cost row): on 16 x 16 costs spread
uniformly over [0, 15] eps = 0.25 took 550 and 0.5 took 90; a 4 x 4 batch of the tiny test files with
two near-identical rows took 16,000 at eps = 0.25. Stopped early, the row marginals are exact and the
columns off by the error that `ot_loss` returns (logged as "align/ot_err"); the gradient is the plan's."""


def sinkhorn_divergence(c_xy: Tensor, c_xx: Tensor, c_yy: Tensor, eps: float) -> tuple[Tensor, float]:
    """S = OT(x, y) - OT(x, x) / 2 - OT(y, y) / 2 from the three cost matrices, uniform weights,
    OT the entropic value <P, C> + eps KL(P | a b^T); 0 when the two batches are the same. Also
    the largest of the three plans' marginal errors (mean |column mass / weight - 1|)."""
    (xy, e1), (xx, e2), (yy, e3) = (_entropic_ot(c, eps) for c in (c_xy, c_xx, c_yy))
    return xy - 0.5 * xx - 0.5 * yy, max(e1, e2, e3)


def ot_loss(f: Tensor, a: Tensor, g: Tensor, b: Tensor, train: TrainConfig) -> tuple[Tensor, float]:
    """The action-conditioned Sinkhorn divergence between the robot batch (features f (Br, H),
    xyz chunks a (Br, P, D)) and the human batch (g (Bh, H), b (Bh, P, D)), in fp32, and the
    solver's marginal error (`sinkhorn_divergence`)."""
    f, g = f.float(), g.float()
    return sinkhorn_divergence(pair_cost(f, a, g, b, train), pair_cost(f, a, f, a, train),
                               pair_cost(g, b, g, b, train), train.ot_blur ** 2)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.scale * grad, None


def reverse_gradient(x: Tensor, scale: float = 1.0) -> Tensor:
    """Identity forward; backward multiplies the gradient by -scale (DANN's gradient reversal)."""
    return _ReverseGradient.apply(x, scale)


class DomainClassifier(nn.Module):
    """DANN's domain classifier: pooled trunk features (B, hidden) -> a logit that the sample is
    human. A training-only module: saved with the checkpoint for --resume, not part of the policy."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features).squeeze(-1)


def adversarial_loss(head: DomainClassifier, f: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
    """(binary cross-entropy of the domain classifier over both batches (robot 0, human 1), its
    accuracy). The features pass through the gradient reversal: minimising this loss trains the
    classifier and pushes the trunk towards features the classifier cannot tell apart.
    ln 2 = 0.693 is chance."""
    x = reverse_gradient(torch.cat([f, g]).float())
    labels = torch.cat([torch.zeros(len(f)), torch.ones(len(g))]).to(x.device)
    logits = head(x).float()
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
    acc = ((logits > 0).float() == labels).float().mean()
    return loss, acc

