#!/usr/bin/env bash
# exp/train_eval_region.sh NAME STEPS DATA [train args...]: train robot-only (--threads 1) into
# /work/qs5/runs/NAME, then `egogym eval` on 200 held-out placements in the robot region (seeds 100000+).
set -u
export MUJOCO_GL=egl
cd /work/main
name=$1; steps=$2; data=$3; shift 3
run=/work/qs5/runs/$name
mkdir -p /work/qs5/runs /work/qs5/evals
if [ ! -f "$run/train_wall_s" ]; then
  t0=$(date +%s.%N)
  .venv/bin/egogym train --preset cpu --robot "$data" --out "$run" --steps "$steps" --threads 1 --no-progress "$@" || exit 1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc > "$run/train_wall_s"
fi
echo "train wall: $(cat $run/train_wall_s) s"
.venv/bin/egogym eval --policy "$run" --episodes 200 --seed 100000 --max-steps 500 --image-size 64 64 \
  --task-option 'toy_region=[[0.08,0.30],[-0.36,-0.19]]' --stop-on-success --workers 1 --out /work/qs5/evals/$name 2>&1 | tail -2
