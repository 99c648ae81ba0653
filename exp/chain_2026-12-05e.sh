#!/bin/bash
# session 2026-12-05 (third), in the order it ran: training seeds 1-2 of the realistic person (after the bowl fix),
# the label-horizon rung, the top of the ladder (every rung), the quick start in a fresh clone (timed, nothing else
# running), then seeds 1-2 of the colour axis and of rungs 1+2. Rerun to resume: each grid keeps its finished cells,
# and the restores and copies skip what is there.
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results

# run NAME [CELLS...]: the grid exp/NAME.toml, with its committed cells restored and, from `transfer_person_v2`
# (the same [data] robot fields), the robot data and the named robot-only cells copied in.
run() {
  local name=$1; shift
  [ -d $R/${name}_cells ] && exp/ablation_cells.sh restore $A/$name $R/${name}_cells
  mkdir -p $A/$name/data $A/$name/cells
  [ $name = transfer_colours ] || cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/ 2>/dev/null
  for c in "$@"; do cp -rn $c $A/$name/cells/; done
  .venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
}

# robot-only seeds 0-2 with the same [data] robot fields: the `transfer` grid's (positive control) cells
exp/ablation_cells.sh restore $A/transfer $R/transfer_cells
run transfer_person_v2 $A/transfer/cells/r200_h0_*
# the same recordings as transfer_person_v2, converted with human_horizon = "robot"
mkdir -p $A/transfer_horizon/data
[ -e $A/transfer_horizon/data/human_recordings ] || cp -rl $A/transfer_person_v2/data/human_recordings $A/transfer_horizon/data/
run transfer_horizon $A/transfer_person_v2/cells/r200_h0_base_s0
run transfer_allrungs $A/transfer_person_v2/cells/r200_h0_base_s0
if [ ! -e /tmp/fresh/quickstart/report.md ]; then
  rm -rf /tmp/fresh && git clone -q /work/main /tmp/fresh
  (cd /tmp/fresh && bash .ci/setup.sh > $A/qs_setup.log 2>&1 &&
   /usr/bin/time -v .venv/bin/egogym quickstart --out quickstart > $A/qs.log 2>&1)
fi
run transfer_colours
run transfer_robotlook $A/transfer/cells/r200_h0_*
