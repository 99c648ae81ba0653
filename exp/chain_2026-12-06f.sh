#!/bin/bash
# session 2026-12-06 (second), replacing chain_2026-12-06e.sh during its second grid: waits for the replay with the
# robot's own policy input (exp/transfer_replay_line.toml), then the same with perfect hand tracking
# (exp/transfer_replay_nodrop.toml), every rung + grip at recording version 5 (exp/transfer_grip_clip.toml), and
# the ladder rows that had one training seed get seeds 1-2. Rerun to resume: finished grids are no-ops.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
while pgrep -f "egogym ablate exp/transfer_replay_line.toml" > /dev/null; do sleep 30; done
run transfer_replay_line $A/transfer_allrungs/cells/r200_h0_base_s?
run transfer_replay_nodrop $A/transfer_allrungs/cells/r200_h0_base_s?
run transfer_grip_clip $A/transfer_allrungs/cells/r200_h0_base_s?
for name in transfer_robotall transfer_robothead transfer_horizon; do
  run $name $A/transfer/cells/r200_h0_base_s?
done
