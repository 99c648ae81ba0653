"""Record robot demos in the robot region (toy y in [-0.36, -0.19]) at 64x64, then split.

    python exp/collect.py OUT.hdf5 EPISODES [SEED]
Same as `egogym collect --task object_in_bowl --episodes N --seed S --image-size 64 64
--stop-after-points 1 --max-steps 1000` with task_options toy_region (collect's CLI has no
--task-option flag, so this calls egogym.data.collect.collect_robot)."""
import sys
import subprocess
from pathlib import Path

from egogym.data.collect import collect_robot

out, n = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
collect_robot("object_in_bowl", episodes=n, seed=seed, out=out, image_size=(64, 64), resume=Path(out).exists(),
              stop_after_points=1, max_steps=1000,
              task_options={"toy_region": [[0.08, 0.30], [-0.36, -0.19]]}, progress=False)
subprocess.run([str(Path(sys.executable).parent / "egogym"), "split", out], check=True)
