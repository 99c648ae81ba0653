# Sourced by the session chains (exp/chain_*.sh): run one issue-24 grid, resumably.
#   run NAME [CELLS...]: restore NAME's saved cells (docs/results/NAME_cells), share the robot data of an earlier
#   grid (every issue-24 grid collects the same robot_200: data seed 0, same options), copy reference cells
#   (robot-only runs, restored from docs/results/ where the machine is fresh) in, then
#   `egogym ablate exp/NAME.toml` (log /work/ablations/NAME.log).
# Human recordings are not shared: transfer_person_v2's are version 2, which collection refuses to extend.
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
A=/work/ablations
R=docs/results
run() {
  local name=$1; shift
  [ -d $R/${name}_cells ] && exp/ablation_cells.sh restore $A/$name $R/${name}_cells
  mkdir -p $A/$name/data $A/$name/cells
  for d in $A/*/data; do [ -e $d/robot_200.hdf5 ] && [ $d != $A/$name/data ] && { cp -n $d/robot_200.* $A/$name/data/; break; }; done
  for c in "$@"; do cp -rn $c $A/$name/cells/; done
  .venv/bin/egogym ablate exp/$name.toml --out $A/$name --jobs 2 >> $A/$name.log 2>&1
}
