"""`egogym collect --embodiment human`: simulate, record and convert in one command.

The simulated human (`egogym.sim.human`) writes one Aria-style recording per episode
(episode i from seed S + i); the recordings then go through the very converter real
recordings use (`egogym.data.aria.convert`), so the sim exercises the real pipeline.
Recordings are kept under `--recordings DIR` if the collect command offers it (default:
`<out>.recordings/` next to the output file), so they can be converted again.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from egogym.core.bounds import MAX_EPISODES, check_int, check_seeds
from egogym.core.errors import UserError
from egogym.core.outputs import check_output, removed_if_failed
from egogym.core.spec import ARIA_IMAGE_SIZE
from egogym.data import schema as S


def collect_human(episodes: int, seed: int, out: str | Path, image_size=ARIA_IMAGE_SIZE, *, progress: bool = True,
                  resume: bool = False, recordings: str | Path | None = None, head: str = "natural", hand: str = "human",
                  motion: str = "human", rest: str = "person", horizon: str = "egomimic",
                  point: str = "palm", task_options: dict | None = None, demonstrator: str = "person",
                  tracking_dropout: float | None = None, fps: float | None = None,
                  replay_steps: int | None = None, picks: int = 1, fill_gaps: float = 0.0) -> int:
    """Simulate `episodes` human demos (episode i from seed + i), write their Aria-style
    recordings under `recordings` (default `<out>.recordings/`) and convert them into the
    human HDF5 file `out` (appending the missing ones with `resume`). head: `HumanConfig.head`
    ("natural", or "robot": the Aria held at the robot's viewpoint); hand: `HumanConfig.hand` ("human",
    or "robot": the twin's arms drawn in place of the person's); motion: `HumanConfig.motion` ("human", or
    "robot": the palm along the scripted expert's waypoints, or "replay": the hand's grip point along the
    expert's own executed pinch point for the same seed, `expert_pinch_track`; needs rest "robot"); rest: `HumanConfig.rest` ("person", or
    "robot": the hand rests where the robot's pinch point starts); horizon: the chunks' time span, a name of
    `schema.HUMAN_HORIZONS` ("egomimic" 0.9 s, "robot" 3.9 s as the robot's chunks, or "robot-exact": the robot
    chunk's own times, whole chunks only, at a multiple of 25 fps); point: the hand's point
    the chunks follow, a name of `schema.HUMAN_LABEL_POINTS` ("palm", or "grip": the point the hand holds). task_options: options of the
    object_in_bowl declaration (placement and appearance axes, `egogym.tasks.ObjectInBowl`), so
    that human demos may cover what robot demos do not. demonstrator: "person" (the simulated
    Aria wearer) or "robot", the ladder's positive control (`egogym.pipelines.positive_control`:
    the scripted robot's demos, `POSITIVE_CONTROL_STEPS` long, stored as human demos; recorded
    into `<out>.robot.hdf5`, which --resume continues). tracking_dropout: probability per frame that hand
    tracking loses the hand (`HumanConfig.dropout`; None: the simulator's default, `TRACKING_DROPOUT`).
    fps: the recordings' frame rate (`HumanConfig.fps`, Hz; None: Aria's 30). replay_steps: with hand
    "replay", control steps of the expert's episode to replay, on past its first point (`HumanConfig.replay_steps`;
    None: up to the first point). picks: pick-and-places in a row, the toy re-placed after each
    (`HumanConfig.picks`). fill_gaps: seconds of lost hand tracking the converter bridges (`aria.convert`).
    Returns the exit code."""
    if demonstrator not in DEMONSTRATORS:
        raise UserError(f"--demonstrator {demonstrator!r}: use one of {', '.join(DEMONSTRATORS)}")
    if demonstrator == "robot":
        if (horizon, point, picks, fill_gaps) != ("egomimic", "palm", 1, 0):
            raise UserError("--horizon, --point, --picks, --fill-gaps: the positive control's demos and chunks are the "
                            "robot's own (400 steps, its pinch point over 3.96 s); leave them out with --demonstrator robot")
        return _collect_positive_control(episodes, seed, out, image_size, progress, resume, task_options)
    from egogym.data.aria import convert
    from egogym.sim.human import HumanConfig, HumanDemonstrator, recording_settings
    from egogym.tasks import make_task

    episodes = int(episodes)
    episodes = check_int(episodes, "--episodes", 1, MAX_EPISODES)
    seed = check_seeds(seed, episodes)
    out = Path(out)
    size = tuple(image_size or ARIA_IMAGE_SIZE)
    rec_root = Path(recordings or out.with_name(out.name + ".recordings"))
    if out.exists() and not resume:
        raise UserError(f"{out} exists: choose another --out, delete it, or pass --resume to append")
    check_output(out, existing_ok=resume, suffixes=(".hdf5", ".h5"))
    try:
        task = make_task("object_in_bowl", **(task_options or {}))
        config = HumanConfig(image_size=(int(size[0]), int(size[1])), head=head, hand=hand, motion=motion,
                             rest=rest, task=task,
                             replay_steps=None if replay_steps is None else int(replay_steps), picks=int(picks),
                             **({} if tracking_dropout is None else {"dropout": float(tracking_dropout)}),
                             **({} if fps is None else {"fps": float(fps)}))
    except (TypeError, ValueError) as e:
        raise UserError(f"--task-option: {e}" if task_options else str(e)) from None
    # Refused before any simulation: an unknown horizon, a frame rate without its knot times, a bridge out of range.
    from egogym.data.aria import check_fill_gaps
    fill_gaps = check_fill_gaps(fill_gaps)
    if horizon not in S.HUMAN_HORIZONS:
        raise UserError(f"--horizon {horizon!r}: use one of {', '.join(S.HUMAN_HORIZONS)}")
    try:
        S.HUMAN_HORIZONS[horizon].at(config.fps)
    except ValueError as e:
        raise UserError(f"--horizon {horizon} at --fps {config.fps:g}: {e}") from None
    folders = []
    it = range(episodes)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="simulate human", unit="ep", file=sys.stderr)
    replay = _ExpertReplay(task, config.replay_steps) if motion == "replay" else None
    try:
        with HumanDemonstrator(config) as human:
            for i in it:
                folder = rec_root / f"episode_{seed + i:06d}"
                if (folder / "recording.json").is_file():
                    _check_reusable(folder, config)
                else:
                    track = replay.track(seed + i) if replay is not None else None
                    human.record_episode(seed + i, folder, track=track)
                folders.append(folder)
    finally:
        if replay is not None:
            replay.close()
    if out.exists():  # --resume: convert only the episodes the file does not hold yet
        import h5py

        with h5py.File(out, "r") as f:
            done = {str(g.attrs.get("recording", "")) for g in f["data"].values()} if "data" in f else set()
        folders = [p for p in folders if str(p) not in done]
        if not folders:
            print(f"{out}: all {episodes} episode(s) already converted")
            return 0
    # A first conversion that fails before a demo is written leaves no file to block the rerun
    # (the recordings, the finished work, stay in rec_root and are not simulated again).
    with removed_if_failed(out, keep=lambda: _holds_demos(out)):
        names = convert(folders, out, progress=progress, horizon=horizon, point=point, fill_gaps=fill_gaps, env_args={
            "source": "egogym collect --embodiment human", "task": "object_in_bowl",
            "task_options": dict(task_options or {}), "seed": seed,
            "episodes": episodes, "recordings": str(rec_root), "image_size": list(config.image_size),
            "horizon": horizon, "point": point, "fill_gaps": fill_gaps,
            **recording_settings(config)})
    print(f"{out}: wrote {len(names)} human demo(s) from {episodes} simulated episode(s); recordings in {rec_root}")
    return 0


def _check_reusable(folder: Path, config) -> None:
    """Refuse to convert a kept recording made by an older simulator or with another head, hand, motion or rest."""
    import json

    from egogym.sim.human import UNNAMED_SETTINGS, recording_settings

    try:
        rec = json.loads((folder / "recording.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{folder / 'recording.json'}: unreadable ({e}); delete the folder to record it again") from None
    wanted = recording_settings(config)
    made = {k: rec.get(k, UNNAMED_SETTINGS.get(k)) for k in wanted}  # a version-2 recording has no rest: its version refuses it anyway
    if made != wanted:
        differ = [k for k in wanted if made[k] != wanted[k]]
        say = lambda d: ", ".join(f"{k} {d[k]}" for k in differ)  # noqa: E731
        raise UserError(f"{folder}: recorded with {say(made)}; this run records {say(wanted)}: give another "
                        f"--recordings folder, or delete this one to record it again")


REPLAY_MAX_STEPS = 1000
"""Control steps the expert gets to score its first point in a replayed episode (20 s at 50 Hz)."""


class _ExpertReplay:
    """The scripted expert on the robot env of `task` (no cameras), for `HumanConfig.motion == "replay"`."""

    def __init__(self, task, steps: int | None = None):
        from egogym.env import EgoEnv
        from egogym.sim.experts import make_expert

        self.env = EgoEnv(task=task, cameras=())
        self.expert = make_expert(self.env)
        self.steps = steps

    def track(self, seed: int):
        if self.steps is None:
            return expert_pinch_track(self.env, self.expert, seed)
        return expert_pinch_track(self.env, self.expert, seed, self.steps, through=True)

    def close(self) -> None:
        self.env.close()


def expert_pinch_track(env, expert, seed: int, max_steps: int = REPLAY_MAX_STEPS, through: bool = False):
    """Run `expert` on the robot env `env` from reset(seed) until the task's first point (or `max_steps`;
    with `through`, for `max_steps` whatever it scores, as a positive-control demo runs) and return what its arm did as a `egogym.sim.human.PinchTrack`: the executed pinch point (m, world)
    after every control step (t = k / control_hz s, k = 0 at reset), both arms' joints and finger slides
    and the toy's pose at the same steps (what `HumanConfig.hand == "replay"` draws), and when its gripper
    command closes and opens (s; past the end where it never does)."""
    from egogym.sim.experts import CLOSED, OPEN
    from egogym.sim.human import PinchTrack
    from egogym.sim.scene import arm_qpos_addresses

    base = env.unwrapped
    arm, hz = base.arms.names[-1], base.robot.control_hz
    obs, _ = env.reset(seed=seed)
    expert.reset()
    physics = base.backend.physics
    qpos = physics.data.ptr.qpos  # a view of the simulator's state: read after every step
    qadr = np.concatenate([np.concatenate(a) for a in arm_qpos_addresses(physics.model.ptr, base.robot).values()])
    toy = physics.model.ptr.joint(f"toy_{base.backend.sim_task.toy}").qposadr[0] + np.arange(7)
    points, grips, arm_q, toy_q = [base.backend.pinch_world(arm)], [OPEN], [qpos[qadr]], [qpos[toy]]
    scored = False
    for _ in range(max_steps):
        obs, _, terminated, truncated, info = env.step(expert.act(obs))
        points.append(base.backend.pinch_world(arm))
        grips.append(float(info["applied_action"][-1]))
        arm_q.append(qpos[qadr])  # fancy indexing copies
        toy_q.append(qpos[toy])
        scored = bool(info["success"])
        if (scored and not through) or terminated or truncated:
            break
    if not scored:  # recorded as it went: the person replays the attempt
        print(f"expert replay, seed {seed}: no point within {len(points) - 1} steps", file=sys.stderr)
    g, t = np.asarray(grips), np.arange(len(points)) / hz
    # The gripper command's first move from open to closed, then back: (start, end) times of each.
    moves, k = [], 0
    for leaves, arrives in ((g < OPEN - 1e-6, g <= CLOSED + 1e-6), (g > CLOSED + 1e-6, g >= OPEN - 1e-6)):
        a = _first(leaves, k)
        b = _first(arrives, a)
        moves.append((t[a - 1], t[b]) if b is not None else (t[-1] + 1.0, t[-1] + 1.3))  # never: past the end
        k = b
    return PinchTrack(t, np.asarray(points), *moves, np.asarray(arm_q), np.asarray(toy_q))


def _first(mask: np.ndarray, start: int | None) -> int | None:
    """The first index >= start where mask holds (None where none does, or start is None)."""
    if start is None:
        return None
    k = np.flatnonzero(mask[start:])
    return int(k[0]) + start if len(k) else None


def _holds_demos(path: Path) -> bool:
    """Whether an HDF5 file holds at least one demo (False for a missing or unreadable file)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return len(f.get("data", {})) > 0
    except (OSError, ValueError):
        return False


DEMONSTRATORS = ("person", "robot")
"""The human domain's demonstrators: the simulated person, or the robot itself (positive control)."""
POSITIVE_CONTROL_STEPS = 400
"""Control steps of a positive-control demo (no stop at the first point): 201 of them have a whole
chunk (100 points, 2 steps apart) inside the demo, and the first point comes at about step 190."""


def _collect_positive_control(episodes, seed, out, image_size, progress, resume, task_options) -> int:
    from egogym.pipelines.collect import collect_robot
    from egogym.pipelines.positive_control import robot_demos_as_human

    out = Path(out)
    robot = out.with_name(out.stem + ".robot.hdf5")
    if out.exists() and not resume:
        raise UserError(f"{out} exists: choose another --out, delete it, or pass --resume to append")
    collect_robot("object_in_bowl", episodes, seed, robot, image_size=image_size or ARIA_IMAGE_SIZE,
                  resume=robot.exists(), max_steps=POSITIVE_CONTROL_STEPS, task_options=task_options or None,
                  progress=progress)
    out.unlink(missing_ok=True)  # converted anew from the (resumed) robot file: seconds
    names = robot_demos_as_human(robot, out)
    print(f"{out}: wrote {len(names)} positive-control demo(s) (the scripted robot's, stored as human demos; "
          f"robot file {robot})")
    return 0


def run(args) -> int:
    """`egogym collect --embodiment human`: `collect_human` from the command's namespace."""
    return collect_human(args.episodes, getattr(args, "seed", 0) or 0, args.out, getattr(args, "image_size", None),
                         progress=not getattr(args, "no_progress", False), resume=getattr(args, "resume", False),
                         recordings=getattr(args, "recordings", None), head=getattr(args, "head", "natural"),
                         hand=getattr(args, "hand", "human"), motion=getattr(args, "motion", "human"),
                         rest=getattr(args, "rest", "person"), horizon=getattr(args, "horizon", "egomimic"),
                         point=getattr(args, "point", "palm"),
                         demonstrator=getattr(args, "demonstrator", "person"),
                         tracking_dropout=getattr(args, "tracking_dropout", None), fps=getattr(args, "fps", None),
                         replay_steps=getattr(args, "replay_steps", None), picks=getattr(args, "picks", 1),
                         fill_gaps=getattr(args, "fill_gaps", 0.0),
                         task_options=getattr(args, "task_options", None))
