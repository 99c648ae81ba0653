"""The Policy protocol: what the evaluation loop knows of a policy.

Scripted experts, replays, trained ACT policies and remote policies all look the same
to `eval`: `reset()` at the start of every episode, then `act(obs) -> action` once per
control step. Defined here (in the torch-free core) so that `policies` and `eval` both
depend on `egogym` and not on each other.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    def reset(self) -> None:
        """Forget everything about the previous episode (queues, ensembles, plans)."""

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Joint targets for the next control step, in the env's action layout."""
