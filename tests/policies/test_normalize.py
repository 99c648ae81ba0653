"""The normalization schemes (train.normalization): what each z-scores with, and that a run records it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from egogym.cli import main as egogym_main
from egogym.data.stats import NormStats
from egogym.policies.checkpoint import load_checkpoint
from egogym.policies.config import ConfigError, preset
from egogym.policies.normalize import SHARED_KEYS, pool


def _stats(domain: str, mean: float, std: float, joints: bool) -> NormStats:
    m = {"ee_pose": np.full(3, mean), "actions_xyz_act": np.full((100, 3), mean)}
    s = {"ee_pose": np.full(3, std), "actions_xyz_act": np.full((100, 3), std)}
    if joints:
        m["joint_positions"], s["joint_positions"] = np.zeros(7), np.ones(7)
    return NormStats(domain, m, s, source=f"{domain}.hdf5")


@settings(max_examples=40, deadline=None)
@given(st.floats(-1, 1), st.floats(0.01, 1), st.floats(-1, 1), st.floats(0.01, 1))
def test_shared_statistics_are_the_moments_of_the_equal_mixture(m_r, s_r, m_h, s_h):
    stats = {"robot": _stats("robot", m_r, s_r, True), "human": _stats("human", m_h, s_h, False)}
    out = pool(stats, "shared")
    # the mixture, sampled: half robot, half human values
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(m_r, s_r, 200_000), rng.normal(m_h, s_h, 200_000)])
    for k in SHARED_KEYS:
        assert np.array_equal(out["robot"].mean[k], out["human"].mean[k])
        assert np.array_equal(out["robot"].std[k], out["human"].std[k])
        assert out["robot"].mean[k].shape == stats["robot"].mean[k].shape
        assert out["robot"].mean[k].flat[0] == pytest.approx(x.mean(), abs=0.01)
        assert out["robot"].std[k].flat[0] == pytest.approx(x.std(), rel=0.02, abs=0.005)
    # a key only one domain holds, and the inputs, are untouched
    assert np.array_equal(out["robot"].std["joint_positions"], np.ones(7))
    assert stats["robot"].mean["ee_pose"][0] == m_r and "shared over" in out["human"].source


def test_per_domain_and_robot_only_are_unchanged():
    stats = {"robot": _stats("robot", 0.3, 0.1, True), "human": _stats("human", 0.0, 0.2, False)}
    assert pool(stats, "per_domain")["human"] is stats["human"]
    assert pool({"robot": stats["robot"]}, "shared")["robot"] is stats["robot"]
    with pytest.raises(ConfigError, match="train.normalization='share'.*did you mean 'shared'"):
        preset("smoke").with_overrides({"train.normalization": "share"})


def test_a_shared_run_records_its_choice_and_its_pooled_statistics(tiny_files, tmp_path):
    robot, human = tiny_files
    runs = {}
    for scheme in ("per_domain", "shared"):
        out = tmp_path / scheme
        assert egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--human", str(human), "--out",
                            str(out), "--steps", "1", "--no-progress", "--set", f"train.normalization={scheme}",
                            "--set", "train.video_frames=0"]) == 0
        runs[scheme] = load_checkpoint(out)
    per, shared = (runs[s] for s in ("per_domain", "shared"))
    assert per.config.train.normalization == "per_domain" and shared.config.train.normalization == "shared"
    p, s = per.normalizer.stats, shared.normalizer.stats
    assert not np.allclose(p["robot"].mean["actions_xyz_act"], p["human"].mean["actions_xyz_act"])
    assert np.array_equal(s["robot"].mean["actions_xyz_act"], s["human"].mean["actions_xyz_act"])
    assert np.array_equal(s["robot"].mean["joint_positions"], p["robot"].mean["joint_positions"])
