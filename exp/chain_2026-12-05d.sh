#!/bin/bash
# session 2026-12-05 (d): after the colour axis, the realistic human after the bowl fix, then the ladder's
# rungs 1+2+3, 1+2 and 1. Rerun to resume (finished cells are kept; the copies skip what is there).
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
while pgrep -f "egogym ablate exp/transfer_colours.toml" > /dev/null; do sleep 20; done
.venv/bin/egogym ablate exp/transfer_colours.toml --out $A/transfer_colours --jobs 2 >> $A/transfer_colours.log 2>&1
# same [data] robot fields as transfer_person: its robot data and robot-only cells
for name in transfer_person_v2 transfer_robotall transfer_robotlook transfer_robothead; do
  mkdir -p $A/$name/data $A/$name/cells
  cp -n $A/transfer_person/data/robot_200.* $A/$name/data/ 2>/dev/null
  cp -rn $A/transfer_person/cells/r200_h0_* $A/$name/cells/
  .venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
done
