"""Evaluation throughput: what rendering costs a trained policy, and 1 vs 2 workers.

    python bench/eval_throughput.py [--episodes 8] [--max-steps 500] [--image-size 64 64] [--skip-workers]

Part 1 (render only what is read): env steps per second, side by side in one process, of
(a) the env with no camera at all (the physics alone), (b) a `cpu`-preset checkpoint with
EgoMimic's schedule (a query once a second, reading its three views then) through
`egogym.eval.rollout.run_episode`, which renders only the steps whose images it reads,
and (c) the same policy with every step rendered (as before). Target: (b) >= 0.5 x (a).
The checkpoint is the preset's network at its initial weights (the speed of a query does
not depend on the weights), saved with statistics of synthetic data at the image size.

Part 2 (workers):

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
from pathlib import Path


from egogym.eval.config import EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.records import comparable


def cpu_checkpoint(folder: Path, image_size: tuple[int, int]) -> Path:
    """A `cpu`-preset run folder (initial weights, one optimizer step) for `image_size` images."""
    import torch

    from egogym.policies.synthetic import train_synthetic_run

    torch.set_num_threads(1)
    return train_synthetic_run(folder, "cpu", image_size, cotrain=False, samples=8,
                               overrides={"train.val_batches": 1})


def steps_per_second(cfg, policy_spec: str | None, seeds: list[int], render_every_step: bool) -> float:
    """Env steps per second of run_episode over `seeds`. Env and policy are built, and one
    warm-up episode (seeds[0]) run, before the clock starts: the renderers' GL contexts
    (about 0.1 s each, made at the first render) and torch's first forward pass are paid
    once per evaluation worker, not per step."""
    from egogym.eval.rollout import make_env, make_policy, run_episode
    from egogym.policies.kinds import HoldPolicy, parse_policy

    env = make_env(cfg)
    try:
        policy = make_policy(parse_policy(policy_spec), env) if policy_spec else HoldPolicy()
        on_frame = (lambda obs, pol: None) if render_every_step else None
        run_episode(env, policy, seeds[0], 0, cfg, 1, on_frame)
        steps, t0 = 0, time.perf_counter()
        for s in seeds:
            steps += run_episode(env, policy, s, 0, cfg, 1, on_frame)["steps"]
        return steps / (time.perf_counter() - t0)
    finally:
        env.close()


def render_ratio(args) -> None:
    size = tuple(args.image_size)
    seeds = list(range(1000, 1000 + args.episodes))
    with tempfile.TemporaryDirectory() as tmp:
        run = str(cpu_checkpoint(Path(tmp) / "run", size))
        views = ("front_img_1", "front_img_1_line", "right_wrist_img")
        common = dict(episodes=1, max_steps=args.max_steps, image_size=size)
        rates = {
            "no camera, hold": steps_per_second(EvalConfig(policy="hold", cameras=(), **common), None, seeds, False),
            "cpu policy, renders what it reads": steps_per_second(
                EvalConfig(policy=run, cameras=views, **common), run, seeds, False),
            "cpu policy, renders every step": steps_per_second(
                EvalConfig(policy=run, cameras=views, **common), run, seeds, True),
        }
    base = rates["no camera, hold"]
    print(f"render only what is read: {args.episodes} episodes x {args.max_steps} steps at {size[0]}x{size[1]}, "
          f"views {list(views)}")
    for k, v in rates.items():
        print(f"  {k:36s} {v:8.1f} env steps/s  ({v / base:.2f} x no camera)")
    print(f"  ratio lazy / no camera: {rates['cpu policy, renders what it reads'] / base:.2f} (target >= 0.5); "
          f"lazy / every step: {rates['cpu policy, renders what it reads'] / rates['cpu policy, renders every step']:.1f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=500, help="env steps per episode (50 Hz)")
    p.add_argument("--image-size", type=int, nargs=2, default=(64, 64))
    p.add_argument("--cameras", nargs="+", default=["front_img_1", "right_wrist_img"])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--skip-workers", action="store_true", help="part 1 only")
    args = p.parse_args()
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f} "
          f"(1 min; other processes share these cores)")
    render_ratio(args)
    if args.skip_workers:
        return
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
