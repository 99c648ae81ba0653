#!/bin/bash
# session 2026-12-05 (f), replacing chain e after its first grid: the label-horizon rung (transfer_horizon, the
# person_v2 recordings converted with human_horizon = "robot"), then seeds 1-2 of the colour axis and of rungs 1+2.
# Rerun to resume (each grid keeps finished cells; restores and copies skip what is there).
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
while pgrep -f "egogym ablate exp/transfer_person_v2.toml" > /dev/null; do sleep 20; done
mkdir -p $A/transfer_horizon/data $A/transfer_horizon/cells
cp -n $A/transfer_person_v2/data/robot_200.* $A/transfer_horizon/data/
[ -e $A/transfer_horizon/data/human_recordings ] || cp -rl $A/transfer_person_v2/data/human_recordings $A/transfer_horizon/data/
cp -rn $A/transfer_person_v2/cells/r200_h0_base_s0 $A/transfer_horizon/cells/
.venv/bin/egogym ablate exp/transfer_horizon.toml --out $A/transfer_horizon --jobs 2 >> $A/transfer_horizon.log 2>&1
exp/ablation_cells.sh restore $A/transfer_colours $R/transfer_colours_cells
.venv/bin/egogym ablate exp/transfer_colours.toml --out $A/transfer_colours --jobs 2 >> $A/transfer_colours.log 2>&1
name=transfer_robotlook
exp/ablation_cells.sh restore $A/$name $R/${name}_cells
cp -rn $A/transfer/cells/r200_h0_* $A/$name/cells/
mkdir -p $A/$name/data && cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/
.venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
