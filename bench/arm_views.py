"""Latency of the real robot's run-time masked / line views (egogym.sim.arm_views), and their
agreement with the simulator's own views.

    python bench/arm_views.py [--sizes 64x64 120x160 480x640] [--calls 20]

For each size: the twin's views built from the sim's calibration, called on the sim's Aria
frames at random arm poses near home; prints ms per call (one per policy query on hardware,
median and max) and the IoU of the twin's arm mask with the simulator's segmentation mask.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from egogym.core.views import FRONT, FRONT_MASKED
from egogym.env import EgoEnv
from egogym.sim.arm_views import TwinArmViews


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["64x64", "120x160", "480x640"])
    p.add_argument("--calls", type=int, default=20)
    args = p.parse_args()
    for size in args.sizes:
        h, w = (int(v) for v in size.split("x"))
        env = EgoEnv(cameras=(FRONT, FRONT_MASKED), image_size=(h, w))
        obs, _ = env.reset(seed=0)
        twin = TwinArmViews(env.robot, env.calibration, env.image_size, env.arms)
        twin(obs[FRONT], obs["joint_positions"])  # the renderer is made on the first call
        rng, home = np.random.default_rng(0), env.robot.arm("right").home_command
        ms, ious = [], []
        for _ in range(args.calls):
            a = home + np.concatenate([rng.uniform(-0.35, 0.35, 6), [0.0]])
            for _ in range(10):
                obs, *_ = env.step(a)
            t0 = time.perf_counter()
            masked, _ = twin(obs[FRONT], obs["joint_positions"])
            ms.append(1e3 * (time.perf_counter() - t0))
            A = (obs[FRONT_MASKED] == 0).all(-1) & (obs[FRONT] != 0).any(-1)
            B = (masked == 0).all(-1) & (obs[FRONT] != 0).any(-1)
            ious.append((A & B).sum() / max(1, (A | B).sum()))
        print(f"{h}x{w}: {np.median(ms):6.1f} ms per query (max {max(ms):6.1f}); mask IoU vs the sim's "
              f"segmentation: min {min(ious):.3f}, mean {np.mean(ious):.3f} over {args.calls} poses")
        twin.close()
        env.close()


if __name__ == "__main__":
    main()
