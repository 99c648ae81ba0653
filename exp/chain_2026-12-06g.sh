#!/bin/bash
# session 2026-12-06 (third), on a fresh machine: the robot-only reference cells come back from docs/results
# (transfer_allrungs_cells, transfer_cells); robot_200 is collected once by the first grid and shared. Runs every
# rung + grip at recording version 5 (exp/transfer_grip_clip.toml), the replay at 50 Hz with 400-step demos
# (exp/transfer_replay_50hz.toml), then seeds 1-2 of the ladder rows that had one. Rerun to resume: finished
# grids are no-ops.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
exp/ablation_cells.sh restore $A/transfer_allrungs docs/results/transfer_allrungs_cells > /dev/null
exp/ablation_cells.sh restore $A/transfer docs/results/transfer_cells > /dev/null
run transfer_grip_clip $A/transfer_allrungs/cells/r200_h0_base_s?
run transfer_replay_50hz $A/transfer_allrungs/cells/r200_h0_base_s?
for name in transfer_robotall transfer_robothead transfer_horizon; do
  run $name $A/transfer/cells/r200_h0_base_s?
done
