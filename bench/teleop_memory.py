"""Peak memory of a teleoperated take at 480x640 on the fake robot (egogym.real.fakes).

    python bench/teleop_memory.py --steps 2000 --tmp /tmp/data12-out

Drives `TeleopRecorder` (pipelines/teleop.py) against the vendor fakes on a fake clock
(instant sleeps): the leader arms' scripted motion becomes the followers' targets, frames
of the fake Aria and D405 (640x480 colour) stream into the open demo during the take, the
capsule masker adds masks and lines afterwards, the operator keeps the take. Prints the
process's peak resident set size (`ru_maxrss`) and the file written. One take of
`--steps` steps (at most the task's time limit x 50 Hz).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--image-size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args(argv)
    size = tuple(args.image_size)

    from egogym.core.spec import EGOMIMIC, Calibration
    from egogym.pipelines.teleop import CapsuleMasker, TeleopRecorder
    from egogym.real.config import RealConfig
    from egogym.real.devices import linear_intrinsics
    from egogym.real.fakes import FakeClock, FakeHardware

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        w, h, fps = size[1], size[0], 60
        K = {"front_img_1": linear_intrinsics(EGOMIMIC.camera("front_img_1"), size)}
        for c in ("left_wrist_img", "right_wrist_img"):
            K[c] = np.array([[0.9 * w, 0, w / 2], [0, 0.9 * w, h / 2], [0, 0, 1.0]])
        T = np.eye(4)
        T[:3, :3] = np.diag([1.0, -1.0, -1.0])
        T[:3, 3] = [0.05, 0.3, 0.6]
        Calibration(K, {c: size for c in K}, {"left": T, "right": T}, source="bench").save(tmp / "cal.json")
        rng = (-0.62, 1.49)
        options = {"calibration": str(tmp / "cal.json"), "gripper_motor_range": {"left": list(rng), "right": list(rng)},
                   "d405_serials": {"left_wrist_img": "D405-L", "right_wrist_img": "D405-R"},
                   "d405_stream": [w, h, fps], "log_dir": str(tmp / "logs"),
                   "leader_gripper_range": {"left": [-0.8, 0.5], "right": [-0.8, 0.5]}}
        clock = FakeClock()
        hw = FakeHardware.for_config(EGOMIMIC, RealConfig.from_options(options), clock)
        answers = ["", "y", "bench", ""]
        opts = dict(options, drivers=hw.drivers, clock=clock)
        out = tmp / "real.hdf5"
        t0 = time.perf_counter()
        rec = TeleopRecorder(out, opts, CapsuleMasker(), image_size=size,
                             input_fn=lambda p: answers.pop(0) if answers else "", print_fn=lambda *a: None,
                             max_steps=args.steps)
        try:
            names = rec.run(1, max_takes=1)
        finally:
            rec.close()
        dt = time.perf_counter() - t0
        import h5py

        with h5py.File(out, "r") as f:
            T_ = int(f["data/demo_0"].attrs["num_samples"]) if names else 0
            keys = sorted(f["data/demo_0/obs"]) if names else []
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"teleop take on the fakes: {T_} steps at {size[0]}x{size[1]} ({', '.join(keys)}), "
              f"{out.stat().st_size / 1e9:.2f} GB file, {dt:.0f} s; peak RSS {rss:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
