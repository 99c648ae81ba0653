import json

import numpy as np
import pytest
import torch

from policy_golden import GOLDEN, golden_outputs
from egogym.policies.batch import ModelInputs
from egogym.policies.config import preset
from egogym.policies.model import EgoACT, interpolation_matrix
from egogym.policies.objective import domain_loss


def _inputs(cfg, domain, B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = cfg.model.image_size
    imgs = {"front": torch.rand(B, 3, h, w, generator=g)}
    if domain == "robot":
        imgs["wrist"] = torch.rand(B, 3, h, w, generator=g)
    a_dim, p_dim = (10, 7) if domain == "robot" else (3, 3)
    pad = torch.zeros(B, 100, dtype=torch.bool)
    pad[0, 60:] = True
    return ModelInputs(domain, imgs, torch.randn(B, p_dim, generator=g), torch.randn(B, 100, a_dim, generator=g), pad)


def test_golden_outputs_of_the_fixed_seed_smoke_model():
    want = json.loads(GOLDEN.read_text())
    got = golden_outputs()
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_interpolation_matrix_hits_the_queries_and_is_identity_at_full_resolution():
    W = interpolation_matrix(100, 10)
    assert W.shape == (100, 10)
    torch.testing.assert_close(W.sum(1), torch.ones(100))
    assert W[0, 0] == 1 and W[-1, -1] == 1
    q = torch.linspace(0, 1, 10)[:, None]  # a straight line stays a straight line
    torch.testing.assert_close((W @ q)[:, 0], torch.linspace(0, 1, 100), atol=1e-6, rtol=0)
    torch.testing.assert_close(interpolation_matrix(100, 100), torch.eye(100))


def test_output_shapes_per_domain_and_bimanual():
    cfg = preset("smoke")
    m = EgoACT(cfg.model, 2, ("robot", "human"))
    B, (h, w) = 2, cfg.model.image_size
    out = m("robot", {"front": torch.rand(B, 3, h, w), "wrist": torch.rand(B, 3, h, w)}, torch.randn(B, 14))
    assert out["joints"].shape == (B, 100, 14) and out["xyz"].shape == (B, 100, 6) and "mu" not in out
    out = m("human", {"front": torch.rand(B, 3, h, w)}, torch.randn(B, 6), torch.randn(B, 100, 6))
    assert "joints" not in out and out["xyz"].shape == (B, 100, 6) and out["mu"].shape == (B, cfg.model.latent)


def _grads(model, name):
    return [p.grad for n, p in model.named_parameters() if n.startswith(name)]


def test_joint_head_learns_only_from_robot_batches_pose_head_from_both():
    cfg = preset("smoke")
    m = EgoACT(cfg.model, 1, ("robot", "human"))
    loss, _ = domain_loss(m, _inputs(cfg, "human"), cfg.train)
    loss.backward()
    assert all(g is None for g in _grads(m, "joint_head"))
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(m, "pose_head"))
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(m, "backbones.front"))
    m.zero_grad(set_to_none=True)
    loss, _ = domain_loss(m, _inputs(cfg, "robot"), cfg.train)
    loss.backward()
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(m, "joint_head"))
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(m, "pose_head"))


def test_every_configured_decoder_layer_runs():
    cfg = preset("smoke").with_overrides({"model.dec_layers": 3})
    m = EgoACT(cfg.model, 1, ("robot",))
    assert len(m.decoder.layers) == 3
    loss, _ = domain_loss(m, _inputs(cfg, "robot"), cfg.train)
    loss.backward()
    last = m.decoder.layers[-1]
    assert last.linear2.weight.grad is not None and last.linear2.weight.grad.abs().sum() > 0


def test_padded_points_do_not_count():
    cfg = preset("smoke")
    m = EgoACT(cfg.model, 1, ("robot",))
    inp = _inputs(cfg, "robot")
    noise = torch.zeros(3, cfg.model.latent)
    l1, _ = domain_loss(m, inp, cfg.train, noise)
    inp.actions[0, 60:] += 100.0  # change only padded targets
    l2, _ = domain_loss(m, inp, cfg.train, noise)
    assert torch.isclose(l1, l2)


def test_robot_only_model_refuses_human_batches():
    cfg = preset("smoke")
    m = EgoACT(cfg.model, 1, ("robot",))
    assert not any(n.startswith("proprio_in.human") for n, _ in m.named_parameters())
    with pytest.raises(ValueError, match="human"):
        domain_loss(m, _inputs(cfg, "human"), cfg.train)
