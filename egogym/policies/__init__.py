"""Layer 6, policies (torch): ACT, EgoMimic co-training, the robot-only baseline, chunk
execution, checkpoints and training. No layer below imports it; evaluation reaches it only
through `kinds` (every policy `--policy` names: `parse_policy` -> a `PolicySpec` whose
`build(env)` makes the policy; torch-free), `load_policy`, `connect_remote` and `config`.

    from egogym.policies import load_policy
    policy = load_policy("runs/NAME", env)   # an egogym.core.protocols.Policy

Modules: `kinds` (the `--policy` kinds: scripted, hold, replay, trained run, pose-ik, remote;
`HoldPolicy`, `ReplayPolicy`; torch-free), `config` (presets), `model` (EgoACT), `objective` (losses, paired/final MSE),
`batch` (sampling, jitter, normalization), `execution` (first-k, temporal ensembling),
`normalize` (torch side of NormStats), `checkpoint` (safetensors + JSON), `policy` (EgoPolicy),
`train` (`egogym train`), `video` (validation frames), `synthetic` (in-memory data for tests and benchmarks),
`remote` (openpi's websocket protocol: the wire format and `RemotePolicy`, torch-free), `serve` (`egogym serve`).

    from egogym.policies import connect_remote
    policy = connect_remote("ws://gpu-box:8000", env)   # a served policy, same Policy protocol
"""
from __future__ import annotations


def __getattr__(name: str):
    # Lazy, so `import egogym.policies.config` does not pay for torch and the data layer.
    if name in ("load_policy", "EgoPolicy"):
        from egogym.policies import policy

        return getattr(policy, name)
    if name in _REMOTE:  # torch-free: the robot's machine evaluates a served policy without torch
        from egogym.policies import remote

        return getattr(remote, name)
    raise AttributeError(f"module 'egogym.policies' has no attribute {name!r}")


_REMOTE = ("RemoteAddress", "RemotePolicy", "connect_remote", "remote_metadata", "describe_remote")

__all__ = ["load_policy", "EgoPolicy", *_REMOTE]
