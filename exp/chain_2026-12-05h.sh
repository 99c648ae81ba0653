#!/bin/bash
# session 2026-12-05 (h), replacing chain g after its transfer_allrungs grid: the quick start in a fresh clone
# (timed, nothing else running), then seeds 1-2 of the colour axis and of rungs 1+2. Rerun to resume.
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
while pgrep -f "egogym ablate exp/transfer_allrungs.toml" > /dev/null; do sleep 20; done
if [ ! -e /tmp/fresh/quickstart/report.md ]; then
  rm -rf /tmp/fresh && git clone -q /work/main /tmp/fresh
  (cd /tmp/fresh && bash .ci/setup.sh > /work/ablations/qs_setup.log 2>&1 &&
   /usr/bin/time -v .venv/bin/egogym quickstart --out quickstart > /work/ablations/qs.log 2>&1)
fi
exp/ablation_cells.sh restore $A/transfer_colours $R/transfer_colours_cells
.venv/bin/egogym ablate exp/transfer_colours.toml --out $A/transfer_colours --jobs 2 >> $A/transfer_colours.log 2>&1
name=transfer_robotlook
exp/ablation_cells.sh restore $A/$name $R/${name}_cells
cp -rn $A/transfer/cells/r200_h0_* $A/$name/cells/
mkdir -p $A/$name/data && cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/
.venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
