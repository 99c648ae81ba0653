"""`--policy lerobot:PATH`: a LeRobot policy (a `pretrained_model` folder of `lerobot-train`) in
egogym's evaluation, through LeRobot's own loading code.

    egogym eval --policy lerobot:outputs/train/act/checkpoints/last/pretrained_model \\
        --env egogym/ObjectInBowl-v0 --image-size 96 128 --episodes 10 --out evals/lerobot_act

PATH is the `pretrained_model` folder (config.json, model.safetensors and the processors' JSON +
statistics files), or a folder holding one as `pretrained_model/` or `checkpoints/last/pretrained_model/`
(a checkpoint, or a training run's output folder). The policy is loaded as `lerobot-eval` loads it
(LeRobot 0.6.1): `PreTrainedConfig.from_pretrained`, `get_policy_class(type).from_pretrained` and
`make_pre_post_processors(config, pretrained_path=...)` (normalization, device, and the inverse on
the way out, with the statistics saved in the folder). Each control step the observation becomes
the batch `lerobot-eval` would build (`egogym.data.lerobot_keys.policy_batch`: images float32
(1, 3, H, W) in [0, 1], `observation.state`, `observation.ee_pose`, `task`), the policy's
`select_action` (its own chunk queue or ensembler) gives one action, and the postprocessed action
is the env's joint targets. Records, statistics and the real robot are the evaluation's own,
as for every `--policy` kind.

Torch-free and LeRobot-free at import (`egogym.policies.kinds` reads the folder's config.json for
the cameras without either); LeRobot is imported when the policy is built, with one line naming
what to install when it is missing. LeRobot 0.6.1 needs Python >= 3.12 and torch < 2.12, so it
lives in a venv of its own (docs/ECOSYSTEM.md), with egogym installed there too.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from egogym.core.errors import UserError
from egogym.core.views import JOINT_POSITIONS
from egogym.data.lerobot import ACTION, IMAGES, STATE
from egogym.data.lerobot_keys import egogym_action, policy_batch, policy_cameras

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
SEARCHED = ("", "pretrained_model", "checkpoints/last/pretrained_model")
"""Where under PATH the `pretrained_model` folder is looked for, in this order."""
INSTALL = ("pip install 'lerobot==0.6.1' plus egogym, in a Python >= 3.12 venv of their own "
           "(LeRobot pins torch < 2.12; docs/ECOSYSTEM.md, bench/lerobot_roundtrip.sh)")


def find_pretrained(path: str | Path, text: str) -> Path:
    """The `pretrained_model` folder PATH names (`SEARCHED`); a one-line UserError naming `--policy
    text` when there is none."""
    root = Path(path)
    for sub in SEARCHED:
        folder = root / sub if sub else root
        if (folder / CONFIG).is_file() and (folder / WEIGHTS).is_file():
            return folder
    raise UserError(f"--policy {text}: {root} is not a LeRobot pretrained_model folder (config.json + "
                    f"model.safetensors, as lerobot-train writes in checkpoints/*/pretrained_model), nor holds one "
                    f"under {', '.join(s for s in SEARCHED if s)}")


def read_config(folder: Path, text: str) -> dict:
    """The folder's config.json (a LeRobot policy config: `type`, `input_features`, `output_features`)."""
    try:
        cfg = json.loads((folder / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"--policy {text}: cannot read {folder / CONFIG} ({e})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("type"), str) or \
            not isinstance(cfg.get("input_features"), dict) or not isinstance(cfg.get("output_features"), dict):
        raise UserError(f"--policy {text}: {folder / CONFIG} is not a LeRobot policy config (no 'type', "
                        f"'input_features' and 'output_features')")
    return cfg


def config_cameras(cfg: dict, text: str) -> tuple[str, ...]:
    """The cameras the policy reads (`observation.images.<camera>` input features)."""
    try:
        return policy_cameras(cfg["input_features"])
    except ValueError as e:
        raise UserError(f"--policy {text}: {e}") from None


def _shape(cfg: dict, group: str, key: str) -> tuple[int, ...] | None:
    ft = cfg[group].get(key)
    return tuple(int(x) for x in ft["shape"]) if isinstance(ft, dict) and "shape" in ft else None


def check_fits(cfg: dict, env, text: str) -> None:
    """One line when the policy's features do not fit the env: the state and action widths
    (the arms), each camera's presence and image size (`--cameras`, `--image-size`)."""
    ego = env.unwrapped
    width = int(env.action_space.shape[0])
    for group, key, what in (("input_features", STATE, "joint state"), ("output_features", ACTION, "action")):
        shape = _shape(cfg, group, key)
        if shape is None:
            raise UserError(f"--policy {text}: the policy has no {key!r} feature; egogym gives the {what} there")
        if shape != (width,):
            raise UserError(f"--policy {text}: the policy's {key} is {shape}, this env's {what} is ({width},) "
                            f"(arms {ego.arms.label!r}); evaluate on the env of the arms it was trained with")
    h, w = ego.image_size
    for cam in config_cameras(cfg, text):
        if cam not in env.observation_space.spaces:
            raise UserError(f"--policy {text}: the policy reads {IMAGES}{cam}; this env does not render {cam!r} "
                            f"(--cameras)")
        shape = _shape(cfg, "input_features", IMAGES + cam)
        if shape is not None and shape[-2:] != (h, w):
            raise UserError(f"--policy {text}: the policy was trained on {shape[-2]}x{shape[-1]} images of {cam}; "
                            f"the env renders {h}x{w}: give --image-size {shape[-2]} {shape[-1]}")


class LeRobotPolicy:
    """A loaded LeRobot policy and its processors, acting through egogym's `Policy` protocol."""

    def __init__(self, policy, preprocessor, postprocessor, cameras: tuple[str, ...], task: str, width: int):
        self.policy, self.preprocessor, self.postprocessor = policy, preprocessor, postprocessor
        self.cameras, self.task, self.width = cameras, task, int(width)

    def reset(self) -> None:
        self.policy.reset()
        self.preprocessor.reset()
        self.postprocessor.reset()

    def reads_images(self) -> bool:
        """False only while an ACT policy without temporal ensembling plays out its queued chunk
        (LeRobot's `ACTPolicy.select_action` reads the batch only when `_action_queue` is empty);
        True for every other policy, which may read the images at any step."""
        cfg = self.policy.config
        if cfg.type == "act" and getattr(cfg, "temporal_ensemble_coeff", None) is None:
            return len(self.policy._action_queue) == 0
        return True

    def act(self, obs: dict) -> np.ndarray:
        import torch

        batch = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                 for k, v in policy_batch(obs, self.cameras, self.task).items()}
        batch = self.preprocessor(batch)
        with torch.inference_mode():
            action = self.policy.select_action(batch)
        action = self.postprocessor(action)
        return egogym_action(action.detach().to("cpu", torch.float64).numpy(), self.width)


def load_lerobot_policy(path: str | Path, env, device: str = "cpu", text: str | None = None) -> LeRobotPolicy:
    """The LeRobot policy in (or under) `path`, for `env` (a Gymnasium env of egogym), on `device`
    (`--device`: auto, cpu, cuda[:N])."""
    text = text or f"lerobot:{path}"
    folder = find_pretrained(path, text)
    cfg = read_config(folder, text)
    if JOINT_POSITIONS not in env.observation_space.spaces:
        raise UserError(f"--policy {text}: the env's observation has no {JOINT_POSITIONS!r}")
    check_fits(cfg, env, text)
    try:
        from lerobot.configs import PreTrainedConfig
        from lerobot.policies import get_policy_class, make_pre_post_processors
    except ImportError as e:
        raise UserError(f"--policy {text}: LeRobot policies need the lerobot package, which cannot be imported "
                        f"here ({e}); {INSTALL}") from None
    from egogym.policies.device import resolve_device

    dev = str(resolve_device(device))
    config = PreTrainedConfig.from_pretrained(str(folder))
    config.device = dev
    try:
        policy = get_policy_class(config.type).from_pretrained(str(folder), config=config)
    except (FileNotFoundError, KeyError, ValueError) as e:
        raise UserError(f"--policy {text}: LeRobot could not load {folder}: {e}") from None
    preprocessor, postprocessor = make_pre_post_processors(
        config, pretrained_path=str(folder), preprocessor_overrides={"device_processor": {"device": dev}})
    return LeRobotPolicy(policy, preprocessor, postprocessor, config_cameras(cfg, text),
                         env.unwrapped.task.name, int(env.action_space.shape[0]))


def describe_lerobot(path: str | Path, text: str) -> dict:
    """JSON-able identification for the evaluation summary (the folder and its policy config);
    a folder that is not (yet) one is described by its path alone, building the policy reports it."""
    try:
        folder = find_pretrained(path, text)
        cfg = read_config(folder, text)
    except UserError:
        return {"kind": "lerobot", "path": str(Path(path).resolve())}
    return {"kind": "lerobot", "pretrained_model": str(folder.resolve()), "type": cfg["type"],
            "input_features": sorted(cfg["input_features"]), "config": cfg}
