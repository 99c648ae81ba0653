"""`egogym collect`: record scripted-expert episodes of the MuJoCo twin to an HDF5 file.

    egogym collect --task object_in_bowl --episodes 20 --seed 0 --out robot.hdf5
    egogym collect --task object_in_bowl --episodes 40 --seed 0 --out robot.hdf5 --resume

Episode i is reset with seed S+i (the task's `sample_episode` draw, kept as the demo's `start`
attribute, JSON) and recorded at the control rate (50 Hz): per step the
Aria image and the wrist image(s), `front_img_1_masked` / `front_img_1_line` (every arm
blacked out from the simulator's segmentation, a red line through the active arms'
projected keypoints: `egogym.core.views.mask_and_line`), `joint_positions`,
`ee_pose` (pinch points in the Aria camera frame, m), the commanded joint targets
actually applied (`info["applied_action"]`) and the simulator state (qpos, qvel) for
replay. Frames stream to the file as the episode runs (`DemoWriter.begin_demo`: memory
stays bounded, docs/BENCHMARKS.md "Streaming writes"); each episode is committed when it
ends; a killed run keeps every finished episode, drops the partial one, and `--resume`
records the missing ones.

`--embodiment human` hands over to the simulated human demonstrator
(`egogym.pipelines.human.collect_human`); `--embodiment real` to the teleoperation
recorder of the real robot (`egogym.pipelines.teleop.collect_real`).
"""
from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from egogym.core.arms import LABELS
from egogym.core.bounds import MAX_EPISODES, MAX_PICKS, MAX_STEPS, check_int, check_seeds, int_flag, seed_flag
from egogym.core.configs import parse_options
from egogym.core.errors import UserError
from egogym.core.outputs import check_output, removed_if_failed
from egogym.data import schema as S
from egogym.data.aria import FILL_GAPS_HELP
from egogym.data.journal import journal_path
from egogym.data.writer import DemoWriter
from egogym.tasks import TASK_OPTION_HELP
from egogym.core.spec import ARIA_IMAGE_SIZE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="object_in_bowl", help="task name (egogym.tasks.TASKS)")
    parser.add_argument("--task-option", action="append", metavar="K=V", help=TASK_OPTION_HELP)
    parser.add_argument("--episodes", type=int_flag("--episodes", 1, MAX_EPISODES), required=True, help="number of episodes in the file")
    parser.add_argument("--seed", type=seed_flag(), default=0, help="episode i is reset with seed S+i")
    parser.add_argument("--out", type=Path, required=True, help="output HDF5 file")
    parser.add_argument("--resume", action="store_true", help="append the episodes missing from an existing --out")
    parser.add_argument("--image-size", type=int, nargs=2, default=ARIA_IMAGE_SIZE, metavar=("H", "W"),
                        help="image height and width in pixels (default 480 640)")
    parser.add_argument("--embodiment", choices=("robot", "human", "real"), default="robot",
                        help="robot: scripted ViperX expert; human: the simulated Aria-wearing demonstrator; "
                             "real: teleoperated demos on the real robot (docs/HARDWARE.md)")
    parser.add_argument("--arms", choices=tuple(LABELS), default=None, help="default: the task's arms")
    parser.add_argument("--prestacked", action="store_true",
                        help="also write EgoMimic's pre-stacked actions_*_act keys (100x the action bytes)")
    parser.add_argument("--max-steps", type=int_flag("--max-steps", 1, MAX_STEPS), default=None,
                        help="stop each episode after this many steps (default: the task's time limit)")
    parser.add_argument("--stop-after-points", type=int_flag("--stop-after-points", 1, MAX_STEPS), default=None,
                        help="stop an episode once it has scored this many points")
    parser.add_argument("--codec", choices=S.IMAGE_CODECS, default=S.DEFAULT_IMAGE_CODEC, help="image compression")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    human = parser.add_argument_group("--embodiment human")
    human.add_argument("--head", choices=("natural", "robot"), default="natural",
                       help="the simulated person's head: natural (sways, turns to look) or robot (the Aria held "
                            "at the robot's viewpoint: isolates the viewpoint gap)")
    human.add_argument("--hand", choices=("human", "robot", "replay"), default="human",
                       help="what the simulated person's images show doing the task: human (hand, forearm, sleeve), "
                            "robot (the twin's arms, the right one posed by IK at the hand: isolates the "
                            "appearance gap) or replay (with --motion replay: the robot's own arms and toy as the "
                            "expert's episode had them)")
    human.add_argument("--motion", choices=("human", "robot", "replay"), default="human",
                       help="how the simulated person moves: human (one fast reach, oblique approach), robot "
                            "(the scripted expert's waypoints and speed: isolates the motion gap) or replay (the "
                            "hand's grip point on the expert's own executed pinch path for the same seed: with "
                            "--point grip the labels are the robot's; isolates the action gap; needs --rest robot)")
    human.add_argument("--rest", choices=("person", "robot"), default="person",
                       help="where the simulated person's hand rests before and after the task: person (by the "
                            "body, at the table's near edge) or robot (where the twin's pinch point starts: "
                            "isolates the start-state gap)")
    human.add_argument("--horizon", choices=tuple(S.HUMAN_HORIZONS), default="egomimic",
                       help="time span of the human chunks: egomimic (0.9 s, EgoMimic's), robot (3.9 s, the "
                            "robot chunks' span: isolates the label-horizon gap) or robot-exact (the robot chunk's "
                            "own 100 times, whole chunks only, as the positive control's: needs --fps 50)")
    human.add_argument("--point", choices=S.HUMAN_LABEL_POINTS, default="palm",
                       help="the hand's point the human chunks follow: palm (EgoMimic's) or grip (the point the hand "
                            "holds, the robot pinch point's counterpart: isolates the label-point gap)")
    human.add_argument("--tracking-dropout", type=float, default=None, metavar="P",
                       help="probability per frame that the simulated hand tracking loses the hand (default 0.01; "
                            "0: perfect tracking, every frame kept)")
    human.add_argument("--fps", type=float, default=None, metavar="HZ",
                       help="frame rate of the simulated person's recordings (default 30, Aria's; a multiple of 10: "
                            "the chunks' knots are 0.1 s apart; 50: the robot's control rate)")
    human.add_argument("--replay-steps", type=int_flag("--replay-steps", 1, MAX_STEPS), default=None, metavar="N",
                       help="with --hand replay: replay N control steps of the expert's episode, on past its first "
                            "point into the next pick, as the positive control's demos run (default: up to the "
                            "first point)")
    human.add_argument("--fill-gaps", type=float, default=0.0, metavar="S", help=FILL_GAPS_HELP)
    human.add_argument("--picks", type=int_flag("--picks", 1, MAX_PICKS), default=1, metavar="N",
                       help="the person does N pick-and-places in a row, the toy re-placed after each as the robot "
                            "env re-places it after a point (default 1: one, then rest); with --horizon robot-exact "
                            "a demo needs more than one to keep frames with whole chunks")
    human.add_argument("--demonstrator", choices=("person", "robot"), default="person",
                       help="person: the simulated Aria wearer; robot: the positive control of the human-data "
                            "ladder (the scripted robot's demos stored as human demos: egogym.pipelines.positive_control)")
    real = parser.add_argument_group("--embodiment real")
    real.add_argument("--hardware", type=Path, help="hardware JSON of the robot (keys of egogym.real.config.RealConfig)")
    real.add_argument("--calibration", type=Path, help="calibration JSON (overrides the hardware file's)")
    real.add_argument("--drivers", choices=("real", "fake"), default="real",
                      help="fake: rehearse against egogym.real.fakes, no hardware")
    real.add_argument("--masker", choices=("sam2", "capsule"), default="sam2",
                      help="arm mask of front_img_1_masked/_line: SAM2 prompted with the projected arm keypoints, "
                           "or capsule (model-free, rough; for rehearsals)")
    real.add_argument("--sam2-checkpoint", help="SAM2 checkpoint file for --masker sam2")


OTHER_EMBODIMENTS = {"human": ("egogym.pipelines.human", "run"),
                     "real": ("egogym.pipelines.teleop", "collect_real")}
"""Collectors imported only when asked for: the simulated human (simulate, record, convert)
and teleoperation on the real robot."""


def run(args: argparse.Namespace) -> int:
    check_seeds(args.seed, args.episodes)  # every embodiment resets episode i with seed S+i
    args.task_options = parse_options(getattr(args, "task_option", None), "--task-option")
    if args.embodiment in OTHER_EMBODIMENTS:
        module_name, function = OTHER_EMBODIMENTS[args.embodiment]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                raise UserError(f"--embodiment {args.embodiment} needs {module_name}, which this version lacks") from None
            raise
        return int(getattr(module, function)(args) or 0)
    names = collect_robot(args.task, args.episodes, args.seed, args.out, image_size=tuple(args.image_size),
                          resume=args.resume, arms=args.arms, prestacked=args.prestacked,
                          max_steps=args.max_steps, stop_after_points=args.stop_after_points,
                          image_codec=args.codec, progress=not args.no_progress, task_options=args.task_options)
    print(f"{args.out}: wrote {len(names)} episode(s)" + (f" ({names[0]} .. {names[-1]})" if names else ""))
    return 0


def episode_index(attrs: dict) -> int | None:
    v = attrs.get("episode")
    return None if v is None else int(v)


def collect_robot(task: str = "object_in_bowl", episodes: int = 1, seed: int = 0, out: str | Path = "robot.hdf5",
                  image_size: Sequence[int] = ARIA_IMAGE_SIZE, resume: bool = False, *, arms: str | None = None,
                  prestacked: bool = False, max_steps: int | None = None, stop_after_points: int | None = None,
                  image_codec: str = S.DEFAULT_IMAGE_CODEC, task_options: dict | None = None,
                  progress: bool = True) -> list[str]:
    """Record `episodes` scripted-expert episodes of `task` into `out`; return the new demo names.

    Episode i (0-based) is reset with seed `seed + i` and stored with attrs episode=i, start (the drawn episode, JSON),
    seed, points, success, steps. With resume=True an existing file gets only the
    episodes it lacks (by the `episode` attribute); without it an existing file is an
    error. max_steps / stop_after_points end episodes early (the default length is the
    task's time limit at the control rate).
    """
    from tqdm import tqdm

    from egogym.env import EgoEnv
    from egogym.sim.experts import make_expert

    episodes = check_int(episodes, "--episodes", 1, MAX_EPISODES)
    seed = check_seeds(seed, episodes)
    if max_steps is not None:
        max_steps = check_int(max_steps, "--max-steps", 1, MAX_STEPS)
    if stop_after_points is not None:
        stop_after_points = check_int(stop_after_points, "--stop-after-points", 1, MAX_STEPS)
    out = Path(out)
    check_output(out, existing_ok=True, suffixes=(".hdf5", ".h5"))  # a looping link fails here, not in exists()
    if out.exists() and not resume:
        raise UserError(f"{out} exists: pass --resume to append its missing episodes, or choose another --out")
    image_size = (int(image_size[0]), int(image_size[1]))
    try:
        from egogym.core.views import DEFAULT_CAMERAS
        from egogym.tasks import TASKS, make_task

        # An unknown task falls through to EgoEnv, which names the nearest one.
        arms_layout = arms or getattr(TASKS.get(task), "default_arms", "right")
        cameras = (*DEFAULT_CAMERAS[arms_layout], S.FRONT_MASKED, S.FRONT_LINE)
        if task_options and task in TASKS:
            try:
                make_task(task, **task_options)
            except (TypeError, ValueError) as e:
                raise UserError(f"--task-option: {e}") from None
        env = EgoEnv(task=task, task_options=task_options, arms=arms, image_size=image_size, cameras=cameras)
    except (ValueError, KeyError) as e:
        raise UserError(str(e)) from None
    names: list[str] = []
    try:
        # a first run that fails before its first committed episode leaves no file behind
        with removed_if_failed(out, keep=lambda: bool(names), also=[journal_path(out)]):
            backend = env.unwrapped.backend
            spec = backend.spec
            expert = make_expert(env)
            env_args = {"env": "egogym.env:EgoEnv", "task": task, "task_options": task_options or {},
                        "arms": list(env.arms), "cameras": list(env.cameras), "image_size": list(image_size),
                        "seed": seed, "source": "sim", "expert": type(expert).__name__}
            writer = DemoWriter(out, "robot", env.calibration, arms=env.arms, control_hz=spec.control_hz,
                                image_size=image_size, env_args=env_args, write_prestacked=prestacked,
                                image_codec=image_codec, embodiment="sim-vx300s")
            done = {episode_index(a) for a in writer.demo_attrs().values()}
            if resume:
                seeds = {int(a["seed"]) - int(a["episode"]) for a in writer.demo_attrs().values()
                         if "seed" in a and "episode" in a}
                if seeds and seeds != {seed}:
                    raise UserError(f"{out} was recorded with --seed {sorted(seeds)[0]}; resume with the same --seed")
            # a generator, not a list: memory does not grow with --episodes
            todo = (i for i in range(episodes) if i not in done)
            limit = int(round(env.task.time_limit_s * spec.control_hz))
            if max_steps is not None:
                limit = min(limit, max_steps)
            n_done = sum(1 for d in done if d is not None and 0 <= d < episodes)
            bar = tqdm(todo, total=episodes - n_done, desc=f"collect {task}", unit="ep", disable=not progress)
            for i in bar:
                with writer.begin_demo({"episode": i, "seed": seed + i, S.ATTR_STATE_NQ: int(backend.model.nq)}) as st:
                    result = record_episode(env, expert, seed + i, limit, stop_after_points, stream=st)
                    names.append(st.commit(result))
                bar.set_postfix(points=result["points"], steps=result["steps"])
            return names
    finally:
        env.close()


def record_episode(env, expert, seed: int, limit: int, stop_after_points: int | None = None, stream=None):
    """Run one expert episode.

    stream: a `DemoStream` (`DemoWriter.begin_demo`): each step goes to it as it happens
    (frames reach the disk every `chunk_steps` steps: memory stays bounded whatever the
    episode length) and the result dict is returned; the caller commits. Without a stream
    the episode is held in memory and (obs, actions, states, result) is returned for
    `DemoWriter.write_demo` (benchmarks compare layouts on the same episodes).

    obs[k][t] is the observation the expert acted on at step t; actions["joints"][t]
    the command applied at t; states[t] = [qpos, qvel] when obs[t] was taken."""
    backend = env.unwrapped.backend
    o, reset_info = env.reset(seed=seed)
    expert.reset()
    rec: dict[str, list] = {k: [] for k in o}
    joints, states = [], []
    info = {"points": 0, "success": False}
    steps = 0
    for _ in range(limit):
        state = np.concatenate([backend.data.qpos, backend.data.qvel])
        prev = o
        o, _, terminated, truncated, info = env.step(expert.act(o))
        steps += 1
        if stream is not None:
            stream.append(prev, {"joints": info["applied_action"]}, state)
        else:
            states.append(state)
            for k, v in prev.items():
                rec[k].append(v)
            joints.append(info["applied_action"])
        if terminated or truncated or (stop_after_points is not None and info["points"] >= stop_after_points):
            break
    result = {"points": int(info["points"]), "success": bool(info["success"]), "steps": steps,
              "start": json.dumps(reset_info["start"])}
    if stream is not None:
        return result
    obs = {k: np.stack(v) for k, v in rec.items()}
    return obs, {"joints": np.stack(joints)}, np.stack(states), result
