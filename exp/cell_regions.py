"""Per-cell success inside / outside the robot demos' region, per training seed, and train/eval walls.

    .venv/bin/python exp/cell_regions.py /work/ablations/recipe2

Reads each finished cell's cell.json and eval/episodes.jsonl; the region is the grid's own
`[data] robot_task_options.toy_region` (ablation_config.json). The report pools seeds; this
lists them one by one (docs/RESULTS.md's per-seed tables)."""
import glob
import json
import os
import sys

out = sys.argv[1]
(x0, x1), (y0, y1) = json.load(open(f"{out}/ablation_config.json"))["data"]["robot_task_options"]["toy_region"]
for marker in sorted(glob.glob(f"{out}/cells/*/cell.json")):
    cdir = os.path.dirname(marker)
    cell = json.load(open(marker))
    recs = [json.loads(line) for line in open(f"{cdir}/eval/episodes.jsonl")]
    inside = [r["success"] for r in recs if x0 <= r["start"]["toy_xy"][0] <= x1 and y0 <= r["start"]["toy_xy"][1] <= y1]
    outside = [r["success"] for r in recs if not (x0 <= r["start"]["toy_xy"][0] <= x1 and y0 <= r["start"]["toy_xy"][1] <= y1)]
    print(f"{os.path.basename(cdir):24s} inside {sum(inside)}/{len(inside)} = {100 * sum(inside) / max(len(inside), 1):.1f}%"
          f"  outside {sum(outside)}/{len(outside)}  train {cell['train_seconds']:.0f} s  eval {cell['eval_seconds']:.0f} s")
