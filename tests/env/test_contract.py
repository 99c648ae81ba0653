"""The Gymnasium contract, as any wrapper or checker sees it: every observation inside
`observation_space` under random actions, also on steps that render nothing (lazy rendering),
and an integer `render_fps` (video writers take it as a fraction)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import egogym
from egogym.core.spec import JOINT_LIMIT_SLACK


def test_ten_thousand_random_steps_stay_in_the_space_under_the_passive_checker():
    """Random joint targets, both arms, 10,000 steps, Gymnasium's own passive checker on (it checks
    every observation against the space). Limits are soft in MuJoCo: the observation space states
    the measured range (`egogym.core.spec.JOINT_LIMIT_SLACK`), never narrower than what comes out."""
    env = gym.make("egogym/ObjectInBowl-v0", arms="both", image_size=(16, 16), cameras=("front_img_1",),
                   max_episode_steps=2000)
    assert "PassiveEnvChecker" in str(env)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    space = env.observation_space
    worst = 0.0
    for t in range(10_000):
        env.unwrapped.request_images(t % 7 == 0)  # most steps render nothing, as in evaluation
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert space.contains(obs), t
        q = obs["joint_positions"]
        worst = max(worst, float(np.max(np.maximum(q - env.action_space.high, env.action_space.low - q))))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    assert 0 < worst <= JOINT_LIMIT_SLACK  # random targets do push joints past their limits: the slack is used


def test_a_step_that_renders_nothing_keeps_every_key():
    env = gym.make("egogym/ObjectInBowl-v0", image_size=(16, 16))
    obs, _ = env.reset(seed=1)
    env.unwrapped.request_images(False)
    blank, _, _, _, _ = env.step(obs["joint_positions"])
    assert set(blank) == set(obs) and env.observation_space.contains(blank)
    assert all(not blank[c].any() and not blank[c].flags.writeable for c in env.unwrapped.cameras)
    rendered, _, _, _, _ = env.step(obs["joint_positions"])
    assert rendered["front_img_1"].any()
    env.close()


@pytest.mark.parametrize("env_id", sorted(egogym.ENV_IDS))
def test_render_fps_is_an_int(env_id):
    env = gym.make(env_id, image_size=(16, 16), cameras=())
    assert env.metadata["render_fps"] == 50 and isinstance(env.metadata["render_fps"], int)
    env.close()
