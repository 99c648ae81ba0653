"""The bridges (issue 24): EgoBridge-style action-conditioned OT and DANN (`egogym.policies.align`)."""
import dataclasses
import json
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from egogym.cli import main as egogym_main
from egogym.policies.align import (DomainClassifier, adversarial_loss, ot_loss, pair_cost, reverse_gradient,
                                   soft_dtw, soft_dtw_divergence, subsample_chunk)
from egogym.policies.batch import ModelInputs
from egogym.policies.checkpoint import load_checkpoint
from egogym.policies.config import ConfigError, TrainConfig, preset
from egogym.policies.model import EgoACT
from egogym.policies.objective import cotrain_loss

BRIDGES = TrainConfig(ot_weight=0.5, adversarial_weight=0.1)


def _dtw_brute_force(x, y) -> float:
    """The least sum of squared distances over every monotone alignment path from (0, 0) to the end."""
    L, K = len(x), len(y)

    def best(i, j):
        c = float(((x[i] - y[j]) ** 2).sum())
        if i == 0 and j == 0:
            return c
        prev = [best(a, b) for a, b in ((i - 1, j - 1), (i - 1, j), (i, j - 1)) if a >= 0 and b >= 0]
        return c + min(prev)

    return best(L - 1, K - 1)


def _paths(L, K) -> int:
    """Number of monotone alignment paths (Delannoy number D(L-1, K-1))."""
    return sum(math.comb(L - 1, k) * math.comb(K - 1, k) * 2 ** k for k in range(min(L, K)))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 10_000))
def test_soft_dtw_tends_to_brute_force_dtw_as_gamma_goes_to_0(L, K, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(2, L, 3, generator=g, dtype=torch.float64), torch.randn(3, K, 3, generator=g, dtype=torch.float64)
    gamma = 1e-3
    got = soft_dtw(x, y, gamma)
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            dtw = _dtw_brute_force(x[i], y[j])
            # softmin <= min, and it undercuts min over all paths by at most gamma * log(#paths)
            assert dtw - gamma * math.log(_paths(L, K)) - 1e-9 <= float(got[i, j]) <= dtw + 1e-9


def test_soft_dtw_is_differentiable_and_its_divergence_is_zero_only_on_the_diagonal():
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw(a, b, 0.5), (x, y))
    z = torch.randn(4, 6, 3)
    div = soft_dtw_divergence(z, z, 0.1)
    torch.testing.assert_close(div.diagonal(), torch.zeros(4), atol=1e-5, rtol=0)
    assert (div + torch.eye(4) > 1e-3).all()


def test_pair_cost_is_pairwise_over_the_two_batches_and_zero_for_an_identical_pair():
    """B_robot x B_human; robot 1 and human 3 share features and xyz chunk: cost 0, every other pair more."""
    torch.manual_seed(0)
    Br, Bh, H = 3, 5, 16
    f, g = torch.randn(Br, H), torch.randn(Bh, H)
    a, b = torch.randn(Br, 100, 3).cumsum(1) / 10, torch.randn(Bh, 100, 3).cumsum(1) / 10
    g[3], b[3] = f[1], a[1]
    c = pair_cost(f, a, g, b, TrainConfig())
    assert c.shape == (Br, Bh)
    assert abs(float(c[1, 3])) < 1e-5
    others = torch.ones(Br, Bh, dtype=torch.bool)
    others[1, 3] = False
    assert (c[others] > 1e-3).all()
    # same features, other motion: dearer than the identical pair by the action term alone
    g2 = f[[1, 1]]
    b2 = torch.stack([a[1], a[1].flip(0)])
    c2 = pair_cost(f[1:2], a[1:2], g2, b2, TrainConfig())
    assert float(c2[0, 0]) < 1e-5 < float(c2[0, 1])
    # ot_action_scale weighs only the action term
    c3 = pair_cost(f[1:2], a[1:2], g2, b2, TrainConfig(ot_action_scale=2.0))
    torch.testing.assert_close(c3[0, 1], 2 * c2[0, 1])
    assert subsample_chunk(a, 10).shape == (Br, 10, 3)


def test_sinkhorn_divergence_is_zero_for_the_same_batch_and_pulls_the_features_together():
    torch.manual_seed(1)
    f = torch.randn(6, 8)
    a = torch.randn(6, 100, 3)
    zero, err = ot_loss(f, a, f.clone(), a.clone(), TrainConfig())
    assert abs(float(zero)) < 1e-4 and err < 1e-3
    g = (f + 1.0).requires_grad_()
    loss, _ = ot_loss(f, a, g, a, TrainConfig())
    assert float(loss.detach()) > 0.1
    loss.backward()
    # gradient descent on g moves it back towards f
    g2 = (g - 0.1 * g.grad).detach()
    assert float(ot_loss(f, a, g2, a, TrainConfig())[0]) < float(loss)
    # pairs whose chunks differ are matched less: the action term raises the divergence
    c = lambda s: float(ot_loss(f, a, f + 0.3, torch.randn(6, 100, 3), TrainConfig(ot_action_scale=s))[0])
    assert c(1.0) > c(0.0)


def test_gradient_reversal_flips_the_sign_of_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(4, 3)
    (x * w).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, -0.5 * plain)


def test_adversarial_loss_trains_the_classifier_and_reverses_the_trunk():
    torch.manual_seed(0)
    head = DomainClassifier(8)
    f, g = torch.randn(5, 8, requires_grad=True), torch.randn(7, 8, requires_grad=True)
    loss, acc = adversarial_loss(head, f, g)
    assert 0 <= float(acc) <= 1 and float(loss) > 0
    loss.backward()
    # the classifier's gradient is the plain BCE's; the features' is its opposite
    f2, g2 = f.detach().clone().requires_grad_(), g.detach().clone().requires_grad_()
    plain = torch.nn.functional.binary_cross_entropy_with_logits(
        head(torch.cat([f2, g2])), torch.cat([torch.zeros(5), torch.ones(7)]))
    grads = torch.autograd.grad(plain, [f2, g2])
    torch.testing.assert_close(f.grad, -grads[0])
    torch.testing.assert_close(g.grad, -grads[1])


def _inputs(cfg, domain, B):
    g = torch.Generator().manual_seed(B)
    h, w = cfg.model.image_size
    imgs = {cam: torch.rand(B, 3, h, w, generator=g) for cam in (("front", "wrist") if domain == "robot" else ("front",))}
    a_dim, p_dim = (10, 7) if domain == "robot" else (3, 3)
    return ModelInputs(domain, imgs, torch.randn(B, p_dim, generator=g), torch.randn(B, 100, a_dim, generator=g), None)


def test_cotrain_loss_adds_the_bridges_only_when_on_and_logs_them():
    cfg = preset("smoke")
    torch.manual_seed(0)
    model = EgoACT(cfg.model, 1, ("robot", "human"))
    robot, human = _inputs(cfg, "robot", 3), _inputs(cfg, "human", 4)
    noise = {"robot": torch.zeros(3, cfg.model.latent), "human": torch.zeros(4, cfg.model.latent)}
    base, logs = cotrain_loss(model, robot, human, cfg.train, noise)
    assert not any(k.startswith("align/") for k in logs)
    for tokens in ("queries", "memory"):
        t = dataclasses.replace(cfg.train, ot_weight=0.5, adversarial_weight=0.1, align_tokens=tokens)
        head = DomainClassifier(cfg.model.hidden)
        loss, logs = cotrain_loss(model, robot, human, t, noise, head)
        assert {"align/ot", "align/ot_err", "align/adv", "align/adv_acc"} <= set(logs)
        assert float(loss) == pytest.approx(float(base) + 0.5 * logs["align/ot"] + 0.1 * logs["align/adv"], rel=1e-5)
        loss.backward()  # the bridges reach the shared trunk
        assert model.encoder.layers[0].linear1.weight.grad.abs().sum() > 0
        model.zero_grad()
    with pytest.raises(ConfigError, match="train.ot_weight=0.5 .*--human"):
        cotrain_loss(model, robot, None, t, noise, head)


def test_config_validates_the_bridge_fields():
    with pytest.raises(ConfigError, match="train.align_tokens='querie'.*did you mean 'queries'"):
        preset("smoke").with_overrides({"train.align_tokens": "querie"})
    for field, value in (("ot_weight", -1), ("ot_blur", 0), ("ot_dtw_points", 1), ("ot_dtw_gamma", 0),
                         ("adversarial_weight", -0.1), ("ot_action_scale", -1)):
        with pytest.raises(ConfigError, match=f"train.{field}="):
            TrainConfig(**{field: value})
    assert TrainConfig().bridges == () and BRIDGES.bridges == ("ot_weight", "adversarial_weight")


def _train(args):
    return egogym_main(["train", "--preset", "smoke", "--no-progress", "--set", "train.video_frames=0",
                        "--set", "train.val_every=100", *args])


def test_a_two_step_cotraining_run_with_both_bridges_logs_them_records_them_and_resumes(tiny_files, tmp_path):
    robot, human = tiny_files
    sets = ["--set", "train.ot_weight=0.5", "--set", "train.adversarial_weight=0.1", "--set", "train.ckpt_every=1",
            "--set", "train.align_tokens=memory"]
    files = ["--robot", str(robot), "--human", str(human)]
    assert _train([*files, "--out", str(tmp_path / "straight"), "--steps", "2", *sets]) == 0
    rows = [json.loads(l) for l in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert len(train_rows) == 2 and all({"align/ot", "align/ot_err", "align/adv", "align/adv_acc"} <= set(r) for r in train_rows)
    cfg = json.loads((tmp_path / "straight" / "config.json").read_text())["train"]
    assert (cfg["ot_weight"], cfg["adversarial_weight"], cfg["align_tokens"]) == (0.5, 0.1, "memory")
    assert {"ot_blur", "ot_action_scale", "ot_dtw_points", "ot_dtw_gamma"} <= set(cfg)
    ck = load_checkpoint(tmp_path / "straight")  # the policy alone: the classifier is not part of it
    assert ck.config.train.ot_weight == 0.5 and (ck.path / "train_domain_head.safetensors").is_file()
    # 1 step, then resumed to 2: the same as 2 straight (the classifier and its moments come back)
    assert _train([*files, "--out", str(tmp_path / "split"), "--steps", "1", *sets]) == 0
    assert egogym_main(["train", "--robot", str(robot), "--human", str(human), "--out", str(tmp_path / "split"),
                        "--resume", "--steps", "2", "--no-progress"]) == 0
    a, b = load_checkpoint(tmp_path / "straight").model.state_dict(), load_checkpoint(tmp_path / "split").model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_a_robot_only_run_with_a_bridge_is_refused_naming_the_field(tiny_files, tmp_path, capsys):
    robot, _ = tiny_files
    for field in ("ot_weight", "adversarial_weight"):
        assert _train(["--robot", str(robot), "--out", str(tmp_path / field), "--steps", "1",
                       "--set", f"train.{field}=0.2"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"train.{field}=0.2" in err and "--human" in err
