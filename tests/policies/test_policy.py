import gymnasium as gym
import numpy as np
import pytest

from egogym.core.protocols import Policy
from egogym.core.spec import EGOMIMIC
from egogym.policies import load_policy
from egogym.policies.checkpoint import CheckpointError
from egogym.policies.config import TemporalEnsemble
from egogym.policies.synthetic import synthetic_calibration, train_synthetic_run


class FakeEnv:
    """The parts of EgoEnv a Policy reads: arms, observation_space, robot, calibration."""

    def __init__(self, keys=("front_img_1", "front_img_1_line", "right_wrist_img"), image_size=(32, 32)):
        self.arms, self.robot, self.image_size = ("right",), EGOMIMIC, image_size
        self.calibration = synthetic_calibration((32, 32))
        sp = {k: gym.spaces.Box(0, 255, (32, 32, 3), np.uint8) for k in keys}
        sp["joint_positions"] = gym.spaces.Box(-4, 4, (7,), np.float64)
        self.observation_space = gym.spaces.Dict(sp)

    def obs(self, rng):
        return {k: (rng.integers(0, 255, s.shape).astype(np.uint8) if s.dtype == np.uint8
                    else rng.uniform(-0.5, 0.5, s.shape)) for k, s in self.observation_space.spaces.items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_synthetic_run(tmp_path_factory.mktemp("policy") / "run")


def test_policy_queries_every_k_points_holds_each_point_and_resets(run):
    env = FakeEnv()
    pol = load_policy(run, env)
    assert isinstance(pol, Policy)
    rng = np.random.default_rng(0)
    queries, actions = [], []
    for t in range(120):
        a = pol.act(env.obs(rng))
        actions.append(a)
        if pol.last_query_step == t:
            queries.append(t)
    assert queries == [0, 50, 100]  # k=25 chunk points, 2 control steps each: one query a second at 50 Hz
    assert actions[0].shape == (7,) and np.all(np.isfinite(actions))
    np.testing.assert_array_equal(actions[0], actions[1])  # each chunk point held for 2 steps
    assert pol.last_chunk_xyz.shape == (100, 3) and pol.last_chunk_fk_xyz.shape == (100, 3)
    pol.reset()
    pol.act(env.obs(rng))
    assert pol.last_query_step == 0


def test_policy_first_action_is_the_first_predicted_point(run):
    env = FakeEnv()
    pol = load_policy(run, env)
    obs = env.obs(np.random.default_rng(1))
    a = pol.act(obs)
    joints, _ = pol.predict_chunk(obs)
    np.testing.assert_allclose(a, joints[0], rtol=1e-6)


def test_temporal_ensembling_policy_queries_at_every_chunk_point(run):
    env = FakeEnv()
    pol = load_policy(run, env, execution=TemporalEnsemble(0.01))
    rng = np.random.default_rng(2)
    q = []
    for t in range(6):
        pol.act(env.obs(rng))
        q.append(pol.last_query_step)
    assert q == [0, 0, 2, 2, 4, 4]


def test_policy_refuses_an_env_without_the_model_inputs(run):
    with pytest.raises(CheckpointError, match="front_img_1_line"):
        load_policy(run, FakeEnv(keys=("front_img_1", "right_wrist_img")))
    env = FakeEnv()
    env.arms = ("left", "right")
    with pytest.raises(CheckpointError, match="arm"):
        load_policy(run, env)


def test_policy_refuses_an_env_at_another_image_size_than_its_training_data(run):
    with pytest.raises(CheckpointError, match=r"trained on 32x32 images, the env renders 48x64: evaluate with "
                                              r"--image-size 32 32"):
        load_policy(run, FakeEnv(image_size=(48, 64)))


def test_policy_says_when_it_reads_the_cameras(run):
    pol = load_policy(run, FakeEnv())
    rng, env = np.random.default_rng(1), FakeEnv()
    reads = []
    for t in range(101):
        reads.append(pol.reads_images())
        pol.act(env.obs(rng))
    assert [t for t, r in enumerate(reads) if r] == [0, 50, 100]  # the query steps, and only those


def test_pose_head_ik_drive_follows_the_pose_head_with_the_joint_heads_wrist(run):
    """drive="pose_head_ik": the executed points' pinch positions are at least as close to the
    pose head's chunk as the joint head's own are; wrist joints and gripper are the joint head's."""
    from egogym.core.kinematics import pinch_in_camera

    env = FakeEnv()
    joint_pol = load_policy(run, env)
    ik_pol = load_policy(run, env, drive="pose_head_ik")
    obs = env.obs(np.random.default_rng(3))
    joint_pol.act(obs)
    first = ik_pol.act(obs)
    k = 25
    xyz, head = ik_pol.last_chunk_xyz[:k], joint_pol.last_chunk_joints[:k]
    ik_joints = ik_pol.last_chunk_joints[:k]  # what the executor plays
    np.testing.assert_allclose(first, ik_joints[0])
    d_ik = np.linalg.norm(pinch_in_camera(ik_pol.arm_specs, env.calibration, ik_joints) - xyz, axis=1)
    d_head = np.linalg.norm(pinch_in_camera(ik_pol.arm_specs, env.calibration, head) - xyz, axis=1)
    assert np.all(d_ik <= d_head + 1e-9)
    np.testing.assert_array_equal(ik_joints[:, 3:], head[:, 3:])
    assert ik_pol.last_ik_error_m is not None
    with pytest.raises(CheckpointError, match="drive='nope'"):
        load_policy(run, env, drive="nope")


def test_human_pose_ik_drive_places_the_arm_at_the_human_domains_chunk(run, tmp_path):
    """drive="human_pose_ik": the pose-head chunk it executes is the human domain's prediction for the
    robot's observation (front camera only, `ee_pose` through the human's statistics), wrist joints and
    gripper the joint head's; a run without a human domain is refused."""
    import torch

    from egogym.policies.batch import images_to_tensor

    env = FakeEnv()
    env.observation_space.spaces["ee_pose"] = gym.spaces.Box(-2, 2, (3,), np.float64)
    pol = load_policy(run, env, drive="human_pose_ik")
    obs = env.obs(np.random.default_rng(4))
    pol.act(obs)
    mc, norm = pol.config.model, pol.normalizer
    with torch.no_grad():
        front = images_to_tensor(torch.as_tensor(obs[mc.front_key][None]), mc.image_size, mc.front_crop)
        q = norm.normalize("human", "ee_pose", torch.as_tensor(obs["ee_pose"], dtype=torch.float32)[None])
        want = norm.unnormalize("human", "actions_xyz_act", pol.model("human", {"front": front}, q)["xyz"])[0].numpy()
    np.testing.assert_allclose(pol.last_chunk_xyz, want, rtol=1e-5, atol=1e-6)
    robot_xyz = load_policy(run, env).predict_chunk(obs)[1]
    assert not np.allclose(pol.last_chunk_xyz, robot_xyz)  # not the robot pathway's chunk
    head = load_policy(run, env).predict_chunk(obs)[0]
    np.testing.assert_array_equal(pol.last_chunk_joints[:25, 3:], head[:25, 3:])
    robot_only = train_synthetic_run(tmp_path / "robot_only", cotrain=False)
    with pytest.raises(CheckpointError, match="human_pose_ik.*joint_head"):
        load_policy(robot_only, env, drive="human_pose_ik")
    with pytest.raises(CheckpointError, match="ee_pose"):
        load_policy(run, FakeEnv(), drive="human_pose_ik")


@pytest.mark.parametrize("preset_name", ["cpu", "smoke"])
def test_every_preset_trains_a_synthetic_run_the_benchmarks_use(tmp_path, preset_name):
    # bench/eval_throughput.py trains the cpu preset on synthetic data: its recipe options
    # (early-frame repeats read the demo lengths) must work on it too.
    out = train_synthetic_run(tmp_path / "run", preset_name, (64, 64), steps=1, cotrain=False, samples=4)
    assert (out / "LATEST").is_file()
