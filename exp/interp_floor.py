"""How well can `model.queries` knots (linearly interpolated to the 100 chunk points) fit the
data's chunks at all? Least-squares fit of every 7th valid-split chunk; prints RMS residuals.

    python exp/interp_floor.py DATA.hdf5"""
import sys

import numpy as np
import torch

from egogym.data.reader import EgoDataset
from egogym.policies.model import interpolation_matrix

torch.set_num_threads(1)
ds = EgoDataset(sys.argv[1], "valid", keys=["joint_positions", "ee_pose"])
idx = np.arange(0, len(ds), 7)
J = np.stack([ds[int(i)]["actions_joints_act"] for i in idx])
X = np.stack([ds[int(i)]["actions_xyz_act"] for i in idx])
for q in (10, 20, 25, 50):
    W = interpolation_matrix(100, q).double().numpy()
    P = W @ np.linalg.pinv(W)
    rj = J - np.einsum("cd,bdk->bck", P, J)
    rx = X - np.einsum("cd,bdk->bck", P, X)
    print(q, "xyz rms cm %.2f max %.2f" % (100 * np.sqrt((rx ** 2).sum(-1).mean()), 100 * np.sqrt((rx ** 2).sum(-1)).max()),
          "joint rms rad %.4f" % np.sqrt((rj[..., :6] ** 2).mean()),
          "gripper rms %.3f max %.3f" % (np.sqrt((rj[..., 6] ** 2).mean()), np.abs(rj[..., 6]).max()),
          "first25 xyz rms cm %.2f" % (100 * np.sqrt((rx[:, :25] ** 2).sum(-1).mean())))
