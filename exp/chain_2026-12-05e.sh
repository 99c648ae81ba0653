#!/bin/bash
# session 2026-12-05 (e): training seeds 1 and 2 for the realistic person (after the bowl fix), rungs 1+2 and the
# colour axis. Rerun to resume (each grid keeps finished cells; restores and copies skip what is there).
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
# robot-only seeds 0-2 with the same [data] robot fields: the `transfer` grid's (positive control) cells
exp/ablation_cells.sh restore $A/transfer $R/transfer_cells
for name in transfer_person_v2 transfer_robotlook; do
  exp/ablation_cells.sh restore $A/$name $R/${name}_cells
  cp -rn $A/transfer/cells/r200_h0_* $A/$name/cells/
  [ -e $A/transfer_person_v2/data/robot_200.hdf5 ] && mkdir -p $A/$name/data && cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/
  .venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
done
exp/ablation_cells.sh restore $A/transfer_colours $R/transfer_colours_cells
.venv/bin/egogym ablate exp/transfer_colours.toml --out $A/transfer_colours --jobs 2 >> $A/transfer_colours.log 2>&1
