"""Which part of the robot pathway keeps a co-trained policy from localizing the toy outside the robot region.

    MUJOCO_GL=egl python exp/pathway_probe.py RUN [--episodes 100]

For each evaluation seed 100000+ (full distribution, 64x64): reset, then the pose head's first chunk from the
same observation read five ways, each the robot pathway with one part swapped for the human's:
  robot      the robot's (front + wrist cameras, state and chunk in the robot's statistics);
  no_wrist   no wrist-camera tokens (the human's camera set), robot statistics;
  state_h    robot cameras, the state normalized with the human's statistics;
  out_h      robot cameras, the chunk unnormalized with the human's statistics;
  human      the human's (front only, human statistics in and out).
and the joint head's first chunk (through forward kinematics) read the first two ways (`joints`,
`joints_no_wrist`): what the joint-head drive would execute. Prints the median closest approach (xy, cm) of
the chunk's 100 points to the toy's start, inside / outside the robot demos' region (y <= -0.19 m), and the
share within 3 cm."""
import argparse

import numpy as np
import torch

from egogym.core import geometry
from egogym.core.kinematics import pinch_in_camera
from egogym.eval.config import EvalConfig
from egogym.eval.rollout import make_env
from egogym.policies.batch import images_to_tensor
from egogym.policies.policy import load_policy

REGION_Y_MAX = -0.19
WAYS = ("robot", "no_wrist", "state_h", "out_h", "human", "joints", "joints_no_wrist")

p = argparse.ArgumentParser()
p.add_argument("runs", nargs="+")
p.add_argument("--episodes", type=int, default=100)
args = p.parse_args()
torch.set_num_threads(1)


@torch.no_grad()
def chunk(pol, obs, way: str) -> np.ndarray:
    mc, norm, m = pol.config.model, pol.normalizer, pol.model
    front = images_to_tensor(torch.as_tensor(obs[mc.front_key][None]), mc.image_size, mc.front_crop)
    images = {"front": front}
    if mc.wrist_key:
        images["wrist"] = images_to_tensor(torch.as_tensor(obs[mc.wrist_key][None]), mc.image_size)
    q = torch.as_tensor(np.asarray(obs["ee_pose"], np.float32))[None]
    if way.startswith("joints"):
        return pinch_in_camera(pol.arm_specs, pol.calibration, chunk(pol, obs, way.replace("joints", "robot_j")))
    state_dom = "human" if way in ("state_h", "human") else "robot"
    out_dom = "human" if way in ("out_h", "human") else "robot"
    qn = norm.normalize(state_dom, "ee_pose" if state_dom == "human" else mc.proprio_key("robot"), q)
    cams = m.cameras["robot"]
    if way in ("no_wrist", "human", "robot_j_no_wrist"):
        m.cameras["robot"] = ["front"]
    try:
        out = m("robot", images, qn)
    finally:
        m.cameras["robot"] = cams
    if way.startswith("robot_j"):
        return norm.unnormalize("robot", "actions_joints_act", out["joints"].float())[0].numpy().astype(np.float64)
    return norm.unnormalize(out_dom, "actions_xyz_act", out["xyz"].float())[0].numpy().astype(np.float64)


for run in args.runs:
    env = make_env(EvalConfig(policy=run, episodes=1, image_size=(64, 64), max_steps=500))
    pol = load_policy(run, env.unwrapped)
    if pol.config.model.robot_state != "pinch":
        raise SystemExit(f"{run}: the probe needs a pinch-state policy (one input projection for both domains)")
    T_world_cam = geometry.invert(env.unwrapped.backend.T_cam_world)
    rows = []
    for s in range(100000, 100000 + args.episodes):
        obs, info = env.reset(seed=s)
        toy = np.asarray(info["start"]["toy_xy"], float)
        d = [np.linalg.norm(geometry.transform_points(T_world_cam, chunk(pol, obs, w)[:, :3])[:, :2] - toy, axis=1).min()
             for w in WAYS]
        rows.append([toy[1] <= REGION_Y_MAX, *d])
    env.close()
    a = np.array(rows, float)
    for name, sel in (("inside", a[:, 0] == 1), ("outside", a[:, 0] == 0)):
        cells = ", ".join(f"{w} {100 * np.median(a[sel, 1 + i]):4.1f} cm ({np.mean(a[sel, 1 + i] < 0.03):.0%})"
                          for i, w in enumerate(WAYS))
        print(f"{run}: {name:7s} {int(sel.sum()):3d}: {cells}")
