"""Every kind of policy `--policy` names, in one place: its typed `PolicySpec`, the one parser
of `--policy` (`parse_policy`) and the torch-free policies (`HoldPolicy`, `ReplayPolicy`).

    scripted                     the task's scripted expert (sim only: it reads simulator state)
    hold                         hold the joint positions of the episode's first step
    replay:FILE.hdf5[:demo_N]    the demo's recorded joint actions, one per step
    pose-ik:RUN_DIR              a training run with its pose head placing the arm through IK
                                 (`egogym.policies.policy.EgoPolicy`, drive="pose_head_ik")
    human-ik:RUN_DIR             a co-trained run whose pose head, reading the robot's scene as the
                                 human domain, places the arm through IK (drive="human_pose_ik")
    ws://HOST:PORT[?k=K&stride=S&timeout=T&reconnect=R]
                                 a policy served in openpi's websocket protocol (`egogym serve`,
                                 openpi's serve_policy.py); see `egogym.policies.remote`
    lerobot:PATH                 a LeRobot policy, `lerobot-train`'s pretrained_model folder, loaded
                                 by LeRobot's own code (`egogym.policies.lerobot`; lerobot installed)
    RUN_DIR                      a training run of `egogym train` (its newest checkpoint)

`parse_policy(text)` returns a `PolicySpec`, an instance of one of `KINDS`; every consumer
(the env's cameras, the policy built for an env, the summary's description, the inputs an
output may not overwrite) asks the value, never the string. A new kind is one `PolicySpec`
subclass with its `syntax` and `claims`, and one entry in `KINDS` (as `LeRobotRun` was added).

Torch-free, and free of the simulator: the heavy implementations are imported when a policy
is built (`build`): the scripted expert from `egogym.sim.experts` (MuJoCo), trained runs from
`egogym.policies.policy` (torch), remote policies from `egogym.policies.remote` (websockets,
msgpack), LeRobot policies from `egogym.policies.lerobot` (lerobot, torch). A GPU node that trains and serves never builds the scripted kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from egogym.core.errors import UserError
from egogym.core.protocols import Policy
from egogym.core.views import FRONT, JOINT_POSITIONS


@dataclass(frozen=True)
class PolicySpec:
    """A parsed `--policy`. `text` is the spec as given (recorded in eval_config.json);
    `parse_policy(spec.text) == spec`."""

    text: str
    syntax: ClassVar[str] = ""  # how `--policy` names this kind (the documented form)
    what: ClassVar[str] = ""  # the kind in a few words (--policy's help)
    needs_sim: ClassVar[bool] = False  # reads simulator state: refused on the real backend

    @classmethod
    def claims(cls, text: str) -> bool:
        """Whether `text` names this kind (tried in the order of `KINDS`)."""
        raise NotImplementedError

    @classmethod
    def parse(cls, text: str) -> "PolicySpec":
        """The spec `text` names (claimed by this kind); a one-line UserError when malformed."""
        return cls(text)

    def cameras(self) -> tuple[str, ...] | None:
        """Observation cameras the policy reads (None: the env's default cameras)."""
        return None

    def inputs(self) -> tuple[str, ...]:
        """Files and folders the policy reads (an evaluation's output is never written over them)."""
        return ()

    def build(self, env, device: str = "cpu") -> Policy:
        """The policy, for `env` (a Gymnasium env around an `EgoEnv`); `device`: where a trained
        model runs (`--device`; the other kinds ignore it)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-able identification for the evaluation summary."""
        raise NotImplementedError


# ---- scripted and hold ---------------------------------------------------------------

@dataclass(frozen=True)
class Scripted(PolicySpec):
    syntax: ClassVar[str] = "scripted"
    what: ClassVar[str] = "the task's scripted expert, sim only"
    needs_sim: ClassVar[bool] = True

    @classmethod
    def claims(cls, text: str) -> bool:
        return text == cls.syntax

    def build(self, env, device: str = "cpu") -> Policy:
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
    syntax: ClassVar[str] = "hold"
    what: ClassVar[str] = "hold the start pose"

    @classmethod
    def claims(cls, text: str) -> bool:
        return text == cls.syntax

    def build(self, env, device: str = "cpu") -> Policy:
        return HoldPolicy()

    def describe(self) -> dict:
        return {"kind": "hold the start pose"}


# ---- replay ---------------------------------------------------------------------------

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
    syntax: ClassVar[str] = "replay:FILE.hdf5[:demo_N]"
    what: ClassVar[str] = "a demo's recorded joint actions"
    PREFIX: ClassVar[str] = "replay:"

    @classmethod
    def claims(cls, text: str) -> bool:
        return text.startswith(cls.PREFIX)

    @classmethod
    def parse(cls, text: str) -> "Replay":
        rest = text[len(cls.PREFIX):]
        path, _, demo = rest.rpartition(":")
        if not path or not demo.startswith("demo_"):
            path, demo = rest, "demo_0"
        if not path:
            raise UserError(f"--policy {text}: give {cls.syntax}")
        return cls(text, path, demo)

    def inputs(self) -> tuple[str, ...]:
        return (self.path,)

    def build(self, env, device: str = "cpu") -> Policy:
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
                            f"give {self.syntax}") from None
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


# ---- trained runs ---------------------------------------------------------------------

@dataclass(frozen=True)
class TrainedRun(PolicySpec):
    """A training run of `egogym train` (a folder; its newest checkpoint), the joint head
    driving the arms. Any text no other kind claims names one; the folder is checked when it
    is read (it may not exist yet when an ablation plans its evaluation)."""

    run_dir: str = ""
    syntax: ClassVar[str] = "RUN_DIR"
    what: ClassVar[str] = "a training run of egogym train"
    PREFIX: ClassVar[str] = ""
    drive: ClassVar[str] = "joint_head"  # `egogym.policies.config.DRIVES`

    @classmethod
    def claims(cls, text: str) -> bool:
        return text.startswith(cls.PREFIX)  # "": the fall-through, last in KINDS

    @classmethod
    def parse(cls, text: str) -> "TrainedRun":
        run_dir = text[len(cls.PREFIX):]
        if not run_dir:
            raise UserError(f"--policy {text}: give {cls.syntax}")
        return cls(text, run_dir)

    @classmethod
    def for_run(cls, run_dir: str | Path) -> "TrainedRun":
        """The spec of this kind for `run_dir` (its `text` is what `--policy` takes)."""
        return cls.parse(cls.PREFIX + str(run_dir))

    def _check_folder(self) -> None:
        if not Path(self.run_dir).is_dir():
            raise UserError(f"--policy {self.text}: neither 'scripted' nor an existing run directory (runs/NAME "
                            f"from `egogym train`); torch-free ones: 'hold', '{Replay.syntax}'")

    def inputs(self) -> tuple[str, ...]:
        return (self.run_dir,)

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

    def build(self, env, device: str = "cpu") -> Policy:
        self._check_folder()
        try:
            from egogym.policies.policy import load_policy
        except ImportError as e:
            raise UserError(f"--policy {self.text}: trained policies need torch, which cannot be imported ({e}); "
                            f"install the train extra: pip install 'egogym[train]'") from None
        try:
            # The EgoEnv itself: Gymnasium 1.x wrappers do not forward attributes (arms, robot, calibration).
            return load_policy(self.run_dir, env.unwrapped, drive=self.drive, device=device)
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
class PoseIkRun(TrainedRun):
    """A training run with its pose head placing the arm through IK (drive "pose_head_ik")."""

    syntax: ClassVar[str] = "pose-ik:RUN_DIR"
    what: ClassVar[str] = "the run's pose head placing the arm through IK"
    PREFIX: ClassVar[str] = "pose-ik:"
    drive: ClassVar[str] = "pose_head_ik"


@dataclass(frozen=True)
class HumanIkRun(TrainedRun):
    """A co-trained run whose pose head reads the robot's scene as the human domain (front camera
    only, the human's statistics) and places the arm through IK (drive "human_pose_ik")."""

    syntax: ClassVar[str] = "human-ik:RUN_DIR"
    what: ClassVar[str] = "the run's pose head, read as the human domain, placing the arm through IK"
    PREFIX: ClassVar[str] = "human-ik:"
    drive: ClassVar[str] = "human_pose_ik"


def trained_run_kind(drive: str) -> type[TrainedRun]:
    """The kind of a training run evaluated with `drive` (`egogym.policies.config.DRIVES`)."""
    return next(k for k in KINDS if issubclass(k, TrainedRun) and k.drive == drive)


# ---- remote ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Remote(PolicySpec):
    """A policy server of openpi's websocket protocol. The env renders the cameras the
    server's metadata names (`cameras`, as `egogym serve` sends), else the env's default;
    the chunk is executed on the schedule `egogym.policies.remote.RemotePolicy` states."""

    syntax: ClassVar[str] = "ws://HOST:PORT[?k=K&stride=S&timeout=T&reconnect=R]"
    what: ClassVar[str] = "a policy served in openpi's websocket protocol, e.g. by egogym serve"

    @classmethod
    def claims(cls, text: str) -> bool:
        return text.startswith(("ws://", "wss://"))

    @classmethod
    def parse(cls, text: str) -> "Remote":
        from egogym.policies.remote import RemoteAddress  # checks the URL without connecting (torch-free)

        RemoteAddress.parse(text)
        return cls(text)

    def cameras(self) -> tuple[str, ...] | None:
        from egogym.policies.remote import remote_metadata

        cams = remote_metadata(self.text).get("cameras")
        return tuple(str(c) for c in cams) if cams else None

    def build(self, env, device: str = "cpu") -> Policy:
        from egogym.policies.remote import connect_remote

        return connect_remote(self.text, env.unwrapped)

    def describe(self) -> dict:
        from egogym.policies.remote import describe_remote

        return {"kind": "remote (openpi websocket protocol)", **describe_remote(self.text)}


# ---- LeRobot ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LeRobotRun(PolicySpec):
    """A LeRobot policy: a `pretrained_model` folder of `lerobot-train` (or a checkpoint or training
    output folder holding one), loaded through LeRobot's own code (`egogym.policies.lerobot`).
    The env renders the cameras its config.json reads (`observation.images.<camera>`)."""

    path: str = ""
    syntax: ClassVar[str] = "lerobot:PATH"
    what: ClassVar[str] = "a LeRobot policy (lerobot-train's pretrained_model folder; needs lerobot installed)"
    PREFIX: ClassVar[str] = "lerobot:"

    @classmethod
    def claims(cls, text: str) -> bool:
        return text.startswith(cls.PREFIX)

    @classmethod
    def parse(cls, text: str) -> "LeRobotRun":
        path = text[len(cls.PREFIX):]
        if not path.strip():
            raise UserError(f"--policy {text}: give {cls.syntax}, PATH a pretrained_model folder of lerobot-train")
        return cls(text, path)

    def inputs(self) -> tuple[str, ...]:
        return (self.path,)

    def cameras(self) -> tuple[str, ...] | None:
        from egogym.policies.lerobot import config_cameras, find_pretrained, read_config

        cams = config_cameras(read_config(find_pretrained(self.path, self.text), self.text), self.text)
        return tuple(dict.fromkeys((FRONT, *cams)))

    def build(self, env, device: str = "cpu") -> Policy:
        from egogym.policies.lerobot import load_lerobot_policy

        return load_lerobot_policy(self.path, env, device=device, text=self.text)

    def describe(self) -> dict:
        from egogym.policies.lerobot import describe_lerobot

        return describe_lerobot(self.path, self.text)


# ---- the registry and the parser ---------------------------------------------------------

KINDS: tuple[type[PolicySpec], ...] = (Scripted, Hold, Replay, PoseIkRun, HumanIkRun, Remote, LeRobotRun, TrainedRun)
"""Every kind, in the order `parse_policy` tries them (`TrainedRun`, claiming any text, last)."""


def kinds_help() -> str:
    """The kinds in words, for `--policy`'s help and its errors."""
    return "; ".join(f"'{k.syntax}' ({k.what})" for k in KINDS)


def parse_policy(text: str) -> PolicySpec:
    """The `PolicySpec` a `--policy` string names: the first of `KINDS` that claims it (a
    one-line UserError naming --policy for a malformed one)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"--policy {text!r}: give one of {', '.join(k.syntax for k in KINDS)}")
    return next(kind for kind in KINDS if kind.claims(text)).parse(text)
