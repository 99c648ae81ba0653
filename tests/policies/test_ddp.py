"""DDP under torchrun (gloo, 2 processes) follows the 1-process run at twice the batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _losses(run: Path) -> list[float]:
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.mark.slow
def test_two_process_gloo_ddp_matches_one_process(tiny_files, tmp_path):
    robot, human = tiny_files
    common = ["--preset", "smoke", "--robot", str(robot), "--human", str(human), "--steps", "4", "--no-progress",
              "--threads", "1", "--set", "train.video_frames=0", "--set", "train.val_every=100"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "egogym.policies.train", *common, "--out", str(tmp_path / "one"),
                          "--set", "train.batch_size=4"], env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "egogym.policies.train", *common, "--out", str(tmp_path / "two"), "--set", "train.batch_size=2"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 4
    # Same samples, noise and jitter per step; only float summation order differs.
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert a[-1] < a[0]
