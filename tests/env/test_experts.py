"""Scripted experts succeed through the ordinary action interface.

CI runs a sample of seeds; the 200-seed figures in docs/BENCHMARKS.md come from
`python bench/expert_success.py --episodes 200`."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from egogym.sim.experts import make_expert, steps_to_first_point


def success_rate(env_id: str, seeds: range) -> float:
    env = gym.make(env_id, cameras=())
    expert = make_expert(env)
    wins = sum(steps_to_first_point(env, expert, seed) is not None for seed in seeds)
    env.close()
    return wins / len(seeds)


@pytest.mark.parametrize("env_id,n", [("egogym/ObjectInBowl-v0", 30), ("egogym/HandOver-v0", 15)])
def test_expert_success(env_id, n):
    assert success_rate(env_id, range(1000, 1000 + n)) >= 0.95


def test_expert_commands_stay_in_the_action_space():
    env = gym.make("egogym/HandOver-v0", cameras=())
    expert = make_expert(env)
    obs, _ = env.reset(seed=0)
    expert.reset()
    for _ in range(300):
        a = expert.act(obs)
        assert env.action_space.contains(a.astype(np.float64))
        obs, _, _, _, info = env.step(a)
        np.testing.assert_array_equal(info["applied_action"], a)
    env.close()
