#!/bin/bash
# session 2026-12-06 (fifth): the realistic person at 50 fps, three picks in a row, cut as the positive control
# cuts its demos (exp/transfer_person_50hz.toml). Optional argument: a PID to wait for first (the recordings
# being made beforehand with `egogym collect --embodiment human` into the grid's data/human_recordings). Rerun
# to resume: finished cells are no-ops, kept recordings are reused.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
[ -n "$1" ] && while kill -0 "$1" 2> /dev/null; do sleep 30; done
exp/ablation_cells.sh restore $A/transfer_allrungs docs/results/transfer_allrungs_cells > /dev/null
run transfer_person_50hz $A/transfer_allrungs/cells/r200_h0_base_s?
