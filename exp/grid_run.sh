# Sourced by the session chains (exp/chain_*.sh): run one issue-24 grid, resumably.
#   run NAME [CELLS...]: restore NAME's saved cells (docs/results/NAME_cells), share transfer_person_v2's robot
#   data, copy reference cells (robot-only runs) in, then `egogym ablate exp/NAME.toml` (log /work/ablations/NAME.log).
# Human recordings are not shared: transfer_person_v2's are version 2, which collection refuses to extend.
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
run() {
  local name=$1; shift
  [ -d $R/${name}_cells ] && exp/ablation_cells.sh restore $A/$name $R/${name}_cells
  mkdir -p $A/$name/data $A/$name/cells
  cp -n $A/transfer_person_v2/data/robot_200.* $A/$name/data/ 2>/dev/null
  for c in "$@"; do cp -rn $c $A/$name/cells/; done
  .venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
}
