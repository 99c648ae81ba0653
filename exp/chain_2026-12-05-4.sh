#!/bin/bash
# session 2026-12-05 (fourth), in the order it ran: training seeds 1-2 of the top of the ladder (every rung), then
# the label-point rung. Rerun to resume: each grid keeps its finished cells, the copies skip what is there.
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
run() {  # run NAME [CELLS...]: as in exp/chain_2026-12-05e.sh
  local name=$1; shift
  [ -d $R/${name}_cells ] && exp/ablation_cells.sh restore $A/$name $R/${name}_cells
  mkdir -p $A/$name/data $A/$name/cells
  cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/ 2>/dev/null
  for c in "$@"; do cp -rn $c $A/$name/cells/; done
  .venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
}
run transfer_allrungs $A/transfer/cells/r200_h0_base_s*
# the label-point rung: transfer_allrungs' recordings converted again with human_point = "grip"
mkdir -p $A/transfer_grip/data
[ -e $A/transfer_grip/data/human_recordings ] || cp -rl $A/transfer_allrungs/data/human_recordings $A/transfer_grip/data/
run transfer_grip $A/transfer_allrungs/cells/r200_h0_base_s0
