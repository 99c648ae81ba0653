"""EgoEnv and the MuJoCo twin: Gymnasium API, determinism, clipping, camera geometry."""
from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import egogym
from egogym.env import EgoEnv
from egogym.core import geometry
from egogym.core.spec import EGOMIMIC

SMALL = (48, 64)


def make(env_id="egogym/ObjectInBowl-v0", **kw):
    kw.setdefault("image_size", SMALL)
    return gym.make(env_id, **kw)


# Absolute joint targets in radians are EgoMimic's action layout; Gymnasium's advice to
# normalise Box actions to [-1, 1] is for RL and would break compatibility with the data.
NORMALISE_ADVICE = "we recommend using a symmetric and normalized space"


@pytest.mark.parametrize("env_id", sorted(egogym.ENV_IDS))
def test_check_env_clean(env_id):
    env = make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
    env.close()
    other = [str(w.message) for w in caught if NORMALISE_ADVICE not in str(w.message)]
    assert other == []


@pytest.mark.parametrize("env_id", sorted(egogym.ENV_IDS))
def test_same_seed_same_rollout(env_id):
    """Two envs, same seed, same random actions: identical observations and rewards."""
    a, b = make(env_id), make(env_id)
    rng = np.random.default_rng(7)
    oa, _ = a.reset(seed=123)
    ob, _ = b.reset(seed=123)
    for _ in range(100):
        act = rng.uniform(a.action_space.low, a.action_space.high)
        oa, ra, *_ = a.step(act)
        ob, rb, *_ = b.step(act)
        assert ra == rb
        for k in oa:
            np.testing.assert_array_equal(oa[k], ob[k], err_msg=k)
    a.close()
    b.close()


def test_different_seeds_place_objects_differently():
    env = make(cameras=())
    task, physics = env.unwrapped.backend.sim_task, env.unwrapped.backend.physics
    env.reset(seed=1)
    p1 = task.toy_pose(physics)[0].copy(), task.bowl_position(physics).copy()
    env.reset(seed=2)
    p2 = task.toy_pose(physics)[0], task.bowl_position(physics)
    assert not np.allclose(p1[0], p2[0]) and not np.allclose(p1[1], p2[1])
    env.close()


def test_layouts_and_spaces():
    right = make()
    both = make("egogym/HandOver-v0")
    assert right.action_space.shape == (7,) and both.action_space.shape == (14,)
    obs, _ = right.reset(seed=0)
    assert set(obs) == {"front_img_1", "right_wrist_img", "joint_positions", "ee_pose"}
    assert obs["front_img_1"].shape == (*SMALL, 3) and obs["front_img_1"].dtype == np.uint8
    obs2, _ = both.reset(seed=0)
    assert obs2["joint_positions"].shape == (14,) and obs2["ee_pose"].shape == (6,)
    assert {"left_wrist_img", "right_wrist_img"} <= set(obs2)
    # At the start both grippers are open and the arms sit at the home pose.
    np.testing.assert_allclose(obs2["joint_positions"][[6, 13]], 1.0)
    np.testing.assert_allclose(obs2["joint_positions"][:6], EGOMIMIC.arm("left").home, atol=1e-9)
    right.close()
    both.close()


def test_commands_are_clipped_and_reported():
    env = make(cameras=())
    env.reset(seed=0)
    hi = env.action_space.high
    _, _, _, _, info = env.step(hi + 5.0)
    np.testing.assert_array_equal(info["applied_action"], hi)
    _, _, _, _, info = env.step(env.action_space.low - 5.0)
    np.testing.assert_array_equal(info["applied_action"], env.action_space.low)
    with pytest.raises(ValueError, match="7 values per arm"):
        env.step(np.zeros(14))
    env.close()


def test_bad_options_fail_with_one_line():
    with pytest.raises(KeyError, match="unknown camera"):
        make(cameras=("top",))
    with pytest.raises(ValueError, match="arms="):
        make(arms="middle")
    with pytest.raises(ValueError, match="did you mean 'object_in_bowl'"):
        EgoEnv(task="object_in_bowls")
    with pytest.raises(ValueError, match="toys: .duck. is not one of"):
        make(task_options={"toys": ("duck",)})


def test_joint_targets_are_tracked():
    """Position actuators reach a commanded pose (within 1 degree) in 2 s."""
    env = make(cameras=())
    env.reset(seed=0)
    target = np.array(EGOMIMIC.arm("right").home) + np.array([0.3, 0.2, -0.2, 0.3, 0.2, 0.5])
    cmd = np.append(target, 0.5)
    for _ in range(100):
        obs, *_ = env.step(cmd)
    np.testing.assert_allclose(obs["joint_positions"][:6], target, atol=np.radians(1))
    env.close()


def test_ee_pose_projects_onto_the_gripper():
    """ee_pose through the declared intrinsics lands on the gripper in the Aria image."""
    env = make(image_size=(240, 320), cameras=("front_img_1",), arms="both", task="object_in_bowl")
    backend = env.unwrapped.backend
    obs, _ = env.reset(seed=3)
    K = env.unwrapped.calibration.K("front_img_1")
    seg = backend.render_segmentation("front_img_1")
    for i, arm in enumerate(("left", "right")):
        uv = geometry.project(K, obs["ee_pose"][3 * i: 3 * i + 3])
        gripper = [backend.model.body(f"{arm}/{b}").id for b in ("gripper_link", "left_finger", "right_finger")]
        geoms = np.flatnonzero(np.isin(backend.model.geom_bodyid, gripper))
        mask = (seg[..., 1] == 5) & np.isin(seg[..., 0], geoms)  # mjOBJ_GEOM == 5
        vs, us = np.nonzero(mask)
        assert len(us) > 20, f"{arm} gripper not visible"
        # Continuous pixel coordinates: pixel (r, c) covers [c, c+1) x [r, r+1).
        assert us.min() - 2 <= uv[0] <= us.max() + 3, (arm, uv, us.min(), us.max())
        assert vs.min() - 2 <= uv[1] <= vs.max() + 3, (arm, uv, vs.min(), vs.max())
        centroid = np.array([us.mean() + 0.5, vs.mean() + 0.5])
        assert np.linalg.norm(centroid - uv) < 0.1 * 320
    env.close()


def test_calibration_matches_spec_and_model():
    env = make(image_size=(480, 640), cameras=("front_img_1",))
    cal = env.unwrapped.calibration
    K = cal.K("front_img_1")
    np.testing.assert_allclose(K, [[266.5, 0, 320], [0, 266.5, 240], [0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(cal.K("front_img_1", (120, 160))[0, 0], 266.5 / 4)
    d405 = cal.K("right_wrist_img")
    fovy = np.degrees(2 * np.arctan(240 / d405[1, 1]))
    assert abs(fovy - 58.0) < 1e-6
    # T_cam_base maps an arm's base origin to where the model puts it, seen from the Aria.
    backend = env.unwrapped.backend
    base_world = backend.base_pose("right")[:3, 3]
    np.testing.assert_allclose(cal.T_cam_base["right"][:3, 3], backend.to_camera(base_world), atol=1e-9)
    # The pinch point through T_cam_base equals ee_pose.
    T_world_base = backend.base_pose("right")
    p_base = geometry.transform_points(geometry.invert(T_world_base), backend.pinch_world("right"))
    np.testing.assert_allclose(geometry.transform_points(cal.T_cam_base["right"], p_base),
                               backend.ee_pose(("right",)), atol=1e-9)
    env.close()


def test_reward_sums_to_points():
    from egogym.sim.experts import make_expert

    env = make(cameras=())
    expert = make_expert(env)
    obs, _ = env.reset(seed=4)
    expert.reset()
    total = 0.0
    for _ in range(700):
        obs, r, term, trunc, info = env.step(expert.act(obs))
        total += r
    assert info["points"] >= 1 and total == info["points"] == env.unwrapped.finish_episode().points
    env.close()


def test_render_rgb_array():
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (*SMALL, 3) and frame.dtype == np.uint8 and frame.std() > 1
    env.close()


def test_masked_and_line_views():
    """The derived Aria views: arms blacked out, a red line along the active arm."""
    env = make(image_size=(120, 160), cameras=("front_img_1", "front_img_1_masked", "front_img_1_line"))
    obs, _ = env.reset(seed=0)
    front, masked, line = obs["front_img_1"], obs["front_img_1_masked"], obs["front_img_1_line"]
    assert env.observation_space.contains(obs)
    black = (masked == 0).all(-1)
    assert black.mean() > 0.01  # the arms occupy part of the view
    np.testing.assert_array_equal(masked[~black], front[~black])
    red = (line[..., 0] > 200) & (line[..., 1] < 60) & (line[..., 2] < 60)
    assert red.sum() > 20 and (red & black).sum() > 0.5 * red.sum()  # the line runs over the masked arm
    env.close()


def test_reset_info_start_is_the_seeded_placement():
    """info["start"]: the placement made at reset (m, rad, world), the same for the same seed,
    and unchanged when the toy is placed anew after a point."""
    import json

    a, b = make(cameras=()), make(cameras=())
    task, physics = a.unwrapped.backend.sim_task, a.unwrapped.backend.physics
    _, ia = a.reset(seed=11)
    _, ib = b.reset(seed=11)
    start = ia["start"]
    assert start == ib["start"] and json.loads(json.dumps(start)) == start
    assert set(start) == {"toy", "toy_xy", "toy_yaw", "bowl_xy", "toy_colour", "table_colour", "light", "distractor",
                          "distractor_xy"} and start["toy"] == task.toy
    assert (start["toy_colour"], start["table_colour"], start["light"], start["distractor"]) == (
        {"cube": "red", "cylinder": "yellow"}[task.toy], None, "default", None)
    pos, yaw = task.toy_pose(physics)
    np.testing.assert_allclose(start["toy_xy"], pos[:2], atol=1e-9)
    assert np.cos(start["toy_yaw"] - yaw) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(start["bowl_xy"], task.bowl_position(physics)[:2], atol=1e-9)
    (x0, x1), (y0, y1) = task.task.toy_region
    assert x0 <= start["toy_xy"][0] <= x1 and y0 <= start["toy_xy"][1] <= y1
    task.replace_toy(physics)  # what a scored point does
    assert not np.allclose(task.toy_pose(physics)[0][:2], start["toy_xy"])
    assert task.episode_start() == start
    _, ic = a.reset(seed=12)
    assert ic["start"]["toy_xy"] != start["toy_xy"]
    a.close()
    b.close()
