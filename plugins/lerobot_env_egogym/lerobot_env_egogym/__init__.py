"""LeRobot plugin: importing it registers egogym's `EnvConfig` as "egogym" (`--env.type=egogym`).

LeRobot's scripts import it at start because its distribution is named `lerobot_env_*`; the
config itself lives in egogym (`egogym.integrations.lerobot_config`).
"""
from egogym.integrations.lerobot_config import EgogymEnv

__all__ = ["EgogymEnv"]
