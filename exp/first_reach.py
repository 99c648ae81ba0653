"""Where the first prediction of an evaluation episode reaches, against where the toy is.

    MUJOCO_GL=egl python exp/first_reach.py RUN [RUN ...] [--episodes 200] [--state X Y Z]

For each run, on the evaluation seeds 100000+ (full distribution, 64x64, as the ablation
evaluates): reset, one query, then the closest approach (xy, cm) of the predicted chunk's 100
pinch points to the toy's start: pose head (its xyz chunk) and joint head (its joint chunk
through forward kinematics). Medians inside / outside the robot demos' region (y <= -0.19 m).
Tells whether a policy that fails outside the region knows where the toy is (a co-trained pose
head trained on human demos there) or reaches for the region it was shown."""
import argparse

import numpy as np
import torch

from egogym.core import geometry
from egogym.core.kinematics import pinch_in_camera
from egogym.eval.config import EvalConfig
from egogym.eval.rollout import make_env
from egogym.policies.policy import load_policy

REGION_Y_MAX = -0.19


@torch.no_grad()
def human_pose_chunk(pol, obs) -> np.ndarray:
    """(100, 3) pose-head chunk (Aria frame, m) of a robot observation read as a human frame."""
    from egogym.policies.batch import images_to_tensor

    mc, norm = pol.config.model, pol.normalizer
    img = {"front": images_to_tensor(obs[mc.front_key][None], mc.image_size, mc.front_crop)}
    q = norm.normalize("human", "ee_pose", torch.as_tensor(np.asarray(obs["ee_pose"], np.float32))[None])
    out = pol.model("human", img, q)
    return norm.unnormalize("human", "actions_xyz_act", out["xyz"])[0].numpy().astype(np.float64)

p = argparse.ArgumentParser()
p.add_argument("runs", nargs="+")
p.add_argument("--episodes", type=int, default=200)
p.add_argument("--domain", choices=("robot", "human"), default="robot",
               help="human: query the pose head through the human pathway (front image + the pinch point as "
                    "the palm), as a co-trained network reads a human frame")
p.add_argument("--wrist", choices=("as_is", "black"), default="as_is",
               help="black: the wrist image replaced by zeros (does the robot pathway localize from it?)")
p.add_argument("--state", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
               help="the robot's pinch state (`ee_pose`, m, Aria frame) replaced by this point: a pinch-state "
                    "policy queried as if its hand were where the human demos' hands start")
args = p.parse_args()
torch.set_num_threads(1)
for run in args.runs:
    env = make_env(EvalConfig(policy=run, episodes=1, image_size=(64, 64), max_steps=500))
    pol = load_policy(run, env.unwrapped)
    T_world_cam = geometry.invert(env.unwrapped.backend.T_cam_world)
    rows = []
    for s in range(100000, 100000 + args.episodes):
        obs, info = env.reset(seed=s)
        toy = np.asarray(info["start"]["toy_xy"], float)
        pol.reset()
        wk = pol.config.model.wrist_key
        if args.state is not None:
            obs = {**obs, "ee_pose": np.asarray(args.state, obs["ee_pose"].dtype)}
        if args.wrist == "black" and wk:
            obs = {**obs, wk: np.zeros_like(obs[wk])}
        joints, xyz = pol.predict_chunk(obs)
        if args.domain == "human":
            xyz = human_pose_chunk(pol, obs)
        pose = geometry.transform_points(T_world_cam, xyz[:, :3])[:, :2]
        fk_cam = pinch_in_camera(pol.arm_specs, pol.calibration, joints)
        fk = geometry.transform_points(T_world_cam, fk_cam[:, :3])[:, :2]
        rows.append((toy[1] <= REGION_Y_MAX, np.linalg.norm(pose - toy, axis=1).min(),
                     np.linalg.norm(fk - toy, axis=1).min()))
    env.close()
    a = np.array(rows, float)
    for name, m in (("inside", a[:, 0] == 1), ("outside", a[:, 0] == 0)):
        print(f"{run}: {name:7s} {int(m.sum()):3d} episodes; closest approach of the first chunk to the toy, "
              f"median: pose head {100 * np.median(a[m, 1]):5.1f} cm, joint head {100 * np.median(a[m, 2]):5.1f} cm; "
              f"within 3 cm: pose {np.mean(a[m, 1] < 0.03):.0%}, joint {np.mean(a[m, 2] < 0.03):.0%}")
