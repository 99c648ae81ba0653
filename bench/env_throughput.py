"""Env steps per second of egogym/ObjectInBowl-v0 against gym-aloha, in one run.

egogym renders the Aria and the right wrist camera (at 120x160 and at 480x640); the
reference is gym-aloha's `gym_aloha/AlohaTransferCube-v0` with its default observation,
run in its own virtual env (it pins mujoco<3.9 and dm-control<1.1), created on first use
under bench/.aloha-venv. Measurements alternate between the two, round after round, so
that both see the same machine load; the ratio is of medians.

    python bench/env_throughput.py [--rounds 3] [--steps 200] [--against-tree DIR] [--skip-aloha]

`--against-tree DIR` also runs the same egogym worker from another source tree (e.g. a
`git worktree add DIR <commit>` of the code before a change), in the same rounds, and prints
the ratio: what a change costs the default task's rendering.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALOHA_VENV = HERE / ".aloha-venv"

# Both workers end with the same timed loop over prepared actions `acts` (first step untimed).
TIMED_STEPS = r"""
env.step(acts[0])
t = time.perf_counter()
for a in acts:
    env.step(a)
dt = time.perf_counter() - t
env.close()
print(json.dumps({"steps_per_s": steps / dt}))
"""

EGOGYM_WORKER = r"""
import json, sys, time
import numpy as np, gymnasium as gym, egogym
h, w, steps, quality = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
env = gym.make("egogym/ObjectInBowl-v0", image_size=(h, w), cameras=("front_img_1", "right_wrist_img"))
if quality:  # what egogym turns off: shadows and 4x multisampling
    import mujoco
    b = env.unwrapped.backend
    b.model.vis.quality.offsamples, b.model.vis.quality.shadowsize = 4, 4096
    b.model.light_castshadow[:] = 1
    b._renderer = b._make_renderer()
    b._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = True
env.reset(seed=0)
rng = np.random.default_rng(0)
home = env.unwrapped.robot.arm("right").home_command
acts = [home + rng.normal(0, 0.05, 7) for _ in range(steps)]
""" + TIMED_STEPS

ALOHA_WORKER = r"""
import json, sys, time
import numpy as np, gymnasium as gym, gym_aloha
steps = int(sys.argv[1])
env = gym.make("gym_aloha/AlohaTransferCube-v0")
env.reset(seed=0)
rng = np.random.default_rng(0)
acts = [rng.uniform(-0.05, 0.05, env.action_space.shape) for _ in range(steps)]
""" + TIMED_STEPS


def ensure_aloha_venv() -> Path:
    py = ALOHA_VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import gym_aloha"], capture_output=True).returncode == 0:
        return py
    print("creating bench/.aloha-venv with gym-aloha (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(ALOHA_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "gym-aloha==0.1.5"],
                   check=True)
    return py


def run(cmd: list[str], pythonpath: str | None = None) -> float:
    env = {"MUJOCO_GL": "egl", "PATH": "/usr/bin:/bin", **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"benchmark worker failed: {' '.join(cmd[:2])}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--against-tree", type=Path, help="another egogym source tree, run in the same rounds")
    ap.add_argument("--skip-aloha", action="store_true", help="no gym-aloha reference (no venv to build)")
    args = ap.parse_args()
    if args.against_tree is not None and not (args.against_tree / "egogym" / "env.py").is_file():
        raise SystemExit(f"--against-tree {args.against_tree}: no egogym/env.py there; give an egogym source tree")
    aloha_py = None if args.skip_aloha else ensure_aloha_venv()
    workers = [("egogym 120x160", [sys.executable, "-c", EGOGYM_WORKER, "120", "160", str(args.steps), "0"], None),
               ("gym-aloha", [str(aloha_py), "-c", ALOHA_WORKER, str(args.steps)], None),
               ("egogym 480x640", [sys.executable, "-c", EGOGYM_WORKER, "480", "640", str(args.steps), "0"], None),
               ("egogym 480x640 shadows+4xMSAA",
                [sys.executable, "-c", EGOGYM_WORKER, "480", "640", str(args.steps), "1"], None)]
    if args.against_tree is not None:
        tree = str(args.against_tree.resolve())
        workers += [("other tree 120x160", [sys.executable, "-c", EGOGYM_WORKER, "120", "160", str(args.steps), "0"],
                     tree),
                    ("other tree 480x640", [sys.executable, "-c", EGOGYM_WORKER, "480", "640", str(args.steps), "0"],
                     tree)]
    if aloha_py is None:
        workers = [w for w in workers if w[0] != "gym-aloha"]
    results: dict[str, list[float]] = {name: [] for name, _, _ in workers}
    for r in range(args.rounds):
        for name, cmd, tree in workers:
            results[name].append(run(cmd, tree))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedian steps/s over {args.rounds} rounds of {args.steps} steps ({time.strftime('%Y-%m-%d')}):")
    for k, v in med.items():
        print(f"  {k:30s} {v:8.1f}")
    if "gym-aloha" in med:
        print(f"  ratio egogym 480x640 / gym-aloha: {med['egogym 480x640'] / med['gym-aloha']:.2f}x (target >= 5x)")
        print(f"  ratio egogym 120x160 / gym-aloha: {med['egogym 120x160'] / med['gym-aloha']:.2f}x")
    for size in ("120x160", "480x640"):
        if f"other tree {size}" in med:
            print(f"  ratio this tree / {args.against_tree} at {size}: "
                  f"{med[f'egogym {size}'] / med[f'other tree {size}']:.3f}x (1.0: the same cost)")
    print(f"  shadows+4xMSAA cost at 480x640: {med['egogym 480x640'] / med['egogym 480x640 shadows+4xMSAA']:.2f}x "
          "slower (why observation cameras have them off)")


if __name__ == "__main__":
    main()
