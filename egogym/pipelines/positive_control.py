"""The positive control of the human-data ladder (issue 24, rung 0): "human" demos that are the
scripted robot's own demos, stored as the human domain.

The robot arm is in the image, the camera is the robot's Aria, the motion is the expert's; only
the labels are the human domain's: the pinch point as `ee_pose` and its future as `xyz_act`
chunks (100 points, `schema.ROBOT_STRIDE` control steps apart, in the camera frame of each step,
which on the robot is one fixed frame), no joints. If co-training with these cannot reach
placements only they showed, the defect is in egogym's training or execution path, not in the
gap between a person and the robot.

Human chunks are whole (the reader pads none), so each demo keeps the steps whose chunk ends
inside it: record demos longer than a chunk (`--max-steps` of at least 2 x 100 plus the reach).
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from egogym.core.errors import UserError
from egogym.core.outputs import check_output
from egogym.core.spec import Calibration
from egogym.data import schema as S
from egogym.data.writer import DemoWriter

KEPT_OBS = (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE, S.EE_POSE)
"""The robot demo's observations the human domain holds (its wrist images and joints are left out)."""


def robot_demos_as_human(robot: str | Path, out: str | Path, progress: bool = False) -> list[str]:
    """Write every demo of the egogym robot file `robot` into the human file `out` (see the module
    docstring); returns the new demo names. A demo shorter than one chunk span is skipped."""
    robot, out = Path(robot), Path(out)
    check_output(out, [robot], suffixes=(".hdf5", ".h5"))
    span = S.ROBOT_STRIDE * (S.CHUNK - 1)
    names: list[str] = []
    with h5py.File(robot, "r") as f:
        info = S.read_file_info(f, str(robot))
        if info.domain != "robot" or info.version is None:
            raise UserError(f"{robot}: give an egogym robot file (this one holds {info.domain} data"
                            f"{'' if info.version else ', in EgoMimic layout'})")
        calib = Calibration.from_dict(info.calibration)
        env_args = {"source": "egogym positive control: scripted robot demos stored as human demos",
                    "robot_file": str(robot)}
        writer = DemoWriter(out, "human", Calibration({S.FRONT: calib.intrinsics[S.FRONT]},
                                                      {S.FRONT: calib.image_sizes[S.FRONT]}, {}, {},
                                                      source=f"{calib.source} (robot's Aria)"),
                            arms=info.arms, control_hz=info.control_hz, image_size=info.image_size,
                            env_args=env_args, embodiment="robot-as-human")
        for demo in sorted(f[S.DATA], key=lambda d: int(d.split("_")[1])):
            g = f[S.DATA][demo]
            ee = g[S.OBS][S.EE_POSE][()]
            keep = len(ee) - span
            if keep < 1:
                continue
            idx = np.arange(keep)[:, None] + S.ROBOT_STRIDE * np.arange(S.CHUNK)[None]
            obs = {k: g[S.OBS][k][:keep] for k in KEPT_OBS}
            attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v)
                     for k, v in g.attrs.items() if k in ("episode", "seed", "start")}
            names.append(writer.write_demo(obs, {"xyz_act": ee[idx]}, {**attrs, "robot_demo": demo}))
    if not names:
        raise UserError(f"{robot}: no demo is longer than one chunk ({span + 1} steps); record longer demos "
                        f"(--max-steps, no --stop-after-points)")
    return names
