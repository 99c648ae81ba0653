"""Parallel evaluation: `workers` spawned processes, each with its own env and policy (one
`EpisodeRunner`), fed seeds through a queue. Spawn, never fork: MuJoCo's EGL contexts and
torch's threads do not survive a fork."""
from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from pathlib import Path
from typing import Callable, Iterable

from egogym.core.errors import UserError
from egogym.eval.config import EvalConfig
from egogym.eval.rollout import EpisodeRunner


def _worker_main(config_dict: dict, out_dir: str, tasks, results) -> None:
    """Worker process: build env + policy, run seeds from `tasks` until None, close."""
    try:
        runner = EpisodeRunner(EvalConfig.from_dict(config_dict), out_dir)
    except BaseException as e:  # sent to the parent, which raises it
        results.put(("error", None, _describe(e)))
        return
    try:
        while True:
            seed = tasks.get()
            if seed is None:
                break
            try:
                results.put(("record", seed, runner.run(seed)))
            except BaseException as e:
                results.put(("error", seed, _describe(e)))
                break
    finally:
        runner.close()


def _describe(e: BaseException) -> str:
    if isinstance(e, UserError):
        return f"UserError: {e}"
    return "".join(traceback.format_exception(e))


def run_parallel(config: EvalConfig, out_dir: Path, seeds: Iterable[int], count: int,
                 on_record: Callable[[dict], None]) -> None:
    """Run the `count` seeds of `seeds` (an iterable, read lazily) in min(workers, count) spawned
    workers, calling `on_record` for each finished episode, in completion order."""
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    n = min(config.workers, count)
    seeds = iter(seeds)

    def feed(k: int) -> None:
        """Queue the next k seeds, then one stop per worker once they run out: the queue holds a few
        seeds ahead of the workers, never all of --episodes."""
        for _ in range(k):
            s = next(seeds, None)
            if s is None:
                if not feed.ended:
                    feed.ended = True
                    for _ in range(n):
                        tasks.put(None)
                return
            tasks.put(s)
    feed.ended = False
    feed(2 * n)
    procs = [ctx.Process(target=_worker_main, args=(config.to_dict(), str(out_dir), tasks, results), daemon=True)
             for _ in range(n)]
    for p in procs:
        p.start()
    try:
        remaining = count
        while remaining:
            try:
                kind, seed, payload = results.get(timeout=5.0)
            except queue.Empty:  # check that the workers are alive
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("all evaluation workers exited before finishing; see their output above")
                continue
            if kind == "error":
                if payload.startswith("UserError: "):
                    raise UserError(payload[len("UserError: "):])
                raise RuntimeError(f"evaluation worker failed on seed {seed}:\n{payload}")
            on_record(payload)
            remaining -= 1
            feed(1)
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
