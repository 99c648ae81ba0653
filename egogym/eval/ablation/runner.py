"""Running an ablation: the data files, each cell's training and evaluation, the executors
(local or Ray), and `run_ablation`, which does them in order and writes the report.

Collection, splitting and evaluation are called as functions; training runs as an
`egogym train` child process (`_cli`), so that torch's threads and memory are its own.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from egogym.core.outputs import write_text_atomic
from egogym.core.errors import UserError
from egogym.core.provenance import machine
from egogym.data.commands import split_file
from egogym.eval.ablation.config import AblationConfig, config_from_dict
from egogym.eval.ablation.plan import Cell, collection_hours, drive_named, plan_cells
from egogym.eval.ablation.report import write_report
from egogym.eval.config import EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.metrics import summarize
from egogym.policies.kinds import trained_run_kind

CELL_FILE = "cell.json"
VALID_FRACTION, SPLIT_SEED = 0.1, 0  # every data file's train/valid split (the recipe's, docs/POLICIES.md)


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent exits (PR_SET_PDEATHSIG), so a
    killed `egogym ablate` leaves no pool worker or training child writing into the files a
    resumed run will write (elsewhere: nothing; stop the whole process group there)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def _cli(argv: list[str], step: str) -> None:
    """Run an `egogym` subcommand in a child process; a failure stops with the step named."""
    cmd = [sys.executable, "-m", "egogym.cli", *argv]
    res = subprocess.run(cmd, preexec_fn=die_with_parent)
    if res.returncode != 0:
        raise UserError(f"{step} failed (exit {res.returncode}): {' '.join(argv)}")


def ensure_robot_data(cfg: AblationConfig, data_dir: Path, n: int, progress: bool) -> Path:
    """`robot_<n>.hdf5`, recorded (or resumed) and split; grown from the largest finished
    smaller file (episode i has seed `seed + i` in all of them, so robot_n's demos are the
    first n of any larger file)."""
    from egogym.pipelines.collect import collect_robot

    out = data_dir / f"robot_{n}.hdf5"
    done = out.with_suffix(".done")
    if done.exists():
        return out
    if not out.exists():
        smaller = sorted(k for k in (int(p.stem.split("_")[1]) for p in data_dir.glob("robot_*.done")) if k < n)
        if smaller:
            shutil.copyfile(data_dir / f"robot_{smaller[-1]}.hdf5", out)
    collect_robot(cfg.task, n, cfg.data.seed, out, image_size=cfg.image_size, resume=out.exists(),
                  max_steps=cfg.data.robot_max_steps, stop_after_points=cfg.data.robot_stop_after_points,
                  task_options=dict(cfg.data.robot_task_options) or None, progress=progress)
    split_file(out, VALID_FRACTION, SPLIT_SEED)
    write_text_atomic(done, json.dumps({"episodes": n, "seed": cfg.data.seed}) + "\n")
    return out


def ensure_human_data(cfg: AblationConfig, data_dir: Path, m: int, progress: bool) -> Path:
    """`human_<m>.hdf5` from the simulated human (recordings shared between sizes), split."""
    from egogym.pipelines.human import collect_human

    out = data_dir / f"human_{m}.hdf5"
    done = out.with_suffix(".done")
    if done.exists():
        return out
    if out.exists():
        out.unlink()  # an unfinished conversion: the recordings are kept, convert again
    code = collect_human(m, cfg.data.seed, out, cfg.image_size, progress=progress,
                         recordings=data_dir / "human_recordings",
                         task_options=dict(cfg.data.human_task_options) or None,
                         demonstrator=cfg.data.human_demonstrator, head=cfg.data.human_head,
                         hand=cfg.data.human_hand, motion=cfg.data.human_motion, rest=cfg.data.human_rest,
                         horizon=cfg.data.human_horizon, point=cfg.data.human_point,
                         tracking_dropout=cfg.data.human_tracking_dropout, fps=cfg.data.human_fps,
                         replay_steps=cfg.data.human_replay_steps, picks=cfg.data.human_picks,
                         fill_gaps=cfg.data.human_fill_gaps)
    if code:
        raise UserError(f"human data collection for {out} failed (exit {code})")
    split_file(out, VALID_FRACTION, SPLIT_SEED)
    write_text_atomic(done, json.dumps({"episodes": m, "seed": cfg.data.seed}) + "\n")
    return out


def run_normalization(run_dir: Path, cfg: AblationConfig, cell: Cell) -> str:
    """The normalization a cell's run trained with: its config.json's, or, where the run left
    none (a stubbed trainer), what the cell's command line asked for (the last --set wins)."""
    path = run_dir / "config.json"
    if path.exists():
        return json.loads(path.read_text())["train"].get("normalization", "per_domain")
    key = "train.normalization="
    asked = [a[len(key):] for a in (*cfg.train.args, *cell.train_args) if a.startswith(key)]
    return (asked or [cfg.train.normalization])[-1]


def run_cell(cfg_dict: dict, cell_dict: dict, out_dir: str, progress: bool = False, device: str = "auto") -> dict:
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
    run_dir = root / "cells" / cell.base.name / "run"  # a drive cell evaluates its base cell's run
    policy = trained_run_kind(drive_named(cell.variant)).for_run(run_dir).text
    t0 = time.perf_counter()
    human = ["--human", str(data / f"human_{cell.human}.hdf5")] if cell.human else []
    argv = ["train", "--preset", cfg.train.preset, "--robot", str(data / f"robot_{cell.robot}.hdf5"), *human,
            "--out", str(run_dir), "--steps", str(cfg.train.steps), "--set", f"train.seed={cell.seed}",
            "--device", device, "--set", f"train.normalization={cfg.train.normalization}", *cfg.train.args,
            *cell.train_args]
    if (run_dir / "LATEST").exists():
        argv.append("--resume")  # a finished run is a no-op: how a drive cell finds its base trained
    elif run_dir.exists():  # killed before its first checkpoint: set its logs aside, train afresh
        n = len(list(run_dir.parent.glob(run_dir.name + ".aborted*")))
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.aborted{n}"))
    if not progress:
        argv.append("--no-progress")
    _cli(argv, f"training of cell {cell.name}")
    train_s = time.perf_counter() - t0
    ev = EvalConfig(policy=policy, env_id=cfg.env_id, episodes=cfg.eval.episodes, start_seed=cfg.eval.seed,
                    task_options=dict(cfg.eval.task_options), image_size=tuple(cfg.image_size),
                    loop_hz=cfg.eval.loop_hz, max_steps=cfg.eval.max_steps, workers=cfg.eval.workers,
                    stop_on_success=cfg.eval.stop_on_success, device=device)
    t1 = time.perf_counter()
    records = evaluate(ev, cdir / "eval", resume=True, progress=progress)
    result = {"cell": dataclasses.asdict(cell), "name": cell.name, "summary": summarize(records),
              "normalization": run_normalization(run_dir, cfg, cell),
              "train_seconds": train_s, "eval_seconds": time.perf_counter() - t1,
              "collection_hours": collection_hours(cell.robot, cell.human), "machine": machine()}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(marker)
    return result


# ---- executors ------------------------------------------------------------------

def ensure_data_file(cfg: AblationConfig, data_dir: Path, kind: str, n: int, progress: bool) -> Path:
    """`<kind>_<n>.hdf5` ("robot" / "human"), collected unless finished."""
    return (ensure_robot_data if kind == "robot" else ensure_human_data)(cfg, data_dir, n, progress)


def ensure_cell_data(cfg: AblationConfig, data_dir: Path, cell: Cell, progress: bool) -> None:
    for kind, n in cell.data_files:
        ensure_data_file(cfg, data_dir, kind, n, progress)


def _collect_file(cfg_dict: dict, data_dir: str, kind: str, n: int) -> None:
    """`ensure_data_file` as a pool task (plain arguments)."""
    ensure_data_file(config_from_dict(cfg_dict), Path(data_dir), kind, n, False)


def run_cells_local(cfg: AblationConfig, cells: list[Cell], out_dir: Path, progress: bool,
                    jobs: int = 1, side_tasks: tuple = (), device: str = "auto") -> list[dict]:
    """The cells on this machine, each with its data collected when it is first needed (a long
    grid starts training at once; its first cells do not wait for the largest data files).

    jobs=1: one thing at a time, in plan order. jobs>1, for a machine with a free core per
    job: up to `jobs` tasks at once, each in its own process, where a task is a cell whose
    data files and base cell are done, or else the next data file (robot files one at a
    time, as they grow from each other; human files one at a time, as they share
    recordings). So data is collected beside training, not before it.

    side_tasks: (label, function, args) run in a free slot when no grid task can start (the
    quick start's scripted-expert evaluation fills the wait for the robot data); with jobs=1,
    after the cells."""
    if jobs > 1:
        return _run_cells_parallel(cfg, cells, out_dir, jobs, side_tasks, device)
    results = []
    for i, c in enumerate(cells):
        kept = (out_dir / "cells" / c.name / CELL_FILE).exists()
        print(f"[{i + 1}/{len(cells)}] {c.name} ({c.role}): {'kept' if kept else 'running'}", flush=True)
        if not kept:
            ensure_cell_data(cfg, out_dir / "data", c, progress)
        results.append(run_cell(cfg.to_dict(), dataclasses.asdict(c), str(out_dir), progress, device))
    for label, fn, args in side_tasks:
        print(f"{label}: running", flush=True)
        fn(*args)
    return results


def next_task(todo: list[Cell], have: set, chains: dict[str, list[int]], busy: set[str],
              finished: set[str]) -> tuple | None:
    """The first task in plan order that can start now: ("cell", cell) for a cell whose data
    files are in `have` and whose base cell (for a drive cell) is `finished`, or ("data",
    kind, n) for the next file of an idle `kind` chain that the first waiting cell needs
    (its own, or one before it in the chain); None when nothing can start."""
    for c in todo:
        if all(f in have for f in c.data_files) and (c.role != "drive" or c.base.name in finished):
            return ("cell", c)
        kind = next((k for k, n in c.data_files if (k, n) not in have and k not in busy), None)
        if kind is not None:
            return ("data", kind, chains[kind][0])
    return None


def _run_cells_parallel(cfg: AblationConfig, cells: list[Cell], out_dir: Path, jobs: int,
                        side_tasks: tuple = (), device: str = "auto") -> list[dict]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    d, data = cfg.to_dict(), out_dir / "data"
    results: dict[str, dict] = {}
    todo = []
    for c in cells:
        marker = out_dir / "cells" / c.name / CELL_FILE
        if marker.exists():
            results[c.name] = json.loads(marker.read_text())
        else:
            todo.append(c)
    have = {f for c in todo for f in c.data_files if (data / f"{f[0]}_{f[1]}.done").exists()}
    chains: dict[str, list[int]] = {"robot": [], "human": []}  # files in order of first need
    for c in todo:
        for kind, n in c.data_files:
            if (kind, n) not in have and n not in chains[kind]:
                chains[kind].append(n)

    running: dict = {}
    side = list(side_tasks)
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{(time.perf_counter() - t0) / 60:6.1f} min] {msg}", flush=True)

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent) as pool:
        while todo or running or side:
            while len(running) < jobs:
                busy = {w[1] for w in running.values() if w[0] == "data"}
                task = next_task(todo, have, chains, busy, set(results))
                if task is None and side:
                    label, fn, args = side.pop(0)
                    running[pool.submit(fn, *args)] = ("side", label)
                    say(f"{label}: running")
                    continue
                if task is None:
                    break
                if task[0] == "cell":
                    todo.remove(task[1])
                    running[pool.submit(run_cell, d, dataclasses.asdict(task[1]), str(out_dir), False, device)] = task
                    say(f"{task[1].name} ({task[1].role}): running ({len(results)} of {len(cells)} cells done)")
                else:
                    chains[task[1]].pop(0)
                    running[pool.submit(_collect_file, d, str(data), task[1], task[2])] = task
                    say(f"{task[1]}_{task[2]}.hdf5: collecting")
            if not running:
                raise RuntimeError(f"{out_dir}: cells {[c.name for c in todo]} wait for nothing that runs")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                what = running.pop(f)
                res = f.result()  # a failed task stops the grid here, naming its step
                if what[0] == "cell":
                    results[what[1].name] = res
                    s = res["summary"]
                    say(f"{what[1].name}: {s['successes']}/{s['episodes']} successes")
                elif what[0] == "side":
                    say(f"{what[1]}: done")
                else:
                    have.add(what[1:])
                    say(f"{what[1]}_{what[2]}.hdf5: done")
    return [results[c.name] for c in cells]


def run_cells_ray(cfg: AblationConfig, cells: list[Cell], out_dir: Path, address: str | None,
                  runtime_env: dict | None = None, device: str = "auto") -> list[dict]:
    """Run the cells as Ray tasks (one CPU per evaluation worker each) and wait for all;
    every data file is collected first, here.

    address: a Ray cluster (None: start a local instance); runtime_env: Ray's runtime
    environment (env vars, setup hook, working dir). The output folder must be shared
    storage when the cluster has more than one machine."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install -e '.[ray]'") from None
    for c in cells:
        ensure_cell_data(cfg, out_dir / "data", c, progress=True)
    ray.init(address=address, runtime_env=runtime_env, ignore_reinit_error=True, include_dashboard=False)
    task = ray.remote(num_cpus=max(1, cfg.eval.workers))(run_cell)
    def launch(batch):
        return ray.get([task.remote(cfg.to_dict(), dataclasses.asdict(c), str(out_dir.resolve()), False, device)
                        for c in batch])

    # drive cells evaluate their base cells' runs: those are trained first
    return launch([c for c in cells if c.role != "drive"]) + launch([c for c in cells if c.role == "drive"])



# ---- command--------------------------------------------------------------------

CONFIG_FILE = "ablation_config.json"


def check_config(cfg: AblationConfig, out_dir: Path) -> None:
    """Refuse an output folder that holds another grid. A config that only appends ablations or
    training seeds to the folder's (every other field, the earlier ablations and seeds unchanged)
    grows it: its finished cells are the same runs."""
    cfg_path = out_dir / CONFIG_FILE
    if not cfg_path.exists():
        return
    # Read back through the config class, so that a field added since (with its default) is no difference.
    old = json.loads(json.dumps(config_from_dict(json.loads(cfg_path.read_text()), str(cfg_path)).to_dict()))
    new = json.loads(json.dumps(cfg.to_dict()))
    appended = [(old.pop("ablations"), new.pop("ablations")), (old["train"].pop("seeds"), new["train"].pop("seeds"))]
    if old != new or any(b[:len(a)] != a for a, b in appended):
        raise UserError(f"{out_dir} holds an ablation with another config ({cfg_path}); use another --out "
                        f"(or only append [[ablations]] or [train] seeds to its config)")


def write_partial_report(cfg: AblationConfig, out_dir: Path) -> Path:
    """The report of the cells finished so far (a grid still running, or stopped), marked partial."""
    if not (out_dir / CONFIG_FILE).exists():
        raise UserError(f"{out_dir}: no ablation here (no ablation_config.json); give the --out of a started grid")
    check_config(cfg, out_dir)
    cells = plan_cells(cfg)
    results = [json.loads(m.read_text()) for c in cells if (m := out_dir / "cells" / c.name / CELL_FILE).exists()]
    if not results:
        raise UserError(f"{out_dir}: no cell has finished yet; run the report again once one has")
    return write_report(cfg, results, out_dir, planned=len(cells))


def run_ablation(cfg: AblationConfig, out_dir: Path, executor: str = "local", ray_address: str | None = None,
                 progress: bool = True, ray_runtime_env: dict | None = None, jobs: int = 1,
                 side_tasks: tuple = (), device: str = "auto") -> tuple[list[dict], Path]:
    """Data, then every cell (kept if finished), then the report; returns (cell results, report path).

    jobs: cells at once with the local executor (`run_cells_local`); side_tasks: see there
    (the ray executor runs them here, after the cells); device: where each cell trains and
    evaluates (`--device`, a run-time choice: not part of the config a rerun must match)."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    check_config(cfg, out_dir)
    write_text_atomic(out_dir / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")
    cells = plan_cells(cfg)
    (out_dir / "data").mkdir(exist_ok=True)
    if executor == "ray":
        results = run_cells_ray(cfg, cells, out_dir, ray_address, ray_runtime_env, device)
        for _, fn, args in side_tasks:
            fn(*args)
    else:
        results = run_cells_local(cfg, cells, out_dir, progress, jobs, side_tasks, device)
    report = write_report(cfg, results, out_dir, wall_s=time.perf_counter() - t0)
    return results, report
