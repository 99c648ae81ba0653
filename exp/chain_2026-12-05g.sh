#!/bin/bash
# session 2026-12-05 (g), replacing chain f after its transfer_horizon grid: the top of the ladder
# (transfer_allrungs), then seeds 1-2 of the colour axis and of rungs 1+2. Rerun to resume (each grid keeps
# finished cells; restores and copies skip what is there).
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
while pgrep -f "egogym ablate exp/transfer_(person_v2|horizon).toml|allrungs_pre" > /dev/null; do sleep 20; done
mkdir -p $A/transfer_allrungs/data $A/transfer_allrungs/cells
cp -n $A/transfer_person_v2/data/robot_200.* $A/transfer_allrungs/data/
cp -rn $A/transfer_person_v2/cells/r200_h0_base_s0 $A/transfer_allrungs/cells/
.venv/bin/egogym ablate exp/transfer_allrungs.toml --out $A/transfer_allrungs --jobs 2 >> $A/transfer_allrungs.log 2>&1
exp/ablation_cells.sh restore $A/transfer_colours $R/transfer_colours_cells
.venv/bin/egogym ablate exp/transfer_colours.toml --out $A/transfer_colours --jobs 2 >> $A/transfer_colours.log 2>&1
name=transfer_robotlook
exp/ablation_cells.sh restore $A/$name $R/${name}_cells
cp -rn $A/transfer/cells/r200_h0_* $A/$name/cells/
mkdir -p $A/$name/data && cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/
.venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
