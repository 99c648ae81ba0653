"""The co-trained pose head on held-out human demos at t = 0, inside and outside the robot region.

    MUJOCO_GL=egl python exp/human_first_error.py RUN HUMAN.hdf5

For the valid split's demos of a human file: the pose head's first prediction (human domain)
against the demo's own xyz chunk, at the grasp (the chunk point nearest the table: lowest
world z), in cm, split by where the toy started (robot region: y <= -0.19 m; the placement of
the recording's seed, as `ObjectInBowl` draws it at reset: the simulated demonstrator draws
from the task's distribution). The chunk is in the camera frame of the demo's first sample;
its world pose comes from the recording's ground truth (`truth.npz`, `T_world_rgb` of that
frame: the human's head moves). Says whether the model localizes the toy outside the region from human views, which
the robot-view check (exp/first_reach.py) cannot."""
import sys

import json

import gymnasium as gym
import h5py
import numpy as np
import torch

import egogym  # noqa: F401  (registers the env ids)
from egogym.core import geometry
from egogym.data.reader import EgoDataset
from egogym.policies.batch import collate, model_inputs
from egogym.policies.checkpoint import load_checkpoint

torch.set_num_threads(1)
ck = load_checkpoint(sys.argv[1])
mc = ck.config.model
ds = EgoDataset(sys.argv[2], "valid", keys=[mc.front_key, "ee_pose"])
starts = np.concatenate([[0], np.cumsum(ds.lengths)[:-1]])
env = gym.make("egogym/ObjectInBowl-v0", image_size=(64, 64), cameras=())
poses, inside = [], []  # T_world_rgb of each valid demo's first sample; toy start in the region
with h5py.File(sys.argv[2], "r") as f:
    for d in ds.demos:
        a = f["data"][d].attrs
        truth = np.load(f"{a['recording']}/truth.npz")
        poses.append(truth["T_world_rgb"][json.loads(a["frame_index"])[0]])
        _, info = env.reset(seed=int(a["seed"]))
        assert np.allclose(info["start"]["bowl_xy"], truth["bowl"][:2]), "the seed's placement is not the recording's"
        inside.append(info["start"]["toy_xy"][1] <= -0.19)
ck.model.eval()
rows = []
for i in range(0, len(starts), 16):
    b = collate([ds[int(j)] for j in starts[i:i + 16]])
    inp = model_inputs(b, "human", mc, ck.normalizer)
    with torch.no_grad():
        out = ck.model("human", inp.images, inp.proprio)
    pred = ck.normalizer.unnormalize("human", "actions_xyz_act", out["xyz"]).numpy()
    for p, g, T, ins in zip(pred, b["actions_xyz_act"], poses[i:i + 16], inside[i:i + 16]):
        gw, pw = geometry.transform_points(T, g), geometry.transform_points(T, p)
        k = int(np.argmin(gw[:, 2]))
        rows.append((ins, np.linalg.norm(pw[k] - gw[k])))
a = np.array(rows, float)
for name, m in (("inside", a[:, 0] == 1), ("outside", a[:, 0] == 0)):
    print(f"{sys.argv[1]}: {name:7s} {int(m.sum()):3d} held-out human demos; t=0 pose-head error at the grasp, "
          f"median {100 * np.median(a[m, 1]):.1f} cm, within 3 cm {np.mean(a[m, 1] < 0.03):.0%}")
