"""The protocols that join the layers: `Backend` (how the world is touched), `Policy` (what the
evaluation loop knows of a policy) and `Score` (what a task reports).

Scripted experts, replays, trained ACT policies and remote policies all look the same to
the evaluation loop: `reset()` at the start of every episode, then `act(obs) -> action`
once per control step. `SimBackend` and `RealBackend` implement `Backend`; `EgoEnv` is a
Backend + a Task. Defined in the core (numpy only) so that no layer imports another
sideways or upward to name them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from egogym.core.spec import Calibration, RobotSpec


@dataclass
class Score:
    """Cumulative result of an episode so far.

    points: points scored since reset; new_points: scored on the last step (the reward);
    success: the task's success criterion; terms: shaping quantities for analysis (not
    part of the reward); aborted: a reason string when the episode was stopped early.
    """

    points: int = 0
    new_points: int = 0
    success: bool = False
    terms: dict[str, float] = field(default_factory=dict)
    aborted: str | None = None


class Backend(Protocol):
    """How the world is touched. Implemented by `SimBackend` and `RealBackend`.

    Commands and joint observations use the layout of `arms`: per arm 6 joint angles
    (rad) then the gripper in [0, 1] (0 closed, 1 open); arms left then right.
    """

    spec: RobotSpec
    arms: tuple[str, ...]
    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    calibration: Calibration

    @property
    def time(self) -> float:
        """Seconds since reset (simulated or wall clock)."""

    def reset(self, rng: np.random.Generator) -> None:
        """Arms to the start pose; the task's scene set up (sim: placed from rng; real: by a person)."""

    def episode_start(self) -> dict:
        """JSON-able start placement of the episode set up by the last reset (sim: the task's
        `Task.episode_start`, metres and radians in the world frame; real: {}, the operator
        places the objects)."""

    def apply(self, command: np.ndarray) -> np.ndarray:
        """Send a joint command for one control period; return the command actually applied."""

    def observe(self, images: bool = True) -> dict[str, np.ndarray]:
        """The observation dict described in EgoEnv. A backend with `skips_images = True`
        accepts images=False and then returns only the low-dim keys; others are always
        called without it."""

    def judge(self) -> Score:
        """The running score after the last step (sim: from state; real: aborts only)."""

    def finish(self) -> Score:
        """The final score of the episode (sim: the running score; real: asks the operator)."""

    def close(self) -> None:
        """Release renderers, devices and connections."""


class PolicyUnavailable(RuntimeError):
    """Raised by a policy's `act` when it cannot answer this episode (a remote policy server
    lost or too slow). The evaluation loop ends the episode as aborted with this message as
    the reason and goes on with the next; the policy's next `reset()` may reconnect."""


@runtime_checkable
class Policy(Protocol):
    def reset(self) -> None:
        """Forget everything about the previous episode (queues, ensembles, plans)."""

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Joint targets for the next control step, in the env's action layout."""


def reads_images(policy) -> bool:
    """Whether the policy's next `act` reads the observation's camera images.

    A policy may define `reads_images() -> bool` (e.g. a chunking policy that looks at the
    cameras only when it queries its model, once a second): the evaluation then skips
    rendering for the steps whose images nobody reads. Without the method: always True."""
    method = getattr(policy, "reads_images", None)
    return True if method is None else bool(method())


def query_latency_ms(policy) -> dict | None:
    """The episode's query latency statistics (ms) a policy reports for the episode record,
    e.g. a remote policy's round trips: {"n", "mean", "p50", "p95", "max", ...}. A policy
    may define `query_latency_ms() -> dict | None`; without the method: None (not recorded)."""
    method = getattr(policy, "query_latency_ms", None)
    return None if method is None else method()
