"""`egogym ablate CONFIG.toml|NAME --out ablations/NAME`: what is human data worth?

A grid over robot demos x human demos (plus optional ablation variants and the
equal-time / equal-episode controls), each cell trained with several training seeds,
then evaluated. Steps, each resumable:

1. data (in `OUT/data/`): `robot_<n>.hdf5` for every robot count n, recorded by the
   scripted expert with `egogym.pipelines.collect.collect_robot` on the *robot* placement
   distribution (`[data] robot_task_options`), and `human_<m>.hdf5` for every human
   count m by the simulated human (`egogym collect --embodiment human`,
   `egogym.pipelines.human.collect_human`) on the human distribution (`[data]
   human_task_options`, default: the full task); each file split
   with `egogym split`. A `.done` marker says a file is complete. Episode i of every
   file uses seed data.seed + i, so a smaller file holds the first episodes of a larger one.
2. cells (in `OUT/cells/<cell>/`): `egogym train` into `run/` (with `--resume` if a
   killed run left one), then `egogym.eval.loop.evaluate` into `eval/` on the *evaluation*
   distribution (`[eval] task_options`, default: the full task). `cell.json` is written
   last: a cell that has it is finished and a rerun skips it.
3. the report (`OUT/report.md`, `OUT/scaling.png`, `OUT/results.json`): success against
   human demos with Wilson intervals, the robot-only reference, two-proportion tests of
   co-trained vs robot-only, and the controls. When the robot demos' `toy_region` is a
   strict sub-region of the evaluation's, success is also split by where each evaluation
   episode's toy started (the record's `start`, see `egogym.eval.records`): inside the robot
   demos' region, or outside it (covered by human demos only), with a two-proportion test
   of co-trained vs robot-only on the outside episodes (`start_split`).

Controls (REFERENCE §6: one hour of hand data is about 1,400 demos, one hour of robot
teleoperation about 135): for a co-trained cell (n robot, m human),
- equal time: robot-only with n + round(m * 135 / 1400) robot demos, i.e. the hours
  spent on human video spent on robot teleoperation instead;
- equal episodes: robot-only with n + m robot demos (a human demo replaced by a robot one).

Config (TOML; every key optional unless marked):

    name = "cpu"
    task = "object_in_bowl"
    env_id = "egogym/ObjectInBowl-v0"
    image_size = [64, 64]                 # data and evaluation images (H, W)
    [data]
    robot = [10, 20]                      # required: robot demo counts
    human = [0, 50, 100]                  # required: human demo counts (0: robot-only)
    seed = 0
    robot_max_steps = 1000                # per robot demo
    robot_stop_after_points = 1           # a robot demo ends after its first point
    robot_task_options = {toy_region = [[0.08, 0.19], [-0.36, -0.02]], bowl_region = [[0.08, 0.30], [-0.36, -0.02]]}
    human_task_options = {toy_colours = ["red", "blue", "green"]}  # e.g. colours only humans show
    [train]
    preset = "cpu"
    steps = 2000
    seeds = [0, 1, 2]
    args = []                             # extra `egogym train` arguments for every cell
    [eval]
    episodes = 50
    seed = 100000
    workers = 2
    max_steps = 2000
    loop_hz = 50
    task_options = {}                     # evaluation distribution (default: the task's full one)
                                          # Each *_task_options table holds options of the task's declaration:
                                          # placement (toy_region, bowl_region, ...), toys, and the appearance
                                          # axes toy_colours, table_colours, lights, distractors (egogym.tasks).
    stop_on_success = false               # end an episode at its first success (success rates only)
    [controls]
    equal_time = true
    equal_episodes = false
    [[ablations]]                         # optional variants, run at the largest (robot, human) cell
    name = "no_mask_no_line"              # the raw Aria image instead of EgoMimic's masked + line one
    train_args = ["--set", "model.front_key=front_img_1"]
    [[ablations]]
    name = "no_line"
    train_args = ["--set", "model.front_key=front_img_1_masked"]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from egogym.core.bounds import MAX_WORKERS, int_flag
from egogym.core.errors import UserError
from egogym.core.outputs import check_output

from egogym.eval.ablation.config import AblationConfig, config_from_dict, load_config
from egogym.eval.ablation.plan import Cell, equal_time_robot, plan_cells
from egogym.eval.ablation.report import write_report
from egogym.eval.ablation.runner import run_ablation, write_partial_report
from egogym.policies.config import DEVICE_HELP, check_device


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG.toml", help="the grid: a TOML file (see `egogym.eval.ablation`'s docstring) or a built-in name (cpu)")
    p.add_argument("--out", required=True, help="output folder (ablations/NAME); a rerun skips finished cells")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="run cells one after another (local) or as Ray tasks (pip install -e '.[ray]')")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local instance)")
    p.add_argument("--jobs", type=int_flag("--jobs", 1, MAX_WORKERS), default=1,
                   help="local executor: cells trained at once, 1 torch thread each (more only on a machine "
                        "with a free core per job: on a shared one they slow each other down)")
    p.add_argument("--report", action="store_true",
                   help="only write the report of the cells finished so far (the grid may still be running)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give at least 1")
    if args.jobs > 1 and args.executor != "local":
        raise UserError("--jobs is for --executor local; Ray places its tasks itself")
    cfg = load_config(args.config)
    if args.report:
        print(f"wrote {write_partial_report(cfg, Path(args.out))}")
        return 0
    out = check_output(args.out, [args.config] if Path(args.config).is_file() else [], kind="dir")
    _, report = run_ablation(cfg, out, args.executor, args.ray_address, progress=not args.quiet, jobs=args.jobs,
                             device=check_device(args.device))
    print(f"wrote {report}")
    return 0


__all__ = ["AblationConfig", "Cell", "config_from_dict", "equal_time_robot", "load_config", "plan_cells",
           "run_ablation", "write_report"]
