#!/bin/bash
# The positive control's ceiling (issue 24): robot-only ACT on the positive control's own full-table
# robot demos (an ablation folder's data/human_<n>.robot.hdf5: the scripted robot's demos before they
# were stored as the human domain), trained and evaluated as the ablation's cells are.
#   exp/oracle_full_table.sh ABLATION_OUT N SEED OUT   (resumable: rerun the same command)
set -e
SRC=$1/data/human_$2.robot.hdf5; S=$3; OUT=$4
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
mkdir -p "$OUT"
F=$OUT/full_$2.hdf5
[ -e "$OUT/split.done" ] || { cp "$SRC" "$F" && .venv/bin/egogym split "$F" --valid-fraction 0.1 --seed 0 && touch "$OUT/split.done"; }
R=$OUT/run_s$S
if [ -e "$R/LATEST" ]; then RES=--resume; else RES=; fi
.venv/bin/egogym train --preset cpu --robot "$F" --out "$R" --steps 3000 --set train.seed="$S" --threads 1 --no-progress $RES
E=$OUT/eval_s$S
if [ -e "$E/episodes.jsonl" ]; then RES=--resume; else RES=; fi
.venv/bin/egogym eval --policy "$R" --episodes 200 --seed 100000 --max-steps 500 --image-size 64 64 --stop-on-success \
  --workers 2 --out "$E" $RES
.venv/bin/python - "$E/episodes.jsonl" <<'PY'
import json, sys  # inside / outside the transfer config's robot region (toy y <= -0.19 m)
rs = [json.loads(line) for line in open(sys.argv[1])]
for name, keep in (("inside", lambda y: y <= -0.19), ("outside", lambda y: y > -0.19)):
    sel = [r["success"] for r in rs if keep(r["start"]["toy_xy"][1])]
    print(f"{name}: {sum(sel)}/{len(sel)}")
PY
