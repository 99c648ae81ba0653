"""`--env.type=egogym`: egogym's `EnvConfig` for LeRobot's CLI (`lerobot-eval`, `lerobot-train`'s eval).

Imports LeRobot (0.6.1): loaded by the plugin distribution `lerobot_env_egogym` (`plugins/`), which
LeRobot's scripts import at start (`lerobot.utils.import_utils.register_third_party_plugins`
imports every installed distribution named `lerobot_env_*`), or by `import` in a Python session.
Nothing in egogym imports it.

    pip install -e . ./plugins/lerobot_env_egogym          # next to lerobot==0.6.1
    lerobot-eval --policy.path=outputs/train/act/checkpoints/last/pretrained_model \\
        --env.type=egogym --env.task=ObjectInBowl-v0 --env.observation_height=96 \\
        --env.observation_width=128 --eval.n_episodes=2 --eval.batch_size=2

The fields follow LeRobot's own env configs (`AlohaEnv`, `LiberoEnv`: `task`, `fps`,
`episode_length`, `observation_height` / `_width`, a comma-separated camera list); the features
and their LeRobot names come from `egogym.data.lerobot_keys`; `create_envs` builds the vector env
through `egogym.integrations.lerobot_env.make_vector_env`, whose workers import egogym.
"""
from __future__ import annotations

from dataclasses import dataclass

from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig

from egogym import ENV_IDS, TIME_LIMIT_S
from egogym.core.arms import Arms
from egogym.core.configs import nearest
from egogym.core.spec import ARIA_IMAGE_SIZE, EGOMIMIC
from egogym.core.views import DEFAULT_CAMERAS
from egogym.data.lerobot_keys import env_features, features_map, parse_cameras
from egogym.tasks import TASKS

PACKAGE = "egogym"
"""The package LeRobot imports when the gym id is not registered (`EnvConfig.package_name`)."""


@EnvConfig.register_subclass("egogym")
@dataclass
class EgogymEnv(EnvConfig):
    # The env id after "egogym/": ObjectInBowl-v0 (right arm, 7-D) or HandOver-v0 (both arms, 14-D).
    task: str | None = "ObjectInBowl-v0"
    # Control rate (Hz): egogym's, fixed by the robot (50); LeRobot's videos use metadata["render_fps"].
    fps: int = int(EGOMIMIC.control_hz)
    # Steps per episode (the rollout's cap); 2000 = the registered ids' 40 s.
    episode_length: int = int(TIME_LIMIT_S * EGOMIMIC.control_hz)
    # Cameras in the observation, comma-separated ("front_img_1,right_wrist_img"); "" = the env's
    # default for the task's arms (the Aria image and the active wrists). A policy needs every
    # `observation.images.<camera>` it was trained on.
    cameras: str = ""
    # Image size (px) of every camera; a policy needs the size it was trained on.
    observation_height: int = ARIA_IMAGE_SIZE[0]
    observation_width: int = ARIA_IMAGE_SIZE[1]
    # The language instruction (`task_description`); "" = the task's name, the string
    # `egogym export lerobot` writes into a dataset's episodes unless given --task.
    task_description: str = ""

    def __post_init__(self):
        ids = {i.split("/", 1)[1]: name for i, name in ENV_IDS.items()}
        if self.task not in ids:
            raise ValueError(f"--env.task={self.task!r}: not an egogym env; {nearest(str(self.task), ids)}")
        if self.fps != int(EGOMIMIC.control_hz):
            raise ValueError(f"--env.fps={self.fps}: egogym runs at {EGOMIMIC.control_hz:g} Hz, fixed by the robot")
        if self.episode_length < 1:
            raise ValueError(f"--env.episode_length={self.episode_length}: give at least 1 step")
        arms = Arms.parse(TASKS[ids[self.task]].default_arms)
        cams = parse_cameras(self.cameras) if self.cameras.strip() else DEFAULT_CAMERAS[arms.label]
        feats = env_features(cams, self.image_size, arms.joint_width, arms.xyz_width)
        self.features = {k: PolicyFeature(type=FeatureType[t], shape=shape) for k, (t, shape) in feats.items()}
        self.features_map = features_map(cams)
        self._cameras = tuple(cams)

    @property
    def image_size(self) -> tuple[int, int]:
        return (int(self.observation_height), int(self.observation_width))

    @property
    def package_name(self) -> str:
        return PACKAGE

    @property
    def gym_kwargs(self) -> dict:
        return {"max_episode_steps": self.episode_length, "image_size": self.image_size,
                "cameras": self._cameras, "task_description": self.task_description or None}

    def create_envs(self, n_envs: int, use_async_envs: bool = False):
        """{"egogym": {0: vector env}}; its workers build their envs through egogym's own factory."""
        from egogym.integrations.lerobot_env import make_vector_env

        return {self.type: {0: make_vector_env(n_envs, use_async_envs, env_id=self.gym_id, **self.gym_kwargs)}}
