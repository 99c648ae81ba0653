#!/bin/bash
# session 2026-12-06 (second), after exp/chain_2026-12-06b.sh: the replay rung with the robot's own images
# (exp/transfer_replay_exact.toml); every rung + grip recorded without the clipping cue (exp/transfer_grip_clip.toml);
# then the ladder rows that had one training seed (rungs 1+2+3, rung 1, the label horizon) get seeds 1-2.
# Rerun to resume: each grid keeps its finished cells and recordings.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
while pgrep -f "chain_2026-12-06b.sh" > /dev/null; do sleep 30; done
run transfer_replay_exact $A/transfer_allrungs/cells/r200_h0_base_s?
run transfer_grip_clip $A/transfer_allrungs/cells/r200_h0_base_s?
for name in transfer_robotall transfer_robothead transfer_horizon; do
  run $name $A/transfer/cells/r200_h0_base_s?
done
