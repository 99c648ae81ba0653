#!/bin/bash
# session 2026-12-06 (second): the action-gap rung (every rung + grip, the hand replaying the expert's executed
# pinch path for the same seed; exp/transfer_replay.toml), 3 seeds, EgoMimic and pinch_early, the robot-only
# runs shared. Rerun to resume: the grid keeps its finished cells and recordings.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
run transfer_replay $A/transfer_allrungs/cells/r200_h0_base_s?
