"""What a policy's arm does in one episode: pinch point, gripper command and toy, every 10 steps.

    MUJOCO_GL=egl python exp/trace_episode.py RUN SEED [--drive pose_head_ik] [--steps 500] [--task-options JSON]

Prints world positions (cm) of the pinch point and the toy, the pinch-toy distance, the gripper
command (0 closed .. 1 open) and, at each query, where the predicted chunk's first point and its
lowest point lie. Tells a first chunk that reaches the toy from an episode that then grasps,
lifts and carries it (issue 24: the positive control's first chunk reached, its episodes failed)."""
import argparse
import json

import numpy as np
import torch

from egogym.core import geometry
from egogym.eval.config import EvalConfig
from egogym.eval.rollout import make_env
from egogym.policies.policy import load_policy

p = argparse.ArgumentParser()
p.add_argument("run")
p.add_argument("seed", type=int)
p.add_argument("--drive", default="pose_head_ik")
p.add_argument("--steps", type=int, default=500)
p.add_argument("--task-options", default="{}", help='task kwargs as JSON, e.g. \'{"toy_colours": ["blue"]}\'')
args = p.parse_args()
torch.set_num_threads(1)
env = make_env(EvalConfig(policy=args.run, episodes=1, image_size=(64, 64), max_steps=args.steps,
                          task_options=json.loads(args.task_options)))
be = env.unwrapped.backend
pol = load_policy(args.run, env.unwrapped, drive=args.drive)
T_world_cam = geometry.invert(be.T_cam_world)
obs, info = env.reset(seed=args.seed)
pol.reset()
print("start", info["start"]["toy_xy"], "bowl", info["start"]["bowl_xy"])
for t in range(args.steps):
    queried = pol.reads_images()
    a = pol.act(obs)
    if queried and pol.last_chunk_xyz is not None:
        w = geometry.transform_points(T_world_cam, pol.last_chunk_xyz[:, :3])
        lo = w[np.argmin(w[:, 2])]
        print(f"  t={t:3d} query: first {np.round(100 * w[0], 1)} lowest {np.round(100 * lo, 1)} "
              f"gripper chunk min {pol.last_chunk_joints[:25, 6].min():.2f}")
    obs, r, term, trunc, info = env.step(a)
    if t % 10 == 0:
        pinch = be.pinch_world(be.arms[0])
        toy, _ = be.sim_task.toy_pose(be.physics)
        print(f"t={t:3d} pinch {np.round(100 * pinch, 1)} toy {np.round(100 * toy, 1)} "
              f"dist {100 * np.linalg.norm(pinch - toy):5.1f} grip {a[6]:.2f}")
    if term or trunc:
        print("end", t, info.get("success"), r)
        break
