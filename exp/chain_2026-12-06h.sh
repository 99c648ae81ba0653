#!/bin/bash
# session 2026-12-06 (fourth): the replay rung at 50 fps cut as the positive control cuts its demos
# (exp/transfer_replay_50hz_whole.toml: the recordings of transfer_replay_50hz, shared through a link, converted
# with the robot chunk's own times), then the 50 Hz grid itself, then seeds 1-2 of the ladder rows that had
# one. On a fresh machine the robot-only reference cells come back from docs/results; rerun to resume:
# finished grids are no-ops. Optional argument: a PID to wait for first (a grid already running).
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
[ -n "$1" ] && while kill -0 "$1" 2> /dev/null; do sleep 30; done
exp/ablation_cells.sh restore $A/transfer_allrungs docs/results/transfer_allrungs_cells > /dev/null
exp/ablation_cells.sh restore $A/transfer docs/results/transfer_cells > /dev/null
mkdir -p $A/transfer_replay_50hz/data/human_recordings $A/transfer_replay_50hz_whole/data
[ -e $A/transfer_replay_50hz_whole/data/human_recordings ] ||
  ln -s $A/transfer_replay_50hz/data/human_recordings $A/transfer_replay_50hz_whole/data/human_recordings
run transfer_replay_50hz_whole $A/transfer_allrungs/cells/r200_h0_base_s?
run transfer_replay_50hz $A/transfer_allrungs/cells/r200_h0_base_s?
for name in transfer_robotall transfer_robothead transfer_horizon; do
  run $name $A/transfer/cells/r200_h0_base_s?
done
