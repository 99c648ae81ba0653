"""`--policy lerobot:PATH` without LeRobot: the folder is found and read (config.json as
`lerobot-train` writes it), the env gets the policy's cameras, a policy that does not fit the env
is one line naming the flag to change, a missing lerobot is one line naming what to install, and
the adapter feeds a policy with LeRobot's `select_action` API the batch `lerobot-eval` would and
returns egogym's joint targets. Loading a real LeRobot checkpoint: bench/lerobot_roundtrip.sh."""
from __future__ import annotations

import importlib.util
import json
from collections import deque

import gymnasium as gym
import numpy as np
import pytest

import egogym  # noqa: F401  (registers the ids)
from egogym.core.errors import UserError
from egogym.policies.kinds import LeRobotRun, parse_policy
from egogym.policies.lerobot import LeRobotPolicy, find_pretrained, load_lerobot_policy

HAS_LEROBOT = importlib.util.find_spec("lerobot") is not None


def write_pretrained(folder, cameras=("front_img_1", "right_wrist_img"), hw=(24, 32), width=7):
    """A pretrained_model folder as lerobot-train 0.6.1 writes it (config.json's feature layout; the
    weights file only needs to exist here)."""
    folder.mkdir(parents=True)
    inputs = {f"observation.images.{c}": {"type": "VISUAL", "shape": [3, *hw]} for c in cameras}
    inputs["observation.state"] = {"type": "STATE", "shape": [width]}
    inputs["observation.ee_pose"] = {"type": "STATE", "shape": [3]}
    cfg = {"type": "act", "n_obs_steps": 1, "input_features": inputs,
           "output_features": {"action": {"type": "ACTION", "shape": [width]}}, "device": "cpu", "chunk_size": 4}
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def small_env(cameras=("front_img_1", "right_wrist_img"), env_id="egogym/ObjectInBowl-v0", hw=(24, 32)):
    return gym.make(env_id, image_size=hw, cameras=cameras, disable_env_checker=True)


def test_the_kind_parses_finds_its_folder_and_names_the_cameras(tmp_path):
    run = tmp_path / "outputs" / "train" / "act"
    folder = write_pretrained(run / "checkpoints" / "last" / "pretrained_model", cameras=("front_img_1_line",))
    spec = parse_policy(f"lerobot:{run}")
    assert isinstance(spec, LeRobotRun) and spec.path == str(run) and spec.inputs() == (str(run),)
    assert find_pretrained(run, spec.text) == folder == find_pretrained(folder, spec.text)
    assert find_pretrained(folder.parent, spec.text) == folder  # a checkpoint folder
    assert spec.cameras() == ("front_img_1", "front_img_1_line")  # the Aria image for videos, then the policy's
    described = spec.describe()
    assert described["kind"] == "lerobot" and described["type"] == "act"
    assert described["pretrained_model"] == str(folder.resolve())
    assert json.loads(json.dumps(described)) == described


def test_a_folder_that_is_not_a_pretrained_model_is_one_line(tmp_path):
    with pytest.raises(UserError) as e:
        parse_policy(f"lerobot:{tmp_path / 'none'}").cameras()
    msg = str(e.value)
    assert msg.startswith(f"--policy lerobot:{tmp_path / 'none'}: ") and "\n" not in msg
    assert "not a LeRobot pretrained_model folder" in msg
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"type": "act"}')
    (bad / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError, match="is not a LeRobot policy config"):
        parse_policy(f"lerobot:{bad}").cameras()


def test_the_eval_command_refuses_a_missing_folder_in_one_line(tmp_path, capsys):
    from egogym.cli import main

    assert main(["eval", "--policy", f"lerobot:{tmp_path / 'none'}", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a LeRobot pretrained_model folder" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kwargs, words", [
    ({"hw": (96, 128)}, "give --image-size 96 128"),
    ({"width": 14}, "this env's joint state is (7,) (arms 'right')"),
    ({"cameras": ("left_wrist_img",)}, "this env does not render 'left_wrist_img' (--cameras)"),
])
def test_a_policy_that_does_not_fit_the_env_is_one_line(tmp_path, kwargs, words):
    folder = write_pretrained(tmp_path / "pm", **kwargs)
    env = small_env()
    try:
        with pytest.raises(UserError) as e:
            load_lerobot_policy(folder, env)
    finally:
        env.close()
    assert str(e.value).startswith("--policy lerobot:") and words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.skipif(HAS_LEROBOT, reason="lerobot is installed here")
def test_without_lerobot_building_is_one_line_naming_what_to_install(tmp_path):
    spec = parse_policy(f"lerobot:{write_pretrained(tmp_path / 'pm')}")
    env = small_env(cameras=spec.cameras())
    try:
        with pytest.raises(UserError) as e:
            spec.build(env)
    finally:
        env.close()
    msg = str(e.value)
    assert "\n" not in msg and "need the lerobot package" in msg and "pip install 'lerobot==0.6.1'" in msg


class FakeACT:
    """LeRobot's `ACTPolicy` as the adapter uses it (0.6.1's modeling_act.py): `config.type`,
    `config.temporal_ensemble_coeff`, `reset()` empties `_action_queue`, `select_action(batch)`
    predicts a chunk of `n_action_steps` when the queue is empty and pops one (1, D) action."""

    class config:
        type = "act"
        temporal_ensemble_coeff = None

    def __init__(self, width=7, n_action_steps=3):
        self.width, self.n, self.batches = width, n_action_steps, []
        self.reset()

    def reset(self):
        self._action_queue = deque([], maxlen=self.n)

    def select_action(self, batch):
        if not self._action_queue:
            self.batches.append(batch)
            state = batch["observation.state"]
            self._action_queue.extend(state + 0.01 * (i + 1) for i in range(self.n))
        return self._action_queue.popleft()


class Pipeline:
    """A processor pipeline's call and reset (`PolicyProcessorPipeline`); `scale` stands for the
    normalization it applies."""

    def __init__(self, scale=1.0):
        self.scale, self.resets = scale, 0

    def reset(self):
        self.resets += 1

    def __call__(self, x):
        return {k: v for k, v in x.items()} if isinstance(x, dict) else x * self.scale


def test_the_adapter_feeds_the_batch_and_returns_joint_targets():
    import torch

    act, pre, post = FakeACT(), Pipeline(), Pipeline(scale=2.0)
    policy = LeRobotPolicy(act, pre, post, ("front_img_1",), "object_in_bowl", 7)
    rng = np.random.default_rng(0)
    obs = {"front_img_1": rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), "joint_positions": np.arange(7.0),
           "ee_pose": np.zeros(3)}
    policy.reset()
    assert pre.resets == post.resets == 1
    assert policy.reads_images()  # an empty queue: the next step predicts from the images
    a = policy.act(obs)
    assert a.dtype == np.float64 and a.shape == (7,)
    np.testing.assert_allclose(a, 2.0 * (np.arange(7.0) + 0.01), rtol=1e-6)  # postprocessed
    assert not policy.reads_images()  # two queued actions left
    policy.act(obs), policy.act(obs)
    assert policy.reads_images() and len(act.batches) == 1
    batch = act.batches[0]
    assert set(batch) == {"observation.images.front_img_1", "observation.state", "observation.ee_pose", "task"}
    assert isinstance(batch["observation.state"], torch.Tensor) and batch["observation.state"].dtype == torch.float32
    assert batch["observation.images.front_img_1"].shape == (1, 3, 4, 6) and batch["task"] == ["object_in_bowl"]
    act.config.temporal_ensemble_coeff = 0.01
    try:
        assert policy.reads_images()  # an ensembling ACT reads every step
    finally:
        act.config.temporal_ensemble_coeff = None
