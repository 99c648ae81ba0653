"""What `--policy` names, parsed once into a typed value.

    scripted                     the task's scripted expert (sim only: it reads simulator state)
    hold                         hold the joint positions of the episode's first step
    replay:FILE.hdf5[:demo_N]    the demo's recorded joint actions, one per step
    RUN_DIR                      a training run of `egogym train` (its newest checkpoint)
    pose-ik:RUN_DIR              the same run with its pose head placing the arm through IK
                                 (`egogym.policies.policy.EgoPolicy`, drive="pose_head_ik")
    ws://HOST:PORT[?k=K&stride=S&timeout=T&reconnect=R]
                                 a policy served in openpi's websocket protocol (`egogym serve`,
                                 openpi's serve_policy.py); see `egogym.policies.remote`

`parse_policy(text)` returns a `PolicySpec`; every consumer (the env's cameras, the policy
built for an env, the summary's description) asks the value, never the string. A new kind
(a remote policy served over a websocket, a LeRobot policy) is one subclass and one entry
in `POLICY_KINDS` or in `parse_policy`'s fall-through.

Evaluation reaches trained policies only through the policies layer's public functions
(`egogym.policies.load_policy`, `egogym.policies.config.load_run_config`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np

from egogym.core.errors import UserError
from egogym.core.protocols import Policy
from egogym.core.views import FRONT, JOINT_POSITIONS


@dataclass(frozen=True)
class PolicySpec:
    """A parsed `--policy`. `text` is the spec as given (recorded in eval_config.json)."""

    text: str
    needs_sim: ClassVar[bool] = False  # reads simulator state: refused on the real backend

    def cameras(self) -> tuple[str, ...] | None:
        """Observation cameras the policy reads (None: the env's default cameras)."""
        return None

    def build(self, env) -> Policy:
        """The policy, for `env` (a Gymnasium env around an `EgoEnv`)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-able identification for the evaluation summary."""
        raise NotImplementedError


@dataclass(frozen=True)
class Scripted(PolicySpec):
    needs_sim: ClassVar[bool] = True

    def build(self, env) -> Policy:
        from egogym.sim.experts import make_expert

        return make_expert(env)

    def describe(self) -> dict:
        return {"kind": "scripted expert"}


class HoldPolicy:
    """Holds the joint positions measured at the episode's first step (the start pose; on
    hardware the arms' home). Torch-free; any backend (rehearsals)."""

    def __init__(self):
        self.q: np.ndarray | None = None

    def reset(self) -> None:
        self.q = None

    def reads_images(self) -> bool:
        return False

    def act(self, obs: dict) -> np.ndarray:
        if self.q is None:
            self.q = np.asarray(obs[JOINT_POSITIONS], dtype=np.float64).copy()
        return self.q.copy()


@dataclass(frozen=True)
class Hold(PolicySpec):
    def build(self, env) -> Policy:
        return HoldPolicy()

    def describe(self) -> dict:
        return {"kind": "hold the start pose"}


class ReplayPolicy:
    """One recorded step of a demo's commanded joint targets (`actions`, (T, 7k) rad +
    normalized grippers) per `act`, then the last one held. At the default --loop-hz (the
    env's rate) it replays at the recorded speed."""

    def __init__(self, actions: np.ndarray):
        self.actions, self.k = np.asarray(actions, dtype=np.float64), 0

    def reset(self) -> None:
        self.k = 0

    def reads_images(self) -> bool:
        return False

    def act(self, obs: dict) -> np.ndarray:
        a = self.actions[min(self.k, len(self.actions) - 1)]
        self.k += 1
        return a.copy()


@dataclass(frozen=True)
class Replay(PolicySpec):
    path: str = ""
    demo: str = "demo_0"

    def build(self, env) -> Policy:
        import h5py

        from egogym.data import schema as S

        try:
            with h5py.File(self.path, "r") as f:
                g = f.get(f"{S.DATA}/{self.demo}")
                if g is None or S.ACTIONS_STEP not in g:
                    raise UserError(f"--policy {self.text}: {self.path} has no {S.DATA}/{self.demo}/{S.ACTIONS_STEP} "
                                    f"(a robot demo file from `egogym collect`); name another demo as "
                                    f"replay:FILE:demo_N")
                actions = g[S.ACTIONS_STEP][()]
                hz = f[S.DATA].attrs.get(S.ATTR_CONTROL_HZ)
        except OSError as e:
            raise UserError(f"--policy {self.text}: cannot open {self.path} as HDF5 ({e}); "
                            f"give replay:FILE.hdf5[:demo_N]") from None
        want = env.action_space.shape
        if actions.ndim != 2 or actions.shape[1:] != want:
            raise UserError(f"--policy {self.text}: the demo's actions are {actions.shape[1:]} per step, this env "
                            f"takes {want}; evaluate with the arms the demo was recorded with")
        env_hz = float(env.unwrapped.robot.control_hz)
        if hz is not None and abs(float(hz) - env_hz) > 1e-9:
            raise UserError(f"--policy {self.text}: the demo was recorded at {float(hz):g} Hz, the env runs at "
                            f"{env_hz:g} Hz")
        return ReplayPolicy(actions)

    def describe(self) -> dict:
        return {"kind": "replay of recorded joint actions", "source": f"{self.path}:{self.demo}"}


@dataclass(frozen=True)
class Checkpoint(PolicySpec):
    run_dir: str = ""
    drive: str = "joint_head"  # or "pose_head_ik"

    def _check_folder(self) -> None:
        if not Path(self.run_dir).is_dir():
            raise UserError(f"--policy {self.text}: neither 'scripted' nor an existing run directory (runs/NAME "
                            f"from `egogym train`); torch-free ones: 'hold', 'replay:FILE.hdf5[:demo_N]'")

    def cameras(self) -> tuple[str, ...] | None:
        """The keys the model reads (its config's front_key and wrist_key) plus the plain Aria
        image for videos; None (the env's default) for a folder without config.json, which
        `build` then reports."""
        from egogym.policies.config import ConfigError, load_run_config

        self._check_folder()
        if not (Path(self.run_dir) / "config.json").is_file():
            return None
        try:
            model = load_run_config(self.run_dir).model
        except ConfigError as e:
            raise UserError(f"--policy {self.text}: {e}") from None
        return tuple(dict.fromkeys((FRONT, *model.cameras)))

    def build(self, env) -> Policy:
        self._check_folder()
        try:
            from egogym.policies import load_policy
        except ImportError as e:
            raise UserError(f"--policy {self.text}: trained policies need torch, which cannot be imported ({e}); "
                            f"install the train extra: pip install 'egogym[train]'") from None
        try:
            # The EgoEnv itself: Gymnasium 1.x wrappers do not forward attributes (arms, robot, calibration).
            return load_policy(self.run_dir, env.unwrapped, drive=self.drive)
        except (FileNotFoundError, KeyError, ValueError) as e:  # a checkpoint the loader refuses: one line
            raise UserError(f"--policy {self.text}: {e}") from None

    def describe(self) -> dict:
        from egogym.policies.config import ConfigError, load_run_config

        info: dict = {"kind": "trained", "run_dir": str(Path(self.run_dir).resolve()), "drive": self.drive}
        try:
            info["config"] = load_run_config(self.run_dir).to_dict()
        except ConfigError:
            pass  # described by its folder alone; building the policy reports the problem
        return info


@dataclass(frozen=True)
class Remote(PolicySpec):
    """A policy server of openpi's websocket protocol. The env renders the cameras the
    server's metadata names (`cameras`, as `egogym serve` sends), else the env's default;
    the chunk is executed on the schedule `egogym.policies.remote.RemotePolicy` states."""

    def _metadata(self) -> dict:
        from egogym.policies import remote_metadata

        return remote_metadata(self.text)

    def cameras(self) -> tuple[str, ...] | None:
        cams = self._metadata().get("cameras")
        return tuple(str(c) for c in cams) if cams else None

    def build(self, env) -> Policy:
        from egogym.policies import connect_remote

        return connect_remote(self.text, env.unwrapped)

    def describe(self) -> dict:
        from egogym.policies import describe_remote

        return {"kind": "remote (openpi websocket protocol)", **describe_remote(self.text)}


POLICY_KINDS: dict[str, Callable[[str], PolicySpec]] = {
    "scripted": Scripted,
    "hold": Hold,
}
"""Policies named by one word."""

def _replay(text: str, rest: str) -> Replay:
    path, _, demo = rest.rpartition(":")
    if not path or not demo.startswith("demo_"):
        path, demo = rest, "demo_0"
    if not path:
        raise UserError(f"--policy {text}: give replay:FILE.hdf5[:demo_N]")
    return Replay(text, path, demo)


PREFIXED_KINDS: dict[str, Callable[[str, str], PolicySpec]] = {
    "replay:": _replay,
    "pose-ik:": lambda text, rest: Checkpoint(text, rest, "pose_head_ik"),
    "ws://": lambda text, rest: _remote(text),
    "wss://": lambda text, rest: _remote(text),
}
"""Policies named by a prefix and an argument."""


def _remote(text: str) -> Remote:
    from egogym.policies import RemoteAddress  # checks the URL without connecting (torch-free)

    RemoteAddress.parse(text)
    return Remote(text)


def parse_policy(text: str) -> PolicySpec:
    """The `PolicySpec` a `--policy` string names (a one-line UserError for a malformed one);
    any other text names a run folder, checked when it is read."""
    if not isinstance(text, str) or not text:
        raise UserError(f"--policy {text!r}: give 'scripted', 'hold', 'replay:FILE.hdf5[:demo_N]', "
                        f"'ws://HOST:PORT' or a run folder")
    if text in POLICY_KINDS:
        return POLICY_KINDS[text](text)
    for prefix, make in PREFIXED_KINDS.items():
        if text.startswith(prefix):
            return make(text, text[len(prefix):])
    return Checkpoint(text, text)  # the folder is checked when it is read (it may not exist yet)
