#!/bin/bash
# session 2026-12-05 (b): the bridges on the realistic human, the colour axis, then rung 1. Rerun to resume
# (each grid keeps its finished cells; restores of committed cells skip what is already there).
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
exp/ablation_cells.sh restore $A/transfer_person docs/results/transfer_person_cells
.venv/bin/egogym ablate exp/transfer_person.toml --out $A/transfer_person --jobs 2 >> $A/transfer_person.log 2>&1
.venv/bin/egogym ablate exp/transfer_colours.toml --out $A/transfer_colours --jobs 2 >> $A/transfer_colours.log 2>&1
# rung 1: same robot data and robot-only cells as transfer_person (same [data] robot fields)
mkdir -p $A/transfer_robothead/data $A/transfer_robothead/cells
cp -n $A/transfer_person/data/robot_200.* $A/transfer_robothead/data/ 2>/dev/null
cp -rn $A/transfer_person/cells/r200_h0_* $A/transfer_robothead/cells/
.venv/bin/egogym ablate exp/transfer_robothead.toml --out $A/transfer_robothead --jobs 2 >> $A/transfer_robothead.log 2>&1
