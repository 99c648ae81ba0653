"""Teleoperated demonstrations on the real robot, recorded into the sim's HDF5 format.

    egogym collect --embodiment real --episodes 20 --out real.hdf5 \\
        --hardware hardware.json --calibration calibration.json --masker sam2 --sam2-checkpoint sam2.1_hiera_t.pt
    egogym collect --embodiment real ... --resume          # record the demos still missing
    egogym collect --embodiment real ... --drivers fake --masker capsule   # rehearsal without hardware

The operator moves the WidowX leader arms by hand (torque off); every control step (50 Hz,
`spec.control_hz`) their joint states become the followers' joint targets, sent through
the same `RealBackend.apply` path as a policy's: emergency stop, stale-frame watchdog and
`CommandGuard` (NaN/inf stop, joint limits minus the margin, at most `max_joint_step`
rad per step). Nothing outside the limits is ever sent; nothing is ever sent to a leader.

One take: the arms go home, the console asks for the scene (`q` ends the session), the
followers catch up with the leaders (rate-limited, not recorded; at most `sync_s`), then
`max_steps` steps are recorded, the arms go home and the console asks keep or discard
(and notes). A take stopped by the safety layer (emergency stop: space/Esc or Ctrl-C, a
camera fault, an arm fault) is discarded with its reason. Kept takes are written with
`DemoWriter(domain="robot", embodiment="real-vx300s")` as one atomic demo each, streamed:
frames go to the open demo as the take runs (`DemoWriter.begin_demo`, memory bounded
whatever the take's length), masks and lines are added after the take from the frames read
back in blocks, and the demo is committed when the operator keeps it (a discarded take is
rolled back). A killed session keeps every finished demo and drops the open one;
`--resume` records only the missing episode indices.

Per step t of a demo (the observation the command at t was sent after):
- `front_img_1` (Aria, upright linear camera), `<arm>_wrist_img` (D405): (H, W, 3) uint8;
- `joint_positions` (7 per arm: 6 joints rad, gripper normalized [0, 1]): measured followers;
- `ee_pose` (3 per arm, m): pinch point by `egogym.core.kinematics` of the measured joints,
  mapped into the Aria camera frame (OpenCV axes) by the calibration's `T_cam_base`;
- `actions` (7 per arm): the guarded command actually sent at t (rad; gripper [0, 1]);
- `front_img_1_masked` / `front_img_1_line`: `egogym.core.views.mask_and_line` with
  the arm mask of the chosen masker and the red line through the projected arm
  keypoints (`egogym.core.kinematics.keypoints_in_base` -> T_cam_base -> K), one polyline per
  active arm. Maskers (`--masker`, recorded in the file's env_args):
  `sam2`: SAM2 (`egogym.data.sam2_masks.Sam2HandMasker`) prompted, per active arm, with
  that arm's projected keypoints inside the image as positive clicks (the masks of the
  arms are OR-ed); `capsule`: no model, the union of discs of radius
  `capsule_radius_px` (default H/20) swept along the projected links, a rough mask for
  rehearsals. Only active arms are masked (the sim masks both arms).
Demo attrs: episode, steps, notes, control_rate_hz (mean over the take), overruns,
clamped_steps (steps where the guard changed the leader's command), sync_steps, source.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from egogym.core import geometry, kinematics
from egogym.core.arms import Arms
from egogym.core.errors import UserError
from egogym.core.views import FRONT, join_polylines, mask_and_line
from egogym.real.console import OperatorConsole
from egogym.core.spec import ARIA_IMAGE_SIZE

EMBODIMENT = "real-vx300s"
MIN_RATE_FRACTION = 0.84
"""A take whose mean control rate is under this fraction of the control rate (42 Hz at
50 Hz, ALOHA's threshold) is flagged at the keep prompt."""


class ArmMasker(Protocol):
    """Maps one Aria image and one arm's projected keypoints to that arm's mask."""

    def mask(self, image: np.ndarray, points_uv: np.ndarray) -> np.ndarray:
        """image (H, W, 3) uint8, points_uv (N, 2) px (u right, v down; rows may be NaN)
        -> (H, W) bool, True on the arm."""


class CapsuleMasker:
    """A model-free arm mask: discs of radius `radius_px` swept along the polyline through
    the projected keypoints (segments with a non-finite end are skipped). None: H/20 px."""

    name = "capsule"

    def __init__(self, radius_px: float | None = None):
        self.radius_px = radius_px

    def mask(self, image: np.ndarray, points_uv: np.ndarray) -> np.ndarray:
        h, w = np.asarray(image).shape[:2]
        r = float(self.radius_px) if self.radius_px is not None else h / 20.0
        pts = np.asarray(points_uv, float).reshape(-1, 2)
        v, u = np.mgrid[0:h, 0:w] + 0.5
        out = np.zeros((h, w), bool)
        for a, b in zip(pts[:-1], pts[1:]):
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                continue
            d = b - a
            L2 = float(d @ d)
            s = np.zeros_like(u) if L2 == 0 else np.clip(((u - a[0]) * d[0] + (v - a[1]) * d[1]) / L2, 0, 1)
            out |= (u - a[0] - s * d[0]) ** 2 + (v - a[1] - s * d[1]) ** 2 <= r * r
        return out


class Sam2ArmMasker:
    """SAM2 prompted with an arm's projected keypoints that fall inside the image."""

    name = "sam2"

    def __init__(self, sam2_masker):
        self.sam2 = sam2_masker

    def mask(self, image: np.ndarray, points_uv: np.ndarray) -> np.ndarray:
        h, w = np.asarray(image).shape[:2]
        pts = np.asarray(points_uv, float).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        pts = pts[geometry.in_image(pts, h, w)]
        return self.sam2.mask(image, pts)


def make_masker(kind: str, sam2_checkpoint: str | None = None) -> ArmMasker:
    """`--masker` -> a masker. sam2 needs `--sam2-checkpoint` and the sam2 package."""
    if kind == "capsule":
        return CapsuleMasker()
    if kind == "sam2":
        from egogym.data.sam2_masks import Sam2HandMasker

        return Sam2ArmMasker(Sam2HandMasker.from_checkpoint(sam2_checkpoint))
    raise UserError(f"--masker {kind!r}: use 'sam2' (with --sam2-checkpoint PATH) or 'capsule'")


class TeleopConsole(OperatorConsole):
    """The operator console with the keep/discard prompt of a take."""

    def keep(self, episode: int, steps: int, seconds: float, rate_hz: float, min_rate_hz: float) -> tuple[bool, str]:
        """Ask whether to keep the take; return (keep, notes)."""
        self.print_fn(f"Take of demo {episode}: {steps} steps in {seconds:.1f} s ({rate_hz:.1f} Hz).")
        if rate_hz < min_rate_hz:
            self.print_fn(f"  warning: the control rate fell under {min_rate_hz:.0f} Hz; consider discarding it")

        def parse(ans: str) -> bool:
            if ans.lower() in ("y", "yes", "k", "keep"):
                return True
            if ans.lower() in ("n", "no", "d", "discard"):
                return False
            raise ValueError(ans)

        keep = self._ask_until("Keep this take? [y]es / [n]o (discard): ", parse, "answer y to keep or n to discard")
        notes = self._ask("Notes (optional): ") if keep else ""
        return keep, notes


class LeaderArm:
    """One WidowX leader (an `InterbotixManipulatorXS`), read-only.

    gripper_range: (closed, open) position (rad) of the leader's gripper joint, mapped to
    the normalized follower gripper 0 and 1 (clipped to [0, 1])."""

    def __init__(self, name: str, bot: Any, joint_names: Sequence[str], gripper_range: tuple[float, float]):
        self.name, self.bot, self.joint_names = name, bot, tuple(joint_names)
        self.gripper_range = (float(gripper_range[0]), float(gripper_range[1]))

    def start(self) -> None:
        """Torque off (the operator moves the leader by hand)."""
        self.bot.core.robot_torque_enable("group", "arm", False)
        self.bot.core.robot_torque_enable("single", "gripper", False)

    def read(self) -> np.ndarray:
        """[6 joint angles (rad), gripper normalized in [0, 1]] from the leader's joint_states."""
        js = self.bot.core.joint_states
        if js is None:
            raise RuntimeError("no joint_states received yet (is the leader's xs_sdk node running?)")
        pos = dict(zip(js.name, js.position))
        missing = [n for n in (*self.joint_names, "gripper") if n not in pos]
        if missing:
            raise RuntimeError(f"joint_states lacks {missing}")
        closed, opened = self.gripper_range
        g = float(np.clip((pos["gripper"] - closed) / (opened - closed), 0.0, 1.0))
        return np.array([pos[n] for n in self.joint_names] + [g], dtype=float)


@dataclass
class Take:
    """One recorded take: its frames streamed into an open demo (`stream`, a `DemoStream`;
    None when the take stopped before recording), actions (T, 7k) sent, and how it went.
    Keep it with `TeleopRecorder.write`, drop it with `discard`."""

    stream: Any
    actions: np.ndarray
    aborted: str | None
    seconds: float
    sync_steps: int
    overruns: int
    clamped_steps: int

    def discard(self) -> None:
        if self.stream is not None:
            self.stream.abort()


class TeleopRecorder:
    """Records teleoperated demos of `task` into `out` (see the module docstring).

    backend_options: RealBackend options (`hardware`, `calibration`, `drivers`, and the
      seams `clock`, `estop`); `leader_gripper_range` must be given for every active arm.
    arms: "right" | "left" | "both" (default: the task's). image_size: (H, W) px.
    masker: an `ArmMasker`. max_steps: recorded steps per take (default: the task's time
      limit at the control rate). sync_s: seconds the followers may take to reach the
      leaders before a take starts. input_fn / print_fn: the console's I/O.
    """

    def __init__(self, out: str | Path, backend_options: dict, masker: ArmMasker, *, task: str = "object_in_bowl",
                 arms: str | None = None, image_size: Sequence[int] = ARIA_IMAGE_SIZE, max_steps: int | None = None,
                 sync_s: float = 3.0, resume: bool = False, image_codec: str | None = None,
                 input_fn: Callable[[str], str] = input, print_fn: Callable[..., None] = print,
                 masker_label: str | None = None, prestacked: bool = False):
        from egogym.data import schema as S
        from egogym.env import EgoEnv
        from egogym.tasks import TASKS

        self.out, self.masker, self.resume = Path(out), masker, resume
        if self.out.exists() and not resume:
            raise UserError(f"{self.out} exists: pass --resume to record its missing demos, or choose another --out")
        if max_steps is not None and max_steps < 1:
            raise UserError(f"--max-steps {max_steps}: give at least 1")
        self.console = TeleopConsole(input_fn, print_fn)
        arms_layout = arms or getattr(TASKS.get(task), "default_arms", "right")
        from egogym.core.views import DEFAULT_CAMERAS

        cameras = tuple(c for c in DEFAULT_CAMERAS[arms_layout] if c not in (S.FRONT_MASKED, S.FRONT_LINE))
        opts = dict(backend_options, console=self.console, leader_arms=True)
        try:
            self.env = EgoEnv(task=task, arms=arms, image_size=tuple(image_size), cameras=cameras, backend="real",
                              backend_options=opts)
        except (ValueError, KeyError) as e:
            raise UserError(str(e)) from None
        try:
            self.backend = self.env.backend
            spec, cfg = self.backend.spec, self.backend.config
            missing = [a for a in self.env.arms if a not in cfg.leader_gripper_range]
            if missing:
                raise UserError(f"leader_gripper_range has no entry for arm {missing[0]!r}: add "
                                f"\"leader_gripper_range\": {{\"{missing[0]}\": [closed_rad, open_rad]}} (the leader's "
                                f"gripper joint, read off joint_states) to the hardware file")
            self.leaders = {a: LeaderArm(a, self.backend.leader_bots[a], spec.arm(a).joint_names,
                                         cfg.leader_gripper_range[a]) for a in self.env.arms}
            for leader in self.leaders.values():
                leader.start()
            self.hz = float(spec.control_hz)
            self.limit = int(round(self.env.task.time_limit_s * self.hz))
            if max_steps is not None:
                self.limit = min(self.limit, max_steps)
            self.sync_steps = max(1, int(round(sync_s * self.hz)))
            env_args = {"source": "teleop", "task": self.env.task.name, "arms": list(self.env.arms),
                        "cameras": list(cameras), "image_size": list(self.env.image_size),
                        "masker": masker_label or getattr(masker, "name", type(masker).__name__),
                        "leader_model": cfg.leader_model, "safety": {
                            k: getattr(cfg.safety, k) for k in ("max_joint_step", "max_gripper_step", "joint_margin")}}
            from egogym.data.writer import DemoWriter

            kw = {"image_codec": image_codec} if image_codec else {}
            self.writer = DemoWriter(self.out, "robot", self.env.calibration, arms=self.env.arms, control_hz=self.hz,
                                     image_size=self.env.image_size, env_args=env_args, embodiment=EMBODIMENT,
                                     write_prestacked=prestacked, **kw)
        except BaseException:
            self.env.close()
            raise

    # ---- one take ---------------------------------------------------------------------
    def leader_command(self) -> np.ndarray:
        """The leaders' joint states in the env's action layout (7 per arm)."""
        return np.concatenate([self.leaders[a].read() for a in self.env.arms])

    def _read_leaders(self) -> tuple[np.ndarray | None, str | None]:
        try:
            return self.leader_command(), None
        except Exception as e:  # a leader that fails stops the take safely
            return None, f"leader arm: reading joint states raised {type(e).__name__}: {e}"

    def record_take(self, episode: int) -> Take:
        """Reset (arms home, scene prompt), sync the followers to the leaders, record."""
        env, backend = self.env, self.backend
        obs, _ = env.reset(seed=episode)
        guard = backend.guard
        aborted, synced, k = None, False, 0
        for k in range(1, self.sync_steps + 1):  # catch up with the leaders; not recorded
            cmd, aborted = self._read_leaders()
            if aborted:
                backend.abort(aborted)
                break
            obs, _, term, _, info = env.step(cmd)
            if term:
                aborted = info["aborted"]
                break
            if np.allclose(info["applied_action"], np.clip(cmd, guard.lower, guard.upper), atol=1e-9):
                synced = True
                break
        if aborted is None and not synced:
            aborted = (f"the followers did not reach the leader arms within {self.sync_steps / self.hz:.1f} s; "
                       f"hold the leaders still near the followers' home pose when the take starts")
            backend.abort(aborted)
        sent: list[np.ndarray] = []
        guard.clamped_steps = 0
        t0 = backend.clock.now()
        overruns0 = backend._overruns
        stream = None
        if aborted is None:
            # Frames stream to the file as the take runs (memory bounded whatever its length);
            # masks and lines are added after the take (`write`), outside the control loop.
            stream = self.writer.begin_demo()
            try:
                for _ in range(self.limit):
                    cmd, aborted = self._read_leaders()
                    if aborted:
                        backend.abort(aborted)
                        break
                    prev = obs
                    obs, _, term, _, info = env.step(cmd)
                    if term:  # a safety stop: the command was not sent, the step is not recorded
                        aborted = info["aborted"]
                        break
                    stream.append(prev, {"joints": info["applied_action"]})
                    sent.append(info["applied_action"])
            except BaseException:
                stream.abort()
                raise
        seconds = backend.clock.now() - t0
        backend.home()
        commands = np.stack(sent) if sent else np.zeros((0, Arms.parse(env.arms).joint_width))
        return Take(stream, commands, aborted, seconds, k, backend._overruns - overruns0, guard.clamped_steps)

    # ---- masks and writing --------------------------------------------------------------
    def arm_points(self, joints: np.ndarray) -> list[np.ndarray]:
        """Per active arm, its keypoints (8, 2) px in the Aria image for joints (the env's joint layout)."""
        cal = self.env.calibration
        K = cal.K(FRONT, self.env.image_size)
        out = []
        for i, a in enumerate(self.env.arms):
            p_base = kinematics.keypoints_in_base(self.backend.spec.arm(a), joints[Arms.angles(i)])
            out.append(geometry.project(K, geometry.transform_points(np.asarray(cal.T_cam_base[a], float), p_base)))
        return out

    def masked_and_line(self, front: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(masked, line) images of one step: every active arm's mask, one red polyline per arm."""
        uv = self.arm_points(joints)
        mask = np.zeros(front.shape[:2], bool)
        for pts in uv:
            m = np.asarray(self.masker.mask(front, pts))
            if m.shape != mask.shape or m.dtype != bool:
                raise ValueError(f"masker {type(self.masker).__name__} returned {m.shape} {m.dtype}; "
                                 f"expected {mask.shape} bool")
            mask |= m
        return mask_and_line(front, mask, join_polylines(uv))

    def write(self, episode: int, take: Take, notes: str, block: int = 16) -> str:
        """Masks and lines for every step (read back from the take's open demo `block`
        steps at a time), then commit the demo (atomically); returns its name."""
        from egogym.data import schema as S

        st = take.stream
        T = len(take.actions)
        try:
            joints = st.read(S.JOINT_POSITIONS)
            for a in range(0, T, block):
                pairs = [self.masked_and_line(f, q) for f, q in zip(st.read(S.FRONT, a, a + block), joints[a:a + block])]
                st.extend({S.FRONT_MASKED: np.stack([p[0] for p in pairs]), S.FRONT_LINE: np.stack([p[1] for p in pairs])})
        except BaseException:
            st.abort()
            raise
        attrs = {"episode": int(episode), "steps": T, "notes": notes, "source": "teleop",
                 "control_rate_hz": T / take.seconds if take.seconds > 0 else 0.0, "overruns": int(take.overruns),
                 "clamped_steps": int(take.clamped_steps), "sync_steps": int(take.sync_steps),
                 "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        return st.commit(attrs)

    # ---- the session ----------------------------------------------------------------------
    def missing(self, episodes: int) -> list[int]:
        """Episode indices 0..episodes-1 not yet in the file."""
        done = {int(a["episode"]) for a in self.writer.demo_attrs().values() if "episode" in a}
        return [i for i in range(episodes) if i not in done]

    def run(self, episodes: int, max_takes: int | None = None) -> list[str]:
        """Record until demos 0..episodes-1 are all in the file (discarded takes are
        repeated; at most max_takes takes). `q` at the scene prompt raises OperatorQuit
        (a KeyboardInterrupt); the demos written so far stay in the file."""
        if episodes < 1:
            raise UserError(f"--episodes {episodes}: give at least 1")
        names: list[str] = []
        takes = 0
        todo = self.missing(episodes)
        while todo and (max_takes is None or takes < max_takes):
            i = todo[0]
            takes += 1
            take = self.record_take(i)
            if take.aborted is not None:
                take.discard()
                self.console.print_fn(f"Take of demo {i} stopped and discarded: {take.aborted}")
                continue
            if len(take.actions) == 0:
                take.discard()
                self.console.print_fn(f"Take of demo {i} is empty; discarded")
                continue
            rate = len(take.actions) / take.seconds if take.seconds > 0 else 0.0
            try:
                keep, notes = self.console.keep(i, len(take.actions), take.seconds, rate, MIN_RATE_FRACTION * self.hz)
            except BaseException:
                take.discard()
                raise
            if not keep:
                take.discard()
                self.console.print_fn(f"Take of demo {i} discarded by the operator")
                continue
            names.append(self.write(i, take, notes))
            self.console.print_fn(f"{self.out}: wrote {names[-1]} (demo {i}, {len(take.actions)} steps)")
            todo = todo[1:]
        return names

    def close(self) -> None:
        self.env.close()


def collect_real(args: argparse.Namespace) -> int:
    """`egogym collect --embodiment real`: reads episodes, out, resume, hardware,
    calibration, drivers, masker, sam2_checkpoint, task, arms, image_size, max_steps,
    codec, prestacked from the collect namespace (seed and stop_after_points do not apply:
    a person sets the scene and decides when a take is good). Returns the exit code."""
    if not getattr(args, "hardware", None):
        raise UserError("--embodiment real needs --hardware HARDWARE.json (see docs/HARDWARE.md §2)")
    options: dict[str, Any] = {"hardware": str(args.hardware), "drivers": getattr(args, "drivers", None) or "real"}
    if getattr(args, "calibration", None):
        options["calibration"] = str(args.calibration)
    masker_kind = getattr(args, "masker", None) or "sam2"
    masker = make_masker(masker_kind, getattr(args, "sam2_checkpoint", None))
    label = f"sam2:{Path(args.sam2_checkpoint).name}" if masker_kind == "sam2" else masker_kind
    rec = TeleopRecorder(args.out, options, masker, task=getattr(args, "task", "object_in_bowl"),
                         arms=getattr(args, "arms", None), image_size=tuple(getattr(args, "image_size", ARIA_IMAGE_SIZE)),
                         max_steps=getattr(args, "max_steps", None), resume=bool(getattr(args, "resume", False)),
                         image_codec=getattr(args, "codec", None), masker_label=label,
                         prestacked=bool(getattr(args, "prestacked", False)))
    try:
        names = rec.run(int(args.episodes))
    finally:
        rec.close()
    print(f"{args.out}: wrote {len(names)} demo(s)" + (f" ({names[0]} .. {names[-1]})" if names else ""))
    return 0
