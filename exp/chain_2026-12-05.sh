#!/bin/bash
# session 2026-12-05: 3 seeds of the positive control, its ceiling, then the bridge on the natural human. Rerun to resume.
cd /work/main
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
.venv/bin/egogym ablate transfer --out /work/ablations/transfer --jobs 2 >> /work/ablations/transfer.log 2>&1
exp/oracle_full_table.sh /work/ablations/transfer_norm 200 1 /work/oracle_full >> /work/oracle_full/log 2>&1 &
exp/oracle_full_table.sh /work/ablations/transfer_norm 200 2 /work/oracle_full >> /work/oracle_full/log 2>&1
wait
.venv/bin/egogym ablate /work/exp/transfer_person.toml --out /work/ablations/transfer_person --jobs 2 >> /work/ablations/transfer_person.log 2>&1
.venv/bin/egogym ablate /work/exp/transfer_robot_pinch.toml --out /work/ablations/transfer_robot_pinch --jobs 2 >> /work/ablations/transfer_robot_pinch.log 2>&1
