"""Gymnasium's vector envs over the registered ids (docs/ECOSYSTEM.md): `gymnasium.make_vec`,
sync and async (spawned workers, REFERENCE §9), give each sub-env the observation of the
single env reset with the same seed."""
import gymnasium as gym
import numpy as np
import pytest

import egogym  # noqa: F401  (registers the ids)


@pytest.mark.parametrize("mode,kwargs", [("sync", {}), ("async", {"context": "spawn"})])
def test_make_vec_matches_single_envs(mode, kwargs):
    envs = gym.make_vec("egogym/ObjectInBowl-v0", num_envs=2, vectorization_mode=mode, vector_kwargs=kwargs,
                        image_size=(32, 32), cameras=("front_img_1",))
    try:
        obs, _ = envs.reset(seed=[3, 4])
        action = np.stack([envs.single_action_space.sample()] * 2)
        stepped, reward, terminated, truncated, _ = envs.step(action)
    finally:
        envs.close()
    assert reward.shape == terminated.shape == truncated.shape == (2,)
    for i, seed in enumerate((3, 4)):
        env = gym.make("egogym/ObjectInBowl-v0", image_size=(32, 32), cameras=("front_img_1",))
        try:
            single, _ = env.reset(seed=seed)
            after = env.step(action[i])[0]
        finally:
            env.close()
        for k in single:
            np.testing.assert_array_equal(obs[k][i], single[k], err_msg=f"{mode} {k} at reset")
            np.testing.assert_array_equal(stepped[k][i], after[k], err_msg=f"{mode} {k} after a step")
