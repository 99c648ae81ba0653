"""Record robot demos in the robot region (toy y in [-0.36, -0.19]) at 64x64, then split.

    python exp/collect.py OUT.hdf5 EPISODES [SEED] [VALID_FRACTION]

What `egogym collect --task object_in_bowl --episodes N --seed S --image-size 64 64
--stop-after-points 1 --max-steps 1000` does, with task_options toy_region (the CLI has no
--task-option flag), except that a seed whose placement is infeasible is skipped: with the
toy in this region and the bowl anywhere, some bowl positions leave no toy position
min_separation (0.16 m) away, and ObjectInBowl raises ValueError at reset (seed 77 is one).
Re-running with the same OUT appends what is missing (resume)."""
import subprocess
import sys
from pathlib import Path

from egogym.data import schema as S
from egogym.pipelines.collect import episode_index, record_episode
from egogym.data.writer import DemoWriter  # noqa: E402
from egogym.env import DEFAULT_CAMERAS, EgoEnv
from egogym.sim.experts import make_expert

REGION = {"toy_region": [[0.08, 0.30], [-0.36, -0.19]]}
out, n = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
vf = sys.argv[4] if len(sys.argv) > 4 else "0.2"
cameras = (*DEFAULT_CAMERAS["right"], S.FRONT_MASKED, S.FRONT_LINE)
env = EgoEnv(task="object_in_bowl", task_options=REGION, arms=None, image_size=(64, 64), cameras=cameras)
backend = env.unwrapped.backend
expert = make_expert(env)
env_args = {"env": "egogym.env:EgoEnv", "task": "object_in_bowl", "task_options": REGION, "arms": list(env.arms),
            "cameras": list(env.cameras), "image_size": [64, 64], "seed": seed, "source": "sim",
            "expert": type(expert).__name__}
writer = DemoWriter(out, "robot", env.calibration, arms=env.arms, control_hz=backend.spec.control_hz,
                    image_size=(64, 64), env_args=env_args, write_prestacked=False,
                    image_codec=S.DEFAULT_IMAGE_CODEC, embodiment="sim-vx300s")
done = {episode_index(a) for a in writer.demo_attrs().values()}
skipped = []
for i in range(n):
    if i in done:
        continue
    try:
        obs, actions, states, result = record_episode(env, expert, seed + i, 1000, 1)
    except ValueError as e:
        skipped.append(seed + i)
        print(f"seed {seed + i}: skipped ({e})", flush=True)
        continue
    attrs = {"episode": i, "seed": seed + i, **result, S.ATTR_STATE_NQ: int(backend.model.nq)}
    writer.write_demo(obs, actions, attrs=attrs, states=states)
env.close()
print(f"skipped seeds: {skipped}", flush=True)
subprocess.run([str(Path(sys.executable).parent / "egogym"), "split", out, "--valid-fraction", vf], check=True)
