"""Layer 8, integrations: egogym as other projects' tools expect it (docs/ECOSYSTEM.md).

- `lerobot_env`: an egogym env in the layout LeRobot's `lerobot-eval` reads (gymnasium only) and
  the env factory its vector workers call; `lerobot_config`: the `EnvConfig` registered as
  "egogym" (imports LeRobot; loaded by the `lerobot_env_egogym` plugin in `plugins/`).

Nothing else in egogym imports this package; LeRobot itself is never needed by egogym.
"""
