#!/bin/bash
# session 2026-12-05 (fourth), in the order it ran: training seeds 1-2 of the top of the ladder (every rung), then
# wrist dropout on the top of the ladder and on the realistic person (3 seeds each), the label-point rung (seed 0),
# and the quick start's two policies on 200 held-out in-region seeds. Rerun to resume: each grid keeps its
# finished cells, the copies skip what is there.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
while pgrep -f "egogym ablate exp/transfer_allrungs.toml" > /dev/null; do sleep 30; done  # a start of this script before the wrist-dropout arms
run transfer_allrungs $A/transfer/cells/r200_h0_base_s*
run transfer_person_v2 $A/transfer/cells/r200_h0_*
# the label-point rung: transfer_allrungs' recordings converted again with human_point = "grip"
mkdir -p $A/transfer_grip/data
[ -e $A/transfer_grip/data/human_recordings ] || cp -rl $A/transfer_allrungs/data/human_recordings $A/transfer_grip/data/
run transfer_grip $A/transfer_allrungs/cells/r200_h0_base_s0
# the quick start's two policies (fresh clone of 2026-12-05, /tmp/fresh) on 200 held-out seeds inside the robot region
for c in r60_h0_base_s0 r60_h40_base_s0; do
  [ -e $A/qs_eval_$c/summary.json ] || .venv/bin/egogym eval --policy /tmp/fresh/quickstart/cells/$c/run --episodes 200 \
    --seed 100000 --max-steps 500 --image-size 64 64 --task-option 'toy_region=[[0.08,0.30],[-0.36,-0.19]]' \
    --stop-on-success --workers 2 --out $A/qs_eval_$c > $A/qs_eval_$c.log 2>&1
done
