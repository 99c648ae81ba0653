"""`egogym quickstart`: the main job, small, end to end.

    egogym quickstart [--out quickstart] [--robot 60] [--human 40] [--preset cpu] [--steps 3000] [--episodes 20] [--jobs 2]

A small robot data set (scripted expert, robot placement distribution: the toy only on
the right half of the table, `ROBOT_TASK_OPTIONS`) and a small human data set (simulated
Aria demonstrator, the full distribution); a robot-only and a co-trained policy with the
`cpu` training preset and the co-training options of `TRAIN_OPTIONS` (docs/POLICIES.md,
"Co-training options"); evaluations of both and of the scripted expert on the full
distribution; `report.md` + `scaling.png`. With `--jobs 2` (the default, for a quiet 2-core
machine) the robot and human data are collected side by side and each policy trains as soon
as its data is there, beside the other (docs/RESULTS.md has the timings and the sizes' choice).
It is the ablation machinery
(`egogym.eval.ablation`) with a built-in one-cell-per-arm grid, so it resumes the same way: a
rerun keeps finished data, training runs and evaluations.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from egogym.core.configs import nearest
from egogym.core.bounds import MAX_EPISODES, MAX_STEPS, MAX_WORKERS, int_flag
from egogym.core.errors import UserError
from egogym.eval.ablation import config_from_dict, run_ablation, write_report
from egogym.eval.config import EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.metrics import summarize
from egogym.policies.config import DEVICE_HELP, PRESETS, check_device

ROBOT_TASK_OPTIONS = {"toy_region": [[0.08, 0.30], [-0.36, -0.19]]}
"""Robot demos see the toy only on the right half of the table (y < -0.19 m); the bowl
anywhere. Human demos and the evaluation use the full distribution, so half of the
evaluation's toy placements are covered by human data only."""


TRAIN_OPTIONS = ("--set", "model.robot_state=pinch", "--set", "train.early_human=1")
"""Both policies' state is the pinch point (one representation for the robot and the human) and the
co-trained one draws the human's first frames as often as the robot's: the only options with which the
positive control reached the human-only region (docs/RESULTS.md, issue 24; `pinch_early`). The robot-only
policy gets the same state, so that the two differ only in the human data."""


def quickstart_config(robot: int, human: int, steps: int, episodes: int, max_steps: int, workers: int,
                      image_size: tuple[int, int], preset: str = "cpu") -> dict:
    return {
        "name": "quickstart",
        "image_size": list(image_size),
        "data": {"robot": [robot], "human": [0, human], "seed": 0, "robot_max_steps": 1000,
                 "robot_stop_after_points": 1, "robot_task_options": ROBOT_TASK_OPTIONS},
        "train": {"preset": preset, "steps": steps, "seeds": [0], "args": list(TRAIN_OPTIONS)},
        "eval": {"episodes": episodes, "seed": 100000, "workers": workers, "max_steps": max_steps},
        "controls": {"equal_time": False, "equal_episodes": False},
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="quickstart", help="output folder")
    p.add_argument("--robot", type=int_flag("--robot", 1, MAX_EPISODES), default=60, help="robot demos")
    p.add_argument("--human", type=int_flag("--human", 0, MAX_EPISODES), default=40, help="human demos")
    p.add_argument("--preset", default="cpu", help="`egogym train` preset of both policies")
    p.add_argument("--steps", type=int_flag("--steps", 1, MAX_STEPS), default=3000, help="training steps per policy")
    p.add_argument("--episodes", type=int_flag("--episodes", 1, MAX_EPISODES), default=20, help="evaluation episodes per policy")
    p.add_argument("--max-steps", type=int_flag("--max-steps", 1, MAX_STEPS), default=500, help="env steps per evaluation episode (500 = 10 s)")
    p.add_argument("--workers", type=int_flag("--workers", 1, MAX_WORKERS), default=1, help="evaluation worker processes per policy")
    p.add_argument("--jobs", type=int_flag("--jobs", 1, MAX_WORKERS), default=2,
                   help="policies trained and evaluated at once, 1 torch thread each (2: both, on a quiet 2-core "
                        "machine; 1 on a shared one)")
    p.add_argument("--image-size", type=int, nargs=2, default=(64, 64), metavar=("H", "W"))
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--quiet", action="store_true")


def evaluate_expert(config: dict, out: str) -> None:
    """The scripted expert's evaluation (resumable), as a grid side task (plain arguments)."""
    evaluate(EvalConfig.from_dict(config), Path(out), resume=True, progress=False)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out = Path(args.out)
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give at least 1")
    if args.preset not in PRESETS:
        raise UserError(f"--preset {args.preset}: unknown preset; {nearest(args.preset, PRESETS)}")
    cfg = config_from_dict(quickstart_config(args.robot, args.human, args.steps, args.episodes, args.max_steps,
                                             args.workers, tuple(args.image_size), args.preset), "quickstart")
    expert = EvalConfig(policy="scripted", env_id=cfg.env_id, episodes=args.episodes, start_seed=cfg.eval.seed,
                        image_size=tuple(cfg.image_size), max_steps=args.max_steps, workers=args.workers,
                        device=check_device(args.device))
    # The expert's evaluation runs in the grid's first free slot (beside the robot data, once the
    # human data is done), not after the grid: it is off the quick start's critical path.
    side = (("scripted expert evaluation", evaluate_expert, (expert.to_dict(), str(out / "scripted_expert"))),)
    results, _ = run_ablation(cfg, out, progress=not args.quiet, jobs=args.jobs, side_tasks=side, device=args.device)
    recs = evaluate(expert, out / "scripted_expert", resume=True, progress=False)  # all kept: reads the records
    report = write_report(cfg, results, out, extra={"scripted expert (privileged state, no learning)": summarize(recs)},
                          wall_s=time.perf_counter() - t0)
    print(f"wrote {report} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0
