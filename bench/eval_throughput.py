"""Evaluation throughput: episodes per minute with 1 and 2 workers, in one run.

    python bench/eval_throughput.py [--episodes 8] [--max-steps 500] [--image-size 64 64]

Runs the scripted expert on egogym/ObjectInBowl-v0 through `egogym.eval.loop.evaluate` (the
code `egogym eval` runs) with workers=1, then workers=2 (spawned processes), on the same
seeds, and prints episodes/minute for each and the ratio (target: >= 1.8x on 2 cores).
Wall time is measured around the whole evaluation, worker start-up included; the
records of both runs are checked to be identical (except wall time).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from egogym.eval.config import EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.records import comparable


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=500, help="env steps per episode (50 Hz)")
    p.add_argument("--image-size", type=int, nargs=2, default=(64, 64))
    p.add_argument("--cameras", nargs="+", default=["front_img_1", "right_wrist_img"])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f} "
          f"(1 min; other processes share these cores)")
    print(f"scripted expert, {args.episodes} episodes x {args.max_steps} steps, cameras {args.cameras} "
          f"at {args.image_size[0]}x{args.image_size[1]}")
    rates, records = {}, {}
    for k in args.workers:
        cfg = EvalConfig(policy="scripted", episodes=args.episodes, start_seed=1000, max_steps=args.max_steps,
                         image_size=tuple(args.image_size), cameras=tuple(args.cameras), workers=k)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            records[k] = evaluate(cfg, out, progress=False)
            wall = time.perf_counter() - t0
        rates[k] = args.episodes / wall * 60
        steps_s = args.episodes * args.max_steps / wall
        print(f"workers={k}: {wall:7.1f} s wall, {rates[k]:6.2f} episodes/min, {steps_s:6.1f} env steps/s, "
              f"load average now {os.getloadavg()[0]:.2f}")
    base = args.workers[0]
    for k in args.workers[1:]:
        same = comparable(records[k]) == comparable(records[base])
        print(f"ratio workers={k} / workers={base}: {rates[k] / rates[base]:.2f}x (target >= 1.8x); "
              f"records identical: {same}")


if __name__ == "__main__":
    main()
