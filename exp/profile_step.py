"""Where a training step's time goes: batch assembly, forward, backward, optimizer.

    python exp/profile_step.py ROBOT.hdf5 ['{"model.hidden": 128, ...}'] [HUMAN.hdf5]

The `cpu` preset with the given `--set`-style overrides (JSON), 1 torch thread; 60 steps of the
real Trainer on the files, the first 10 untimed; prints the mean seconds per step of each part."""
import json
import sys
import time
from pathlib import Path

import torch

from egogym.policies import train as T
from egogym.policies.config import preset

torch.set_num_threads(1)
robot = Path(sys.argv[1])
cfg = preset("cpu").with_overrides(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
human = Path(sys.argv[3]) if len(sys.argv) > 3 else None
data, stats = T.open_files(cfg, robot, human)
tr = T.Trainer(cfg, data, stats, Path("/tmp/profile_step_run"), 200, progress=False)
parts = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
for step in range(60):
    t0 = time.perf_counter()
    rb, nr = tr._batch("robot", step)
    hb, nh = tr._batch("human", step) if "human" in tr.domains else (None, None)
    t1 = time.perf_counter()
    loss, _ = tr.loss_module(rb, hb, {"robot": nr, "human": nh})
    t2 = time.perf_counter()
    tr.opt.zero_grad()
    loss.backward()
    t3 = time.perf_counter()
    tr.opt.step()
    t4 = time.perf_counter()
    if step >= 10:
        for k, a, b in zip(parts, (t0, t1, t2, t3), (t1, t2, t3, t4)):
            parts[k] += b - a
print({k: round(v / 50, 4) for k, v in parts.items()}, "total s/step", round(sum(parts.values()) / 50, 4))
