"""The action gap at the first frame: how far a human demo's first chunk lies from the robot demo's
whose toy started nearest, for toys inside the robot demos' region (issue 24).

    python exp/action_gap.py ROBOT.hdf5 HUMAN.hdf5 [HUMAN.hdf5 ...]

Per human file (and, as the positive control's reference, the robot file against itself, leaving each
demo out): over human demos whose toy started inside the robot region (y <= -0.19 m), matched to the
robot demo with the nearest toy start (same toy shape), the median of: the toy-start distance of the
match, the start point's distance (chunk point 0), the mean distance over the 100 chunk points, and the
end point's distance (cm; camera frame of t = 0, as the pose head predicts). Where both domains hold the
same first image and different chunks, one network must tell the domains apart to fit both: the action
gap is what a co-trained model cannot share."""
import json
import sys
from pathlib import Path

import h5py
import numpy as np

from egogym.data import schema as S
from egogym.data.reader import demo_action_chunks

REGION_Y_MAX = -0.19


def first_chunks(path: str):
    """[(toy_xy (2,) m, toy shape, first xyz chunk (100, 3) m)] of every demo in a file, the chunk as a
    training sample holds it (`egogym.data.reader.demo_action_chunks`)."""
    out = []
    with h5py.File(path, "r") as f:
        info = S.read_file_info(f, path)
        for k in sorted(f[S.DATA]):
            g = f[S.DATA][k]
            start = (json.loads(g.attrs["start"]) if "start" in g.attrs else
                     json.loads((Path(g.attrs["recording"]) / "recording.json").read_text())["start"])
            chunk = demo_action_chunks(g, info, S.XYZ_ACT, 0, 1)[0]
            out.append((np.asarray(start["toy_xy"]), start["toy"], chunk))
    return out


def gap(humans, robots, leave_one_out: bool) -> dict:
    rows = []
    for i, (xy, toy, ch) in enumerate(humans):
        if xy[1] > REGION_Y_MAX:
            continue
        cand = [(np.linalg.norm(rxy - xy), j) for j, (rxy, rtoy, _) in enumerate(robots)
                if rtoy == toy and not (leave_one_out and j == i)]
        d_toy, j = min(cand)
        r = robots[j][2]
        n = min(len(ch), len(r))
        d = np.linalg.norm(ch[:n] - r[:n], axis=1)
        rows.append((d_toy, d[0], d.mean(), d[-1]))
    a = np.asarray(rows) * 100
    med = np.median(a, axis=0)
    return {"demos": len(rows), "toy_match_cm": med[0], "start_cm": med[1], "mean_cm": med[2], "end_cm": med[3]}


if __name__ == "__main__":
    robot_file, *human_files = sys.argv[1:]
    robots = first_chunks(robot_file)
    print("| human demos | matched demos | toy start apart | chunk start apart | chunk mean apart | chunk end apart |")
    print("|---|---|---|---|---|---|")
    for name, rows in [("robot demos, each against its nearest other (the positive control's case)",
                        gap(robots, robots, True))] + [(h, gap(first_chunks(h), robots, False)) for h in human_files]:
        print(f"| {name} | {rows['demos']} | {rows['toy_match_cm']:.1f} cm | {rows['start_cm']:.1f} cm | "
              f"{rows['mean_cm']:.1f} cm | {rows['end_cm']:.1f} cm |")
