"""Fast closed-loop evaluation of a trained run on ObjectInBowl (robot-only or co-trained).

    python exp/fasteval.py RUN OUT.jsonl [--episodes 50] [--seed 100000] [--max-steps 500]
        [--region robot|full] [--image-size 64 64]

Semantics compared with `egogym eval --policy RUN --seed S --episodes N --max-steps M
--image-size 64 64 --task-option toy_region=...`:
- same env (gymnasium.make("egogym/ObjectInBowl-v0", task_options, image_size, cameras)),
  same seeds (episode i: env.reset(seed=S+i), then numpy/torch global seeds = S+i, then
  policy.reset()), same policy (policies.load_policy(run, env.unwrapped), its own FirstK(25)
  schedule with each chunk point held 2 control steps), one act() per 50 Hz control step;
- success = the task's success flag (at least one point) within max_steps control steps;
- a seed whose placement is infeasible (ObjectInBowl raises ValueError at reset: the toy region
  leaves no place min_separation from the bowl; egogym eval would stop there) is recorded as
  infeasible and skipped; --episodes counts feasible episodes; the same error raised while
  re-placing the toy right after a scored point (egogym eval would crash there too) counts
  as the success it is (the point is added before the re-placement);
- two differences, neither of which can change the success flag:
  (1) images are rendered only on the control steps where the policy will query the model
      (EgoPolicy reads obs only then; the sim's observe() is stateless), not every step;
  (2) an episode stops as soon as it succeeds (success never turns back to False).
So the episode's trajectory up to its first point is the same as egogym eval's.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
import numpy as np
import torch

ROBOT_REGION = [[0.08, 0.30], [-0.36, -0.19]]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("out")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--seed", type=int, default=100000)
    p.add_argument("--max-steps", type=int, default=500)
    p.add_argument("--region", default="robot", choices=("robot", "full"))
    p.add_argument("--image-size", type=int, nargs=2, default=(64, 64))
    p.add_argument("--execution", default="", help="override the run's execution: firstk:K or te:M (default: the run's)")
    a = p.parse_args()
    torch.set_num_threads(1)
    import gymnasium as gym
    import egogym  # noqa: F401
    from egogym.policies import load_policy

    cfg = json.loads((Path(a.run) / "config.json").read_text())["model"]
    cams = tuple(dict.fromkeys(k for k in (cfg["front_key"], cfg.get("wrist_key") or "") if k))
    kw = {"image_size": tuple(a.image_size), "cameras": cams, "max_episode_steps": a.max_steps}
    if a.region == "robot":
        kw["task_options"] = {"toy_region": ROBOT_REGION}
    env = gym.make("egogym/ObjectInBowl-v0", **kw)
    u = env.unwrapped
    execution = None
    if a.execution:
        from egogym.policies.config import FirstK, TemporalEnsemble
        kind, val = a.execution.split(":")
        execution = FirstK(int(val)) if kind == "firstk" else TemporalEnsemble(float(val))
    policy = load_policy(a.run, u, execution=execution)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if out.exists():
        for line in out.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["seed"]] = r
    t_all = time.perf_counter()
    recs = []
    with open(out, "a") as f:
        seed = a.seed - 1
        while len(recs) < a.episodes:
            seed += 1
            if seed in done:
                if not done[seed].get("infeasible"):
                    recs.append(done[seed])
                continue
            t0 = time.perf_counter()
            try:
                obs, info = env.reset(seed=seed)
            except ValueError as e:  # no toy place min_separation from the bowl: egogym eval would crash here
                rec = {"seed": seed, "infeasible": True, "reason": str(e)}
                f.write(json.dumps(rec) + "\n")
                done[seed] = rec
                continue
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            policy.reset()
            success, steps, aborted = False, 0, None
            reach, grasped, lifted = 9.9, 0.0, 0.0  # failure analysis: closest pinch-toy distance, ever grasped / lifted
            while steps < a.max_steps:
                action = policy.act(obs)
                u.backend.apply(np.asarray(action, dtype=np.float64))
                try:
                    score = u.backend.judge()
                except ValueError:  # the point was scored, then re-placing the toy found no feasible place
                    score = u.backend.sim_task.score
                    score.success = score.points >= 1
                    if not score.success:
                        raise
                steps += 1
                reach = min(reach, score.terms.get("reach_distance", 9.9))
                grasped, lifted = max(grasped, score.terms.get("grasped", 0.0)), max(lifted, score.terms.get("lifted", 0.0))
                if score.success or score.aborted is not None:
                    success, aborted = bool(score.success), score.aborted
                    break
                # render only where the next act() will query the model
                if policy._step % policy.hold == 0 and policy.executor.needs_query():
                    obs = u.backend.observe()
            rec = {"seed": seed, "episode": len(recs), "success": success, "steps": steps,
                   "min_reach_m": round(float(reach), 4), "grasped": bool(grasped), "lifted": bool(lifted),
                   "wall_seconds": round(time.perf_counter() - t0, 3), "start": info.get("start") or {},
                   "aborted": str(aborted) if aborted else None}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            done[seed] = rec
            recs.append(rec)
    k, n = sum(r["success"] for r in recs), len(recs)
    lo, hi = wilson(k, n)
    summary = {"run": a.run, "episodes": n, "successes": k, "rate": k / n, "wilson95": [round(lo, 3), round(hi, 3)],
               "seeds": [a.seed, seed],
               "infeasible_seeds": [s for s, r in sorted(done.items()) if r.get("infeasible") and s <= seed], "max_steps": a.max_steps, "region": a.region,
               "execution": a.execution or "run's own",
               "wall_s": round(time.perf_counter() - t_all, 1)}
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
