"""Error of the first prediction of each valid demo (t = 0: only the images say where the toy is).

    python exp/first_error.py RUN_OR_CHECKPOINT DATA.hdf5 [valid|train]
Prints, over the valid split's demos, the pose head's xyz error (cm) at t=0: RMS over the first
25 chunk points (what FirstK(25) executes) and at the chunk point where the ground truth is
lowest (about the grasp), and the grasp point's error through the joint head + FK."""
import sys

import numpy as np
import torch

from egogym.data.reader import EgoDataset
from egogym.policies.batch import collate, model_inputs
from egogym.policies.checkpoint import load_checkpoint

torch.set_num_threads(1)
ck = load_checkpoint(sys.argv[1])
mc = ck.config.model
keys = [mc.front_key, "joint_positions", "ee_pose"] + ([mc.wrist_key] if mc.wrist_key else [])
split = sys.argv[3] if len(sys.argv) > 3 else "valid"  # or "train" (its first 40 demos)
ds = EgoDataset(sys.argv[2], split, keys=keys)
starts = np.concatenate([[0], np.cumsum(ds.lengths)[:-1]])[:40]
b = collate([ds[int(i)] for i in starts])
inp = model_inputs(b, "robot", mc, ck.normalizer)
ck.model.eval()
with torch.no_grad():
    out = ck.model("robot", inp.images, inp.proprio)
xyz = ck.normalizer.unnormalize("robot", "actions_xyz_act", out["xyz"]).numpy()
gt = b["actions_xyz_act"]
e = np.linalg.norm(xyz - gt, axis=-1)  # (D, 100)
gj = b["actions_joints_act"][..., 6]
g = np.where((gj < 0.5).any(1), (gj < 0.5).argmax(1), 99)  # the true chunk's first closed-gripper point: the grasp
eg = e[np.arange(len(g)), g]
from egogym.core.kinematics import pinch_in_camera
from egogym.core.spec import EGOMIMIC
joints = ck.normalizer.unnormalize("robot", "actions_joints_act", out["joints"]).numpy()
fk = np.stack([pinch_in_camera((EGOMIMIC.arm("right"),), ds.calibration, j) for j in joints])
ef = np.linalg.norm(fk - gt, axis=-1)
efg = ef[np.arange(len(g)), g]
print(f"joint head via FK: first-25 RMS {100*np.sqrt((ef[:, :25]**2).mean()):.2f} cm, at the grasp point median "
      f"{100*np.median(efg):.2f} cm (mean {100*efg.mean():.2f}, max {100*efg.max():.2f}); grasp point index median {int(np.median(g))}")
print(f"{sys.argv[1]}: {len(starts)} {split} demos; t=0 xyz error: first-25 RMS {100*np.sqrt((e[:, :25]**2).mean()):.2f} cm, "
      f"all-100 RMS {100*np.sqrt((e**2).mean()):.2f} cm, at the grasp point median {100*np.median(eg):.2f} cm "
      f"(mean {100*eg.mean():.2f}, max {100*eg.max():.2f})")
