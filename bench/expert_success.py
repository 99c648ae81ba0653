"""Scripted-expert success rate on every registered task, with Wilson 95% intervals.

An episode counts as a success once the task scores its first point (the criterion of
the registered envs); it ends there, or at the 40 s limit. Seeds start_seed .. start_seed+N-1.
No cameras are rendered: the expert acts on simulator state, through the same action
interface a policy uses.

    python bench/expert_success.py --episodes 200 [--seed 0] [--env egogym/HandOver-v0] [--task-option K=V ...]

`--task-option` as for `egogym eval` (e.g. toys='["block"]' for the other toys, or the
appearance axes: a distractor is visual only, so they should not change the expert's rate).
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym

import egogym
from egogym.core.configs import parse_options
from egogym.sim.experts import make_expert, steps_to_first_point
from egogym.eval.metrics import wilson_interval


def run(env_id: str, episodes: int, start_seed: int, task_options: dict | None = None) -> dict:
    env = gym.make(env_id, cameras=(), task_options=task_options or None)
    expert = make_expert(env)
    wins, steps, failed = 0, [], []
    t0 = time.perf_counter()
    for seed in range(start_seed, start_seed + episodes):
        k = steps_to_first_point(env, expert, seed)
        if k is None:
            failed.append(seed)
        else:
            wins += 1
            steps.append(k)
    env.close()
    lo, hi = wilson_interval(wins, episodes)
    return {"env": env_id, "episodes": episodes, "successes": wins, "rate": wins / episodes, "wilson95": (lo, hi),
            "mean_s_to_first_point": sum(steps) / max(1, len(steps)) / 50.0, "failed_seeds": failed,
            "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--env", action="append", help="env id (repeatable); default: every registered id")
    ap.add_argument("--task-option", action="append", metavar="K=V", help="task option, value as JSON (repeatable)")
    args = ap.parse_args()
    options = parse_options(args.task_option, "--task-option")
    for env_id in args.env or sorted(egogym.ENV_IDS):
        r = run(env_id, args.episodes, args.seed, options)
        lo, hi = r["wilson95"]
        print(f"{env_id} {options or ''}: {r['successes']}/{r['episodes']} = {r['rate']:.1%} (Wilson 95% {lo:.1%}-{hi:.1%}); "
              f"first point after {r['mean_s_to_first_point']:.1f} s simulated on average; "
              f"failed seeds {r['failed_seeds']}; {r['wall_s']:.0f} s wall", flush=True)


if __name__ == "__main__":
    main()
