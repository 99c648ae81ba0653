"""Layer 6, policies (torch): ACT, EgoMimic co-training, the robot-only baseline, chunk
execution, checkpoints and training. No layer below imports it; evaluation reaches it only
through `load_policy` and `config.load_run_config` (egogym.eval.policy_spec).

    from egogym.policies import load_policy
    policy = load_policy("runs/NAME", env)   # an egogym.core.protocols.Policy

Modules: `config` (presets), `model` (EgoACT), `objective` (losses, paired/final MSE),
`batch` (sampling, jitter, normalization), `execution` (first-k, temporal ensembling),
`normalize` (torch side of NormStats), `checkpoint` (safetensors + JSON), `policy` (EgoPolicy),
`train` (`egogym train`), `video` (validation frames), `synthetic` (in-memory data for tests and benchmarks).
"""
from __future__ import annotations


def __getattr__(name: str):
    # Lazy, so `import egogym.policies.config` does not pay for torch and the data layer.
    if name in ("load_policy", "EgoPolicy"):
        from egogym.policies import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'egogym.policies' has no attribute {name!r}")


__all__ = ["load_policy", "EgoPolicy"]
