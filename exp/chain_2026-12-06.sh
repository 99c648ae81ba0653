#!/bin/bash
# session 2026-12-06 (first), in the order it runs: the literature's bridges (EgoBridge's OT with and without
# pinch_early, DANN) on the realistic person after the bowl fix, 3 seeds; 800 realistic human demos (EgoMimic and
# pinch_early, 3 seeds); then the label-point rung (every rung + grip) at seeds 1-2. Rerun to resume: each grid keeps its finished cells, the copies skip what is there.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
while pgrep -f "egogym ablate exp/transfer_person_bridges.toml" > /dev/null; do sleep 30; done  # a first start
cp -n $A/transfer_person_v2/data/human_200.* $A/transfer_person_bridges/data/ 2>/dev/null \
  || { mkdir -p $A/transfer_person_bridges/data && cp -n $A/transfer_person_v2/data/human_200.* $A/transfer_person_bridges/data/; }
run transfer_person_bridges $A/transfer/cells/r200_h0_base_s? $A/transfer_person_v2/cells/r200_h200_base_s?
run transfer_person_800 $A/transfer/cells/r200_h0_base_s?
run transfer_grip $A/transfer_allrungs/cells/r200_h0_base_s?  # its data and seed-0 cells are there already
