"""Policies (torch): ACT, EgoMimic co-training, the robot-only baseline, chunk execution,
checkpoints and training. `egogym` never imports this package.

    from egogym.policies import load_policy
    policy = load_policy("runs/NAME", env)   # an egogym.core.protocols.Policy

Modules: `config` (presets), `model` (EgoACT), `objective` (losses, paired/final MSE),
`batch` (sampling, jitter, normalization), `execution` (first-k, temporal ensembling),
`checkpoint`, `policy` (EgoPolicy), `train` (`egogym train`), `video`, `kinematics`.
"""
from __future__ import annotations


def __getattr__(name: str):
    # Lazy, so `import egogym.policies.config` does not pay for torch and the data layer.
    if name in ("load_policy", "EgoPolicy"):
        from egogym.policies import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'policies' has no attribute {name!r}")


__all__ = ["load_policy", "EgoPolicy"]
