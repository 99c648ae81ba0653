"""`egogym ablate CONFIG.toml --out ablations/NAME`: what is human data worth?

A grid over robot demos x human demos (plus optional ablation variants and the
equal-time / equal-episode controls), each cell trained with several training seeds,
then evaluated. Steps, each resumable:

1. data (in `OUT/data/`): `robot_<n>.hdf5` for every robot count n, recorded by the
   scripted expert with `egogym.data.collect.collect_robot` on the *robot* placement
   distribution (`[data] robot_task_options`), and `human_<m>.hdf5` for every human
   count m by the simulated human (`egogym collect --embodiment human`,
   `egogym.data.human_collect.collect_human`) on the full distribution; each file split
   with `egogym split`. A `.done` marker says a file is complete. Episode i of every
   file uses seed data.seed + i, so a smaller file holds the first episodes of a larger one.
2. cells (in `OUT/cells/<cell>/`): `egogym train` into `run/` (with `--resume` if a
   killed run left one), then `eval.loop.evaluate` into `eval/` on the *evaluation*
   distribution (`[eval] task_options`, default: the full task). `cell.json` is written
   last: a cell that has it is finished and a rerun skips it.
3. the report (`OUT/report.md`, `OUT/scaling.png`, `OUT/results.json`): success against
   human demos with Wilson intervals, the robot-only reference, two-proportion tests of
   co-trained vs robot-only, and the controls. When the robot demos' `toy_region` is a
   strict sub-region of the evaluation's, success is also split by where each evaluation
   episode's toy started (the record's `start`, see `eval.records`): inside the robot
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
import dataclasses
import difflib
import json
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egogym.cli import UserError
from eval.loop import EvalConfig, evaluate
from eval.metrics import summarize, two_proportion_test, wilson_interval

HUMAN_DEMOS_PER_HOUR = 1400  # REFERENCE §6
ROBOT_DEMOS_PER_HOUR = 135  # REFERENCE §6
CELL_FILE = "cell.json"


# ---- configuration --------------------------------------------------------------

@dataclass(frozen=True)
class DataConfig:
    robot: tuple[int, ...]  # robot demo counts (grid axis)
    human: tuple[int, ...]  # human demo counts (grid axis); 0 = robot-only
    seed: int = 0  # episode i of every data file uses seed + i
    robot_max_steps: int = 1000  # env steps per robot demo at most
    robot_stop_after_points: int | None = 1  # end a robot demo after this many points
    robot_task_options: dict = field(default_factory=dict)  # the robot demos' placement distribution

    def __post_init__(self):
        if not self.robot or min(self.robot) < 1:
            raise UserError("[data] robot: give robot demo counts, each at least 1")
        if not self.human or min(self.human) < 0:
            raise UserError("[data] human: give human demo counts (0 for robot-only)")


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "cpu"  # `egogym train --preset`
    steps: int = 2000  # optimizer steps per cell
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds, one run each
    args: tuple[str, ...] = ()  # extra `egogym train` arguments for every cell

    def __post_init__(self):
        if not self.seeds:
            raise UserError("[train] seeds: give at least one training seed")


@dataclass(frozen=True)
class EvalSection:
    episodes: int = 50  # evaluation episodes per cell (per training seed)
    seed: int = 100000  # seed of evaluation episode 0 (far from the data seeds)
    workers: int = 1
    max_steps: int | None = None  # None: the env's 2000
    loop_hz: float | None = None  # None: the env's 50 Hz
    task_options: dict = field(default_factory=dict)  # evaluation distribution; {}: the task's full one


@dataclass(frozen=True)
class Controls:
    equal_time: bool = True
    equal_episodes: bool = False


@dataclass(frozen=True)
class Ablation:
    name: str
    train_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class AblationConfig:
    data: DataConfig
    name: str = "ablation"
    task: str = "object_in_bowl"
    env_id: str = "egogym/ObjectInBowl-v0"
    image_size: tuple[int, int] = (64, 64)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalSection = field(default_factory=EvalSection)
    controls: Controls = field(default_factory=Controls)
    ablations: tuple[Ablation, ...] = ()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, d: Any, where: str):
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a table, got {d!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    for k in d:
        if k not in names:
            near = difflib.get_close_matches(k, list(names), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(names)}"
            raise UserError(f"{where}: unknown key {k!r}{hint}")
    kw = {}
    for k, v in d.items():
        if isinstance(v, list) and k not in ("robot_task_options", "task_options"):
            v = tuple(v)
        kw[k] = v
    try:
        return cls(**kw)
    except TypeError as e:
        raise UserError(f"{where}: {e}") from None


def load_config(path: str | Path) -> AblationConfig:
    """Read and validate an ablation TOML file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    return config_from_dict(raw, str(path))


def config_from_dict(raw: dict, where: str = "config") -> AblationConfig:
    raw = dict(raw)
    if "data" not in raw:
        raise UserError(f"{where}: needs a [data] table with robot = [...] and human = [...]")
    sub = {"data": DataConfig, "train": TrainConfig, "eval": EvalSection, "controls": Controls}
    for key, cls in sub.items():
        if key in raw:
            raw[key] = _build(cls, raw[key], f"{where} [{key}]")
    if "ablations" in raw:
        raw["ablations"] = tuple(_build(Ablation, a, f"{where} [[ablations]]") for a in raw["ablations"])
    if "image_size" in raw:
        raw["image_size"] = tuple(raw["image_size"])
    return _build(AblationConfig, raw, where)


# ---- the grid -------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One training configuration at one training seed."""

    robot: int
    human: int
    seed: int
    variant: str = "base"  # "base" or an ablation's name
    role: str = "grid"  # "grid", "equal_time", "equal_episodes", "ablation"
    train_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"r{self.robot}_h{self.human}_{self.variant}_s{self.seed}"


def plan_cells(cfg: AblationConfig) -> list[Cell]:
    """Every cell of the grid, the controls and the ablations (deduplicated by name)."""
    cells: dict[str, Cell] = {}

    def add(c: Cell) -> None:
        cells.setdefault(c.name, c)

    for s in cfg.train.seeds:
        for n in cfg.data.robot:
            for m in cfg.data.human:
                add(Cell(n, m, s))
            for m in cfg.data.human:
                if m == 0:
                    continue
                if cfg.controls.equal_time:
                    add(Cell(equal_time_robot(n, m), 0, s, role="equal_time"))
                if cfg.controls.equal_episodes:
                    add(Cell(n + m, 0, s, role="equal_episodes"))
        for a in cfg.ablations:
            add(Cell(max(cfg.data.robot), max(cfg.data.human), s, variant=a.name, role="ablation",
                     train_args=tuple(a.train_args)))
    return list(cells.values())


def equal_time_robot(n: int, m: int) -> int:
    """Robot demos that take as long to collect as n robot + m human demos (REFERENCE §6 rates)."""
    return n + int(round(m * ROBOT_DEMOS_PER_HOUR / HUMAN_DEMOS_PER_HOUR))


def collection_hours(n: int, m: int) -> float:
    return n / ROBOT_DEMOS_PER_HOUR + m / HUMAN_DEMOS_PER_HOUR


# ---- steps ----------------------------------------------------------------------

def _cli(argv: list[str], step: str) -> None:
    """Run an `egogym` subcommand in a child process; a failure stops with the step named."""
    cmd = [sys.executable, "-m", "egogym.cli", *argv]
    res = subprocess.run(cmd)
    if res.returncode != 0:
        raise UserError(f"{step} failed (exit {res.returncode}): {' '.join(argv)}")


def ensure_robot_data(cfg: AblationConfig, data_dir: Path, n: int, progress: bool) -> Path:
    """`robot_<n>.hdf5`, recorded (or resumed) and split; grown from the largest smaller file."""
    from egogym.data.collect import collect_robot

    out = data_dir / f"robot_{n}.hdf5"
    done = out.with_suffix(".done")
    if done.exists():
        return out
    if not out.exists():
        smaller = sorted(k for k in cfg.data.robot if k < n and (data_dir / f"robot_{k}.done").exists())
        if smaller:
            shutil.copyfile(data_dir / f"robot_{smaller[-1]}.hdf5", out)
    collect_robot(cfg.task, n, cfg.data.seed, out, image_size=cfg.image_size, resume=out.exists(),
                  max_steps=cfg.data.robot_max_steps, stop_after_points=cfg.data.robot_stop_after_points,
                  task_options=dict(cfg.data.robot_task_options) or None, progress=progress)
    _cli(["split", str(out), "--valid-fraction", "0.2", "--seed", "0"], f"egogym split {out}")
    done.write_text(json.dumps({"episodes": n, "seed": cfg.data.seed}) + "\n")
    return out


def ensure_human_data(cfg: AblationConfig, data_dir: Path, m: int, progress: bool) -> Path:
    """`human_<m>.hdf5` from the simulated human (recordings shared between sizes), split."""
    from egogym.data.human_collect import collect_human

    out = data_dir / f"human_{m}.hdf5"
    done = out.with_suffix(".done")
    if done.exists():
        return out
    if out.exists():
        out.unlink()  # an unfinished conversion: the recordings are kept, convert again
    args = argparse.Namespace(episodes=m, seed=cfg.data.seed, out=out, image_size=cfg.image_size,
                              no_progress=not progress, resume=False, recordings=data_dir / "human_recordings")
    code = collect_human(args)
    if code:
        raise UserError(f"human data collection for {out} failed (exit {code})")
    _cli(["split", str(out), "--valid-fraction", "0.2", "--seed", "0"], f"egogym split {out}")
    done.write_text(json.dumps({"episodes": m, "seed": cfg.data.seed}) + "\n")
    return out


def run_cell(cfg_dict: dict, cell_dict: dict, out_dir: str, progress: bool = False) -> dict:
    """Train and evaluate one cell (data must exist); write and return its cell.json content.

    Takes plain dicts so that it can run as a Ray task."""
    cfg = config_from_dict(cfg_dict)
    cell = Cell(**{**cell_dict, "train_args": tuple(cell_dict.get("train_args", ()))})
    root = Path(out_dir)
    cdir = root / "cells" / cell.name
    marker = cdir / CELL_FILE
    if marker.exists():
        return json.loads(marker.read_text())
    cdir.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    run_dir = cdir / "run"
    t0 = time.perf_counter()
    argv = ["train", "--preset", cfg.train.preset, "--robot", str(data / f"robot_{cell.robot}.hdf5"),
            "--out", str(run_dir), "--steps", str(cfg.train.steps), "--set", f"train.seed={cell.seed}",
            *cfg.train.args, *cell.train_args]
    if cell.human:
        argv[5:5] = ["--human", str(data / f"human_{cell.human}.hdf5")]
    if run_dir.exists():
        argv.append("--resume")
    if not progress:
        argv.append("--no-progress")
    _cli(argv, f"training of cell {cell.name}")
    train_s = time.perf_counter() - t0
    ev = EvalConfig(policy=str(run_dir), env_id=cfg.env_id, episodes=cfg.eval.episodes, start_seed=cfg.eval.seed,
                    task_options=dict(cfg.eval.task_options), image_size=tuple(cfg.image_size),
                    loop_hz=cfg.eval.loop_hz, max_steps=cfg.eval.max_steps, workers=cfg.eval.workers)
    t1 = time.perf_counter()
    records = evaluate(ev, cdir / "eval", resume=True, progress=progress)
    result = {"cell": dataclasses.asdict(cell), "name": cell.name, "summary": summarize(records),
              "train_seconds": train_s, "eval_seconds": time.perf_counter() - t1,
              "collection_hours": collection_hours(cell.robot, cell.human)}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(marker)
    return result


# ---- executors ------------------------------------------------------------------

def run_cells_local(cfg: AblationConfig, cells: list[Cell], out_dir: Path, progress: bool) -> list[dict]:
    results = []
    for i, c in enumerate(cells):
        state = "kept" if (out_dir / "cells" / c.name / CELL_FILE).exists() else "running"
        print(f"[{i + 1}/{len(cells)}] {c.name} ({c.role}): {state}", flush=True)
        results.append(run_cell(cfg.to_dict(), dataclasses.asdict(c), str(out_dir), progress))
    return results


def run_cells_ray(cfg: AblationConfig, cells: list[Cell], out_dir: Path, address: str | None,
                  runtime_env: dict | None = None) -> list[dict]:
    """Run the cells as Ray tasks (one CPU per evaluation worker each) and wait for all.

    address: a Ray cluster (None: start a local instance); runtime_env: Ray's runtime
    environment (env vars, setup hook, working dir). The output folder must be shared
    storage when the cluster has more than one machine."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install -e '.[ray]'") from None
    ray.init(address=address, runtime_env=runtime_env, ignore_reinit_error=True, include_dashboard=False)
    task = ray.remote(num_cpus=max(1, cfg.eval.workers))(run_cell)
    refs = [task.remote(cfg.to_dict(), dataclasses.asdict(c), str(out_dir.resolve()), False) for c in cells]
    return ray.get(refs)


# ---- the report -----------------------------------------------------------------

def pooled(results: list[dict]) -> dict:
    """Episodes pooled over training seeds: successes, episodes, rate, Wilson interval, per-seed rates."""
    k = sum(r["summary"]["successes"] for r in results)
    n = sum(r["summary"]["episodes"] for r in results)
    per_seed = [r["summary"]["success_rate"] for r in results]
    pts = [r["summary"]["mean_points"] for r in results]
    return {"successes": k, "episodes": n, "rate": k / n, "interval": list(wilson_interval(k, n)),
            "per_seed": per_seed, "mean_points": sum(pts) / len(pts), "seeds": len(results)}


def group_results(results: list[dict]) -> dict[tuple[int, int, str], dict]:
    groups: dict[tuple[int, int, str], list[dict]] = {}
    for r in results:
        c = r["cell"]
        groups.setdefault((c["robot"], c["human"], c["variant"]), []).append(r)
    return {k: pooled(v) for k, v in groups.items()}


# ---- success by start region ----------------------------------------------------

Region = tuple[tuple[float, float], tuple[float, float]]


def _region(value: Any) -> Region:
    (x0, x1), (y0, y1) = value
    return (float(x0), float(x1)), (float(y0), float(y1))


def split_regions(cfg: AblationConfig) -> tuple[Region, Region] | None:
    """(robot demos' toy_region, evaluation's toy_region), ((x_lo, x_hi), (y_lo, y_hi)) in
    metres, world frame, when the robot's is a strict sub-region of the evaluation's; else
    None (nothing to split: the robot demos cover every evaluation placement, or the task
    has no toy_region). Unset options are the task's defaults."""
    from egogym.tasks import make_task

    try:
        robot = getattr(make_task(cfg.task, **cfg.data.robot_task_options), "toy_region", None)
        evaluation = getattr(make_task(cfg.task, **cfg.eval.task_options), "toy_region", None)
    except (TypeError, ValueError) as e:
        raise UserError(f"[data] robot_task_options / [eval] task_options for task {cfg.task!r}: {e}") from None
    if robot is None or evaluation is None:
        return None
    r, e = _region(robot), _region(evaluation)
    inside = all(e[i][0] <= r[i][0] and r[i][1] <= e[i][1] for i in (0, 1))
    return (r, e) if inside and r != e else None


def in_region(xy: Any, region: Region) -> bool:
    """True if the point (x, y) (m, world) lies in region, borders included."""
    (x0, x1), (y0, y1) = region
    return x0 <= float(xy[0]) <= x1 and y0 <= float(xy[1]) <= y1


def cell_records(cfg: AblationConfig, result: dict, out_dir: Path) -> list[dict] | None:
    """The evaluation records of a finished cell (its evaluation seeds only), or None when
    the episode log is missing or any record lacks `start` (evaluated before records had it)."""
    from eval.loop import EPISODES_FILE
    from eval.records import read_records

    c = result["cell"]
    name = result.get("name") or f"r{c['robot']}_h{c['human']}_{c['variant']}_s{c['seed']}"
    records, _ = read_records(out_dir / "cells" / name / "eval" / EPISODES_FILE)
    wanted = range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes)
    records = [r for r in records if r["seed"] in wanted]
    if not records or any("toy_xy" not in r.get("start", {}) for r in records):
        return None
    return records


def _rate(records: list[dict]) -> dict:
    k, n = sum(bool(r["success"]) for r in records), len(records)
    return {"successes": k, "episodes": n, "rate": k / n if n else None,
            "interval": list(wilson_interval(k, n)) if n else None}


def start_split(cfg: AblationConfig, results: list[dict], out_dir: Path) -> dict | None:
    """Success by start region per (robot, human, variant), pooled over training seeds, and
    two-proportion tests of co-trained vs robot-only (same robot demos) on the episodes whose
    toy started outside the robot demos' region. None when `split_regions` is None. A group
    with a cell whose records lack `start` is marked not recorded (never guessed)."""
    regions = split_regions(cfg)
    if regions is None:
        return None
    robot_region, eval_region = regions
    by_group: dict[tuple[int, int, str], list[dict]] = {}
    for r in results:
        c = r["cell"]
        by_group.setdefault((c["robot"], c["human"], c["variant"]), []).append(r)
    groups: dict[tuple[int, int, str], dict] = {}
    for key, cells in sorted(by_group.items()):
        per_cell = [cell_records(cfg, r, out_dir) for r in cells]
        if any(p is None for p in per_cell):
            missing = sorted(r.get("name") or str(r["cell"]["seed"]) for r, p in zip(cells, per_cell) if p is None)
            groups[key] = {"recorded": False, "cells_without_start": missing}
            continue
        records = [x for p in per_cell for x in p]
        inside = [x for x in records if in_region(x["start"]["toy_xy"], robot_region)]
        outside = [x for x in records if not in_region(x["start"]["toy_xy"], robot_region)]
        groups[key] = {"recorded": True, "inside": _rate(inside), "outside": _rate(outside)}
    tests = []
    for (n, m, v), g in groups.items():
        ref = groups.get((n, 0, "base"))
        if m == 0 or v != "base" or not g["recorded"] or ref is None or not ref["recorded"]:
            continue
        a, b = ref["outside"], g["outside"]
        if a["episodes"] and b["episodes"]:
            t = two_proportion_test(a["successes"], a["episodes"], b["successes"], b["episodes"])
            tests.append({"cotrained": [n, m], "reference_cell": [n, 0], **t.to_dict()})
    return {"robot_toy_region": robot_region, "eval_toy_region": eval_region, "tests": tests,
            "groups": [{"robot": k[0], "human": k[1], "variant": k[2], **v} for k, v in groups.items()]}


def _split_lines(split: dict) -> list[str]:
    (rx0, rx1), (ry0, ry1) = split["robot_toy_region"]
    (ex0, ex1), (ey0, ey1) = split["eval_toy_region"]
    lines = ["", "## Success by where the toy started", "",
             f"Robot demos placed the toy in x {rx0:g}..{rx1:g}, y {ry0:g}..{ry1:g} m (world); the evaluation in "
             f"x {ex0:g}..{ex1:g}, y {ey0:g}..{ey1:g} m. Each evaluation episode is counted by its toy's start "
             "(the record's `start.toy_xy`): *inside* the robot demos' region, or *outside* it, where only human "
             "demos showed the toy. Pooled over training seeds, Wilson 95% intervals.", "",
             "| robot demos | human demos | variant | inside: success | inside 95% CI | outside: success | "
             "outside 95% CI |", "|---|---|---|---|---|---|---|"]

    def cell(p: dict) -> tuple[str, str]:
        if not p["episodes"]:
            return "no episodes", "-"
        return (f"{p['successes']}/{p['episodes']} = {p['rate']:.1%}",
                f"{p['interval'][0]:.1%}-{p['interval'][1]:.1%}")

    for g in split["groups"]:
        head = f"| {g['robot']} | {g['human']} | {g['variant']} |"
        if not g["recorded"]:
            lines.append(f"{head} not recorded | - | not recorded | - |")
            continue
        (si, ci), (so, co) = cell(g["inside"]), cell(g["outside"])
        lines.append(f"{head} {si} | {ci} | {so} | {co} |")
    if any(not g["recorded"] for g in split["groups"]):
        lines += ["", "Not recorded: these cells were evaluated before episode records carried the start "
                      "placement; only a new evaluation of their policies with this version can split them."]
    if split["tests"]:
        lines += ["", "Co-trained vs robot-only (same robot demos) on the *outside* episodes: two-sided "
                      "two-proportion z test (pooled) and Fisher's exact test; difference = co-trained - robot-only.",
                  "", "| co-trained (robot, human) | robot-only (robot, human) | difference | p (z) | p (Fisher) |",
                  "|---|---|---|---|---|"]
        for t in split["tests"]:
            lines.append(f"| {tuple(t['cotrained'])} | {tuple(t['reference_cell'])} | {t['difference']:+.1%} | "
                         f"{t['p_value']:.3g} | {t['fisher_p_value']:.3g} |")
    return lines


def write_report(cfg: AblationConfig, results: list[dict], out_dir: Path, extra: dict | None = None,
                 wall_s: float | None = None) -> Path:
    """report.md, scaling.png and results.json from finished cells."""
    g = group_results(results)
    lines = [f"# Ablation `{cfg.name}`: what is human data worth?", ""]
    lines += [f"Task `{cfg.task}` ({cfg.env_id}), images {cfg.image_size[0]}x{cfg.image_size[1]}; "
              f"training preset `{cfg.train.preset}`, {cfg.train.steps} steps, seeds {list(cfg.train.seeds)}; "
              f"evaluation: {cfg.eval.episodes} episodes per training seed from seed {cfg.eval.seed}.",
              "", f"Robot demos placement: `{cfg.data.robot_task_options or 'full task distribution'}`; human demos: "
              f"the full distribution; evaluation: `{cfg.eval.task_options or 'full task distribution'}`.", ""]
    if wall_s is not None:
        lines += [f"Wall time of this invocation: {wall_s / 60:.1f} min.", ""]
    lines += ["Success rates pool the evaluation episodes of all training seeds (Wilson 95% interval); "
              "the per-seed rates show the spread between training runs, which the pooled interval does not include.",
              "", "| robot demos | human demos | variant | collection h | success | 95% CI | per seed | mean points |",
              "|---|---|---|---|---|---|---|---|"]
    for (n, m, v), p in sorted(g.items()):
        lines.append(f"| {n} | {m} | {v} | {collection_hours(n, m):.2f} | {p['successes']}/{p['episodes']} = "
                     f"{p['rate']:.1%} | {p['interval'][0]:.1%}-{p['interval'][1]:.1%} | "
                     f"{', '.join(f'{x:.0%}' for x in p['per_seed'])} | {p['mean_points']:.2f} |")
    tests = []
    for (n, m, v), p in sorted(g.items()):
        if m == 0 or v != "base":
            continue
        refs = [("robot-only, same robot demos", (n, 0, "base"))]
        refs.append(("equal time (robot-only)", (equal_time_robot(n, m), 0, "base")))
        refs.append(("equal episodes (robot-only)", (n + m, 0, "base")))
        for label, key in refs:
            if key in g:
                b = g[key]
                t = two_proportion_test(b["successes"], b["episodes"], p["successes"], p["episodes"])
                tests.append({"cotrained": [n, m], "reference": label, "reference_cell": list(key[:2]), **t.to_dict()})
    if tests:
        lines += ["", "## Co-trained vs robot-only", "",
                  "Two-sided two-proportion z test (pooled) and Fisher's exact test; difference = co-trained - reference.",
                  "", "| co-trained (robot, human) | reference | reference (robot, human) | difference | p (z) | p (Fisher) |",
                  "|---|---|---|---|---|---|"]
        for t in tests:
            lines.append(f"| {tuple(t['cotrained'])} | {t['reference']} | {tuple(t['reference_cell'])} | "
                         f"{t['difference']:+.1%} | {t['p_value']:.3g} | {t['fisher_p_value']:.3g} |")
    split = start_split(cfg, results, out_dir)
    if split is not None:
        lines += _split_lines(split)
    if extra:
        lines += ["", "## Reference evaluations", ""]
        for label, s in extra.items():
            lo, hi = s["success_rate_interval"]
            lines.append(f"- {label}: {s['successes']}/{s['episodes']} = {s['success_rate']:.1%} "
                         f"(95% CI {lo:.1%}-{hi:.1%}), mean points {s['mean_points']:.2f}")
    lines += ["", f"Controls use REFERENCE §6: 1 h of hand data ≈ {HUMAN_DEMOS_PER_HOUR} demos, 1 h of robot data "
              f"≈ {ROBOT_DEMOS_PER_HOUR}. Equal time: robot-only with n + m·{ROBOT_DEMOS_PER_HOUR}/"
              f"{HUMAN_DEMOS_PER_HOUR} robot demos; equal episodes: n + m.", "", "![scaling](scaling.png)", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    plot_scaling(cfg, g, out_dir / "scaling.png")
    (out_dir / "results.json").write_text(json.dumps(
        {"config": cfg.to_dict(), "cells": results, "tests": tests, "extra": extra or {}, "start_split": split,
         "groups": [{"robot": k[0], "human": k[1], "variant": k[2], **v} for k, v in sorted(g.items())]},
        indent=2) + "\n")
    return report


def plot_scaling(cfg: AblationConfig, g: dict, path: Path) -> None:
    """Success against human demos, one line per robot count, Wilson intervals as error bars;
    robot-only references as dashed lines, equal-time controls as crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    humans = sorted(cfg.data.human)
    for i, n in enumerate(sorted(cfg.data.robot)):
        col = colours[i % len(colours)]
        xs, ys, lo, hi = [], [], [], []
        for m in humans:
            p = g.get((n, m, "base"))
            if p is None:
                continue
            xs.append(m)
            ys.append(p["rate"])
            lo.append(p["rate"] - p["interval"][0])
            hi.append(p["interval"][1] - p["rate"])
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, color=col, label=f"{n} robot demos")
        ref = g.get((n, 0, "base"))
        if ref is not None:
            ax.axhline(ref["rate"], color=col, ls="--", lw=0.8)
        for m in humans:
            c = g.get((equal_time_robot(n, m), 0, "base")) if m else None
            if c is not None and equal_time_robot(n, m) != n:
                ax.plot([m], [c["rate"]], "x", color=col, ms=8)
    ax.set_xlabel("human demos (simulated Aria)")
    ax.set_ylabel("success rate (95% Wilson CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{cfg.name}: dashed = robot-only, x = equal-time robot-only")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- command --------------------------------------------------------------------

def run_ablation(cfg: AblationConfig, out_dir: Path, executor: str = "local", ray_address: str | None = None,
                 progress: bool = True, ray_runtime_env: dict | None = None) -> tuple[list[dict], Path]:
    """Data, then every cell (kept if finished), then the report; returns (cell results, report path)."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = out_dir / "ablation_config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if old != json.loads(json.dumps(cfg.to_dict())):
            raise UserError(f"{out_dir} holds an ablation with another config ({cfg_path}); use another --out")
    cfg_path.write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    cells = plan_cells(cfg)
    data = out_dir / "data"
    data.mkdir(exist_ok=True)
    for n in sorted({c.robot for c in cells}):
        ensure_robot_data(cfg, data, n, progress)
    for m in sorted({c.human for c in cells if c.human}):
        ensure_human_data(cfg, data, m, progress)
    if executor == "ray":
        results = run_cells_ray(cfg, cells, out_dir, ray_address, ray_runtime_env)
    else:
        results = run_cells_local(cfg, cells, out_dir, progress)
    report = write_report(cfg, results, out_dir, wall_s=time.perf_counter() - t0)
    return results, report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG.toml", help="the grid (see `eval.ablate`'s docstring)")
    p.add_argument("--out", required=True, help="output folder (ablations/NAME); a rerun skips finished cells")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="run cells one after another (local) or as Ray tasks (pip install -e '.[ray]')")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local instance)")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    _, report = run_ablation(cfg, Path(args.out), args.executor, args.ray_address, progress=not args.quiet)
    print(f"wrote {report}")
    return 0
