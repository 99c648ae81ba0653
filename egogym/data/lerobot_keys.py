"""LeRobot's names for an egogym observation, for policies and environments (numpy only, no LeRobot).

One table, shared by the three places egogym meets LeRobot, so that a policy trained on an
`egogym export lerobot` dataset reads the same keys in `lerobot-eval --env.type=egogym` and in
`egogym eval --policy lerobot:PATH`:

| egogym observation key           | raw key of the LeRobot env | LeRobot feature (policy batch)  |
|----------------------------------|----------------------------|---------------------------------|
| a camera `<cam>` (H, W, 3) uint8 | `pixels` -> `<cam>`        | `observation.images.<cam>`      |
| `joint_positions` (7 per arm)    | `agent_pos`                | `observation.state`             |
| `ee_pose` (3 per arm, m)         | `ee_pose`                  | `observation.ee_pose`           |
| the task's name (`object_in_bowl`)| `task_description` (attr)  | `task` (a list of strings)      |
| (the env's action)               | -                          | `action` (joint targets)        |

The raw keys are those LeRobot's `lerobot.envs.utils.preprocess_observation` (0.6.1) turns into
its standard features: a `pixels` dict becomes `observation.images.<key>`, `agent_pos`
`observation.state`, and any other array `observation.<key>`; images become float32 (B, 3, H, W)
in [0, 1], low-dim arrays float32 (B, D). `policy_batch` produces that same batch from one egogym
observation (B = 1), so an egogym evaluation feeds a LeRobot policy exactly what `lerobot-eval`
does. The feature names are those `egogym export lerobot` writes (`egogym.data.lerobot`), and the
task string is the one it writes by default (the file's `env_args["task"]`, the task's name).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from egogym.core.views import EE_POSE, JOINT_POSITIONS
from egogym.data.lerobot import ACTION, EE_POSE as LR_EE_POSE, IMAGES, STATE

PIXELS = "pixels"
"""Raw key of the LeRobot env's camera dict (`preprocess_observation`: `pixels` -> `observation.images.*`)."""
AGENT_POS = "agent_pos"
"""Raw key of the LeRobot env's joint state (`preprocess_observation`: `agent_pos` -> `observation.state`)."""
TASK = "task"
"""Batch key of the language instruction: a list of B strings (`lerobot_eval.rollout`)."""

VISUAL, STATE_TYPE, ACTION_TYPE = "VISUAL", "STATE", "ACTION"
"""`lerobot.configs.FeatureType` member names of the features below."""


def image_feature(camera: str) -> str:
    """`observation.images.<camera>`."""
    return IMAGES + camera


def parse_cameras(text: str | Sequence[str]) -> tuple[str, ...]:
    """Camera names from "a,b" (LeRobot's CLI style, as its `parse_camera_names`) or a sequence;
    ValueError when none is left."""
    items = text.split(",") if isinstance(text, str) else list(text)
    cams = tuple(dict.fromkeys(str(c).strip() for c in items if str(c).strip()))
    if not cams:
        raise ValueError(f"cameras={text!r}: give at least one camera name, e.g. 'front_img_1,right_wrist_img'")
    return cams


def env_observation(obs: Mapping[str, np.ndarray], cameras: Sequence[str]) -> dict:
    """One egogym observation in the raw layout of a LeRobot env: {"pixels": {cam: (H, W, 3) uint8},
    "agent_pos": joint positions, "ee_pose": pinch points}; the arrays are egogym's, not copies."""
    return {PIXELS: {c: obs[c] for c in cameras}, AGENT_POS: obs[JOINT_POSITIONS], EE_POSE: obs[EE_POSE]}


def env_features(cameras: Sequence[str], image_size: Sequence[int], joint_width: int, xyz_width: int
                 ) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The LeRobot env's `features`: raw key -> (FeatureType name, shape); images channels-last,
    as LeRobot's env configs declare them (`pixels/<cam>`, the path of a nested raw key)."""
    h, w = (int(x) for x in image_size)
    out: dict[str, tuple[str, tuple[int, ...]]] = {ACTION: (ACTION_TYPE, (int(joint_width),)),
                                                   AGENT_POS: (STATE_TYPE, (int(joint_width),)),
                                                   EE_POSE: (STATE_TYPE, (int(xyz_width),))}
    for c in cameras:
        out[f"{PIXELS}/{c}"] = (VISUAL, (h, w, 3))
    return out


def features_map(cameras: Sequence[str]) -> dict[str, str]:
    """The LeRobot env's `features_map`: raw key -> LeRobot feature name."""
    out = {ACTION: ACTION, AGENT_POS: STATE, EE_POSE: LR_EE_POSE}
    for c in cameras:
        out[f"{PIXELS}/{c}"] = image_feature(c)
    return out


def policy_batch(obs: Mapping[str, np.ndarray], cameras: Sequence[str], task: str) -> dict:
    """The batch (B = 1) LeRobot's `preprocess_observation` makes of `env_observation(obs)`, plus
    the task: `observation.images.<cam>` float32 (1, 3, H, W) in [0, 1], `observation.state` and
    `observation.ee_pose` float32 (1, D), `task` [task]. numpy; the policy side makes tensors."""
    batch: dict = {}
    for c in cameras:
        img = np.asarray(obs[c])
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3:
            raise ValueError(f"observation {c!r}: expected (H, W, 3) uint8, got {img.shape} {img.dtype}")
        batch[image_feature(c)] = (img.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0))
    batch[STATE] = np.asarray(obs[JOINT_POSITIONS], dtype=np.float32)[None]
    batch[LR_EE_POSE] = np.asarray(obs[EE_POSE], dtype=np.float32)[None]
    batch[TASK] = [str(task)]
    return batch


def policy_cameras(input_features: Mapping[str, object]) -> tuple[str, ...]:
    """The cameras a LeRobot policy reads: the `<cam>` of its `observation.images.<cam>` input
    features (its config.json's `input_features`), in their order. ValueError for an image feature
    egogym cannot name a camera for (LeRobot's single-image `observation.image`)."""
    cams = []
    for key in input_features:
        if key.startswith(IMAGES):
            cams.append(key[len(IMAGES):])
        elif key == "observation.image":
            raise ValueError("the policy reads 'observation.image' (one unnamed camera); egogym's cameras are "
                             "'observation.images.<camera>' (train on an `egogym export lerobot` dataset)")
    return tuple(cams)


def egogym_action(action, width: int) -> np.ndarray:
    """A LeRobot policy's action for one env ((1, D) or (D,), any float dtype; a CPU tensor's
    `.numpy()`) as egogym's joint targets: float64 (width,). ValueError on another size."""
    a = np.asarray(action, dtype=np.float64)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.shape != (int(width),):
        raise ValueError(f"the policy's action has shape {tuple(np.shape(action))}; this env takes ({width},) "
                         f"joint targets (7 per arm: 6 joints in rad, gripper in [0, 1])")
    return a
