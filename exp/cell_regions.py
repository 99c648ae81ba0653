"""Per-cell success inside / outside the robot demos' region, per training seed, and train/eval walls.

    .venv/bin/python exp/cell_regions.py /work/ablations/recipe2

The report pools training seeds; this lists the runs one by one (docs/RESULTS.md's per-seed
tables), with the report's own region split and record reader."""
import json
import sys
from pathlib import Path

from egogym.eval.ablation.config import config_from_dict
from egogym.eval.ablation.report import cell_records, in_region, split_regions

out = Path(sys.argv[1])
cfg = config_from_dict(json.loads((out / "ablation_config.json").read_text()))
robot_region, _ = split_regions(cfg)
for marker in sorted(out.glob("cells/*/cell.json")):
    result = json.loads(marker.read_text())
    records = cell_records(cfg, result, out)
    inside = [r["success"] for r in records if in_region(r["start"]["toy_xy"], robot_region)]
    outside = [r["success"] for r in records if not in_region(r["start"]["toy_xy"], robot_region)]
    print(f"{marker.parent.name:24s} inside {sum(inside)}/{len(inside)} = {100 * sum(inside) / len(inside):.1f}%"
          f"  outside {sum(outside)}/{len(outside)}  train {result['train_seconds']:.0f} s"
          f"  eval {result['eval_seconds']:.0f} s")
