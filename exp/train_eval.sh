#!/usr/bin/env bash
# exp/train_eval.sh NAME DATA EPISODES [egogym train args...]
# Trains /work/recipe-out/runs/NAME with --threads 1 (wall time into NAME/train_wall_s), then
# evaluates it with exp/fasteval.py (EPISODES feasible episodes, seeds 100000+, robot region).
set -u
export MUJOCO_GL=egl
cd "$(dirname "$0")/.."
name=$1; data=$2; eps=$3; shift 3
run=/work/recipe-out/runs/$name
mkdir -p /work/recipe-out/runs /work/recipe-out/evals
if [ ! -f "$run/train_wall_s" ]; then
  t0=$(date +%s.%N)
  .venv/bin/egogym train --robot "$data" --out "$run" --threads 1 --no-progress "$@" || exit 1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc > "$run/train_wall_s"
fi
echo "train wall: $(cat $run/train_wall_s) s"
grep valid "$run/metrics.jsonl" | tail -1
if [ "$eps" -gt 0 ]; then
  .venv/bin/python exp/fasteval.py "$run" /work/recipe-out/evals/$name.jsonl --episodes "$eps"
fi
