"""The protocols that join the layers: `Backend` (how the world is touched), `Policy` (what the
evaluation loop knows of a policy), `EvalEnv` (what it knows of an env) and `Score` (what a
task reports).

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
    part of the reward); aborted: a reason string when the episode was stopped early;
    notes: free text for the episode's record (on hardware, the operator's), "" for none.
    """

    points: int = 0
    new_points: int = 0
    success: bool = False
    terms: dict[str, float] = field(default_factory=dict)
    aborted: str | None = None
    notes: str = ""


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
    """What every policy has: `reset` and `act`.

    Optional, read by the evaluation only through the functions below (a policy without
    them gets the default named there):

    - `reads_images() -> bool`: whether the next `act` reads the camera images
      (`reads_images(policy)`);
    - `last_chunk_xyz`: the attribute holding the chunk the policy last predicted, as
      end-effector (pinch point) positions for the episode's videos (`chunk_xyz(policy)`);
    - `query_latency_ms() -> dict | None`: the episode's query round trips for its record
      (`query_latency_ms(policy)`);
    - `close() -> None`: release connections when the evaluation ends (`close_policy(policy)`).
    """

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


def chunk_xyz(policy) -> np.ndarray | None:
    """The chunk the policy last predicted (and executes from) as positions, for videos.

    A policy may set the attribute `last_chunk_xyz`: a (P, 3k) float array, P future
    end-effector (pinch point) positions in metres of k arms side by side (arms left then
    right), in the Aria `front_img_1` camera frame (OpenCV axes: x right, y down, z forward)
    of the step it was predicted at; None before its first prediction of an episode.
    egogym's trained and remote policies set it at each query (P = 100). Without the
    attribute (the scripted expert, hold, replay): None, and videos show the plain image."""
    return getattr(policy, "last_chunk_xyz", None)


def query_latency_ms(policy) -> dict | None:
    """The episode's query latency statistics (ms) a policy reports for the episode record,
    e.g. a remote policy's round trips: {"n", "mean", "p50", "p95", "max", ...}. A policy
    may define `query_latency_ms() -> dict | None`; without the method: None (not recorded)."""
    method = getattr(policy, "query_latency_ms", None)
    return None if method is None else method()


def close_policy(policy) -> None:
    """Release what the policy holds (a remote policy's connection). A policy may define
    `close() -> None`; without the method: nothing to release."""
    method = getattr(policy, "close", None)
    if method is not None:
        method()


class EvalEnv(Protocol):
    """What the evaluation loop reads of an env, besides Gymnasium's API.

    The loop steps the env `gymnasium.make` returns (`reset(seed=)`, `step`, `close`, its time
    limit) and reads these from its `unwrapped` (an `egogym.env.EgoEnv`, sim or real alike).
    """

    robot: RobotSpec  # the robot; `robot.control_hz` is the env's step rate (Hz)
    arms: tuple[str, ...]  # active arms, left then right; actions are 7 values per arm
    image_size: tuple[int, int]  # (height, width) px of every camera image

    @property
    def calibration(self) -> Calibration:
        """The cameras' intrinsics and extrinsics (videos project the chunk with `K(FRONT, size)`)."""

    def request_images(self, wanted: bool) -> None:
        """Whether the next `step`'s observation carries camera images (that step only; default
        True). With False a backend may leave them out: only the low-dim keys are returned."""

    def finish_episode(self) -> Score:
        """The episode's final score (sim: the running score; real: the operator's entry, with
        their `notes`)."""
