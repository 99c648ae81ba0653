#!/bin/bash
# session 2026-12-06 (fifth), after chain i: the top of the ladder at 50 fps, three picks in a row, cut as the
# positive control cuts its demos (exp/transfer_allrungs_50hz.toml). Arguments: PIDs to wait for first (the
# realistic-person grid; the recordings being made beforehand into the grid's data/human_recordings). Rerun to
# resume: finished cells are no-ops, kept recordings are reused.
source "$(dirname "$0")/grid_run.sh"  # run NAME [CELLS...]
for pid in "$@"; do while kill -0 "$pid" 2> /dev/null; do sleep 30; done; done
exp/ablation_cells.sh restore $A/transfer_allrungs docs/results/transfer_allrungs_cells > /dev/null
run transfer_allrungs_50hz $A/transfer_allrungs/cells/r200_h0_base_s?
