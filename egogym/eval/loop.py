"""The evaluation: `evaluate(config, out_dir)` runs episodes i = 0..episodes-1 with seeds
start_seed + i, in this process (`workers=1`) or in `workers` spawned processes
(`egogym.eval.workers`), and appends each finished episode's record to
`out_dir/episodes.jsonl` (see `egogym.eval.records`). With `resume=True` the seeds already
recorded are skipped. When every episode has a record the log is rewritten in seed order,
so its content does not depend on `workers` (except `wall_seconds`).

The pieces: `config` (EvalConfig, with `policy_spec`: what `--policy` names, parsed by
`egogym.policies.kinds`), `rollout` (one episode), `workers` (processes), `records` (the log),
`metrics` (intervals and tests).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from egogym.core.errors import UserError
from egogym.core.outputs import check_output, removed_if_failed, write_text_atomic
from egogym.eval.config import CONFIG_FILE, EPISODES_FILE, RESUME_INVARIANT, EvalConfig
from egogym.eval.records import RecordWriter, read_records, rewrite_sorted, truncate_to
from egogym.eval.rollout import EpisodeRunner
from egogym.eval.workers import run_parallel


def prepare_out_dir(config: EvalConfig, out_dir: Path, resume: bool) -> list[dict]:
    """Create or check `out_dir`; return the records already there (resume)."""
    check_output(out_dir, config.policy_spec.inputs(), kind="dir")
    log = out_dir / EPISODES_FILE
    cfg_path = out_dir / CONFIG_FILE
    if log.exists() and log.stat().st_size > 0 and not resume:
        raise UserError(f"{log} exists: pass --resume to continue that evaluation, or choose another --out")
    if resume and cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        new = config.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(EvalConfig)}  # fields newer than the log
        diff = [k for k in RESUME_INVARIANT if old.get(k, defaults.get(k)) != new.get(k)]
        if diff:
            k = diff[0]
            raise UserError(f"--resume: {out_dir} was evaluated with {k}={old.get(k)!r}, now {new.get(k)!r}; "
                            f"use the same setting or another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    records, intact = read_records(log)
    truncate_to(log, intact)
    write_text_atomic(cfg_path, json.dumps(config.to_dict(), indent=2) + "\n")
    return records


def evaluate(config: EvalConfig, out_dir: str | Path, resume: bool = False, progress: bool = True) -> list[dict]:
    """Run the evaluation; return the records of seeds start_seed .. start_seed+episodes-1, in seed order."""
    out_dir = Path(out_dir)
    check_output(out_dir, config.policy_spec.inputs(), kind="dir")
    # a first evaluation that fails before its first episode (a bad --cameras met when the env is
    # built) removes the folder it created: nothing is left behind for the corrected rerun
    with removed_if_failed(out_dir, keep=lambda: len(records) > 0):
        records: list[dict] = []
        return _evaluate(config, out_dir, resume, progress, records)


def _evaluate(config: EvalConfig, out_dir: Path, resume: bool, progress: bool, records: list[dict]) -> list[dict]:
    """`evaluate` once its folder is checked; `records` (filled here) holds every record, old and new."""
    done = prepare_out_dir(config, out_dir, resume)
    done_seeds = {r["seed"] for r in done}
    wanted = config.seeds  # a range: membership without a set of --episodes entries
    n_todo = config.episodes - sum(1 for s in done_seeds if s in wanted)
    todo = (s for s in wanted if s not in done_seeds)  # a generator: memory does not grow with --episodes
    records.extend(done)
    runner = EpisodeRunner(config, out_dir) if n_todo and config.workers == 1 else None  # fails early on bad input
    from tqdm import tqdm

    bar = tqdm(total=config.episodes, initial=config.episodes - n_todo, unit="ep", desc="eval",
               disable=not progress, dynamic_ncols=True)
    n_success = sum(r["success"] for r in done if r["seed"] in wanted)
    with RecordWriter(out_dir / EPISODES_FILE) as writer:
        def on_record(rec: dict) -> None:
            nonlocal n_success
            writer.append(rec)
            records.append(rec)
            n_success += rec["success"]
            bar.set_postfix(success=f"{n_success}/{bar.n + 1}", refresh=False)
            bar.update(1)

        try:
            if runner is not None:
                for s in todo:
                    on_record(runner.run(s))
            elif n_todo:
                run_parallel(config, out_dir, todo, n_todo, on_record)
        finally:
            bar.close()
            if runner is not None:
                runner.close()
    rewrite_sorted(out_dir / EPISODES_FILE, records)
    return sorted((r for r in records if r["seed"] in wanted), key=lambda r: r["seed"])
