"""egogym as a LeRobot benchmark env, tested without LeRobot: the key table
(`egogym.data.lerobot_keys`), the env `lerobot-eval` steps (`egogym.integrations.lerobot_env`:
observations inside the declared space, `is_success`, the attributes its rollout reads) and the
vector env whose spawned workers import egogym themselves. What LeRobot's own functions make of
it (`preprocess_observation`, `--env.type=egogym`) is checked where LeRobot is installed:
bench/lerobot_roundtrip.sh, and the last test here when lerobot imports."""
from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from egogym.data import lerobot_keys as K
from egogym.env import EgoEnv
from egogym.integrations.lerobot_env import LeRobotEnv, make_env, make_vector_env

SMALL = {"image_size": (24, 32), "max_episode_steps": 6}


def fake_obs(h=4, w=6, joints=7, xyz=3):
    rng = np.random.default_rng(0)
    return {"front_img_1": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            "right_wrist_img": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            "joint_positions": rng.normal(size=joints), "ee_pose": rng.normal(size=xyz)}


def test_the_key_table_names_lerobots_standard_features():
    cams = ("front_img_1", "right_wrist_img")
    assert K.features_map(cams) == {"action": "action", "agent_pos": "observation.state",
                                    "ee_pose": "observation.ee_pose",
                                    "pixels/front_img_1": "observation.images.front_img_1",
                                    "pixels/right_wrist_img": "observation.images.right_wrist_img"}
    feats = K.env_features(cams, (24, 32), 7, 3)
    assert feats == {"action": ("ACTION", (7,)), "agent_pos": ("STATE", (7,)), "ee_pose": ("STATE", (3,)),
                     "pixels/front_img_1": ("VISUAL", (24, 32, 3)), "pixels/right_wrist_img": ("VISUAL", (24, 32, 3))}
    assert set(feats) == set(K.features_map(cams))  # LeRobot's env_to_policy_features maps every feature
    assert K.parse_cameras(" front_img_1, right_wrist_img,front_img_1 ") == cams
    assert K.parse_cameras(["front_img_1"]) == ("front_img_1",)
    with pytest.raises(ValueError, match="at least one camera"):
        K.parse_cameras(" , ")


def test_the_policy_batch_is_what_lerobots_preprocessing_makes():
    obs = fake_obs()
    batch = K.policy_batch(obs, ("front_img_1", "right_wrist_img"), "object_in_bowl")
    assert set(batch) == {"observation.images.front_img_1", "observation.images.right_wrist_img",
                          "observation.state", "observation.ee_pose", "task"}
    img = batch["observation.images.front_img_1"]
    assert img.shape == (1, 3, 4, 6) and img.dtype == np.float32
    np.testing.assert_allclose(img[0].transpose(1, 2, 0), obs["front_img_1"] / 255.0, rtol=1e-6)
    assert batch["observation.state"].shape == (1, 7) and batch["observation.state"].dtype == np.float32
    np.testing.assert_allclose(batch["observation.ee_pose"][0], obs["ee_pose"].astype(np.float32))
    assert batch["task"] == ["object_in_bowl"]
    with pytest.raises(ValueError, match="expected \\(H, W, 3\\) uint8"):
        K.policy_batch({**obs, "front_img_1": obs["front_img_1"].astype(np.float32)}, ("front_img_1",), "t")
    raw = K.env_observation(obs, ("front_img_1",))
    assert set(raw) == {"pixels", "agent_pos", "ee_pose"} and set(raw["pixels"]) == {"front_img_1"}
    assert raw["agent_pos"] is obs["joint_positions"]


def test_policy_cameras_and_actions_map_back():
    feats = {"observation.images.front_img_1_line": {}, "observation.state": {}, "observation.images.right_wrist_img": {}}
    assert K.policy_cameras(feats) == ("front_img_1_line", "right_wrist_img")
    with pytest.raises(ValueError, match="observation.image'"):
        K.policy_cameras({"observation.image": {}})
    a = K.egogym_action(np.arange(7, dtype=np.float32)[None], 7)
    assert a.dtype == np.float64 and a.shape == (7,) and a[6] == 6
    assert K.egogym_action(np.zeros(14), 14).shape == (14,)
    with pytest.raises(ValueError, match="this env takes \\(7,\\) joint targets"):
        K.egogym_action(np.zeros((1, 14)), 7)


def test_the_env_lerobot_eval_steps():
    env = make_env("egogym/ObjectInBowl-v0", **SMALL)
    try:
        assert isinstance(env, LeRobotEnv) and env.cameras == ("front_img_1", "right_wrist_img")
        assert env._max_episode_steps == 6 and env.task == env.task_description == "object_in_bowl"
        assert env.metadata["render_fps"] == 50 and isinstance(env.metadata["render_fps"], int)
        obs, info = env.reset(seed=0)
        assert obs in env.observation_space and info["is_success"] is False
        assert set(obs["pixels"]) == {"front_img_1", "right_wrist_img"} and obs["agent_pos"].shape == (7,)
        steps = 0
        while True:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            steps += 1
            assert obs in env.observation_space and info["is_success"] == info["success"]
            if terminated or truncated:
                break
        assert steps == 6 and truncated
        assert env.render().shape == (24, 32, 3)
    finally:
        env.close()
    named = make_env("egogym/HandOver-v0", cameras=("front_img_1",), task_description="hand the bar over", **SMALL)
    try:
        assert named.task == "handover" and named.task_description == "hand the bar over"
        assert named.observation_space["agent_pos"].shape == (14,) and set(named.observation_space["pixels"]) == {"front_img_1"}
    finally:
        named.close()
    with pytest.raises(ValueError, match="not registered; egogym has: egogym/ObjectInBowl-v0"):
        make_env("egogym/Nope-v0")
    with pytest.raises(ValueError, match="needs a time limit"):
        LeRobotEnv(EgoEnv(image_size=(24, 32)))  # not made by gym.make: no spec, no limit


def test_spawned_workers_import_egogym_and_report_success_where_lerobot_reads_it():
    """The failure LeRobot's own closure meets (`Namespace egogym not found` in the workers) does
    not happen: the workers call `make_env`, importing egogym; the ending step's `is_success`
    comes in `final_info` (autoreset in the same step, as LeRobot's vector envs)."""
    envs = make_vector_env(2, use_async=True, **SMALL)
    try:
        assert isinstance(envs, gym.vector.AsyncVectorEnv)
        obs, info = envs.reset(seed=[0, 1])
        assert obs["pixels"]["front_img_1"].shape == (2, 24, 32, 3) and list(info["is_success"]) == [False, False]
        assert list(envs.call("task_description")) == ["object_in_bowl"] * 2
        assert list(envs.call("_max_episode_steps")) == [6, 6]
        for _ in range(6):
            obs, _, terminated, truncated, info = envs.step(np.stack([envs.single_action_space.sample()] * 2))
        assert truncated.all() and "final_info" in info and list(info["final_info"]["is_success"]) == [False, False]
    finally:
        envs.close()
    assert isinstance(make_vector_env(1, use_async=True, **SMALL), gym.vector.SyncVectorEnv)  # one env: no workers


def test_egogym_never_imports_lerobot():
    code = ("import sys, egogym, egogym.integrations.lerobot_env, egogym.data.lerobot_keys, egogym.policies.lerobot, "
            "egogym.policies.kinds\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'lerobot'))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr[-2000:]


def test_lerobots_own_preprocessing_agrees_where_lerobot_is_installed():
    pytest.importorskip("lerobot", reason="LeRobot runs in a venv of its own (bench/lerobot_roundtrip.sh)")
    import torch
    from lerobot.envs.configs import EnvConfig
    from lerobot.envs.utils import env_to_policy_features, preprocess_observation

    import egogym.integrations.lerobot_config  # noqa: F401  (registers --env.type=egogym)

    obs = fake_obs()
    cams = ("front_img_1", "right_wrist_img")
    ours = K.policy_batch(obs, cams, "object_in_bowl")
    raw = {k: ({c: v[None] for c, v in x.items()} if k == "pixels" else x[None])
           for k, x in K.env_observation(obs, cams).items()}
    theirs = preprocess_observation(raw)
    assert set(theirs) == set(ours) - {"task"}
    for k, v in theirs.items():
        torch.testing.assert_close(v, torch.from_numpy(ours[k]))
    cfg = EnvConfig.get_choice_class("egogym")(observation_height=4, observation_width=6)
    assert cfg.package_name == "egogym" and cfg.gym_id == "egogym/ObjectInBowl-v0"
    pf = env_to_policy_features(cfg)
    assert pf["observation.images.front_img_1"].shape == (3, 4, 6) and pf["observation.state"].shape == (7,)
    with pytest.raises(ValueError, match="did you mean 'ObjectInBowl-v0'"):
        EnvConfig.get_choice_class("egogym")(task="ObjectInBowl")


def test_a_success_reaches_final_info_as_lerobot_eval_reads_it():
    """The scripted expert scores within 200 steps of seed 0; the episode's `is_success` arrives in
    `final_info` at the time limit (where `lerobot_eval.rollout` reads it), while `info` already
    holds the autoreset episode's."""
    from egogym.sim.experts import make_expert

    envs = make_vector_env(1, max_episode_steps=200, image_size=(24, 32))
    try:
        expert = make_expert(envs.envs[0])
        obs, _ = envs.reset(seed=[0])
        expert.reset()
        for _ in range(200):
            egogym_obs = {"joint_positions": obs["agent_pos"][0], "ee_pose": obs["ee_pose"][0],
                          **{c: v[0] for c, v in obs["pixels"].items()}}
            obs, _, _, truncated, info = envs.step(expert.act(egogym_obs)[None])
    finally:
        envs.close()
    assert truncated[0] and info["final_info"]["is_success"].tolist() == [True]
    assert info["is_success"].tolist() == [False]
