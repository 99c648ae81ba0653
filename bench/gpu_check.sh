#!/usr/bin/env bash
# The GPU check of issue 25: collect, train (cpu and paper presets), evaluate, time; one JSON.
#
#   bash bench/gpu_check.sh            # the GPU machine: ~9 minutes, results in $OUT/gpu_check.json
#   bash bench/gpu_check.sh --reduced  # a CPU machine: a minute (tests/package/test_gpu_check.py)
#
# This part picks the Python (EGOGYM_PYTHON, else .venv/bin/python when there, else python3),
# installs what it cannot import from the wheels carried in .whl/ (`python3 bench/gpu_check.py
# wheels` fills it, here, with a network) into GPU_CHECK_SITE (/tmp/site) with egogym itself on
# PYTHONPATH from this checkout, unpacks the GL loaders in .whl/debs/ where libEGL is missing, and
# hands over to bench/gpu_check.py, which does the rest (its docstring says what). Any other
# arguments go to it (--budget S, --out DIR, --work DIR, --procs N).
set -u
T0=$(date +%s.%N)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1

if [ -n "${EGOGYM_PYTHON:-}" ]; then PY=$EGOGYM_PYTHON
elif [ -x .venv/bin/python ]; then PY=$REPO/.venv/bin/python
else PY=$(command -v python3); fi

# Some containers start the command on one core of many: widen the affinity (inherited by every
# child) where taskset can, and say what the processes may use.
NPROC_BEFORE=$(nproc 2>/dev/null || echo unknown)
if command -v taskset >/dev/null 2>&1; then
  taskset -a -p -c "0-$(( $(getconf _NPROCESSORS_ONLN) - 1 ))" $$ >/dev/null 2>&1 || true
fi
echo "gpu_check: cores usable: nproc $NPROC_BEFORE at the start, $(nproc 2>/dev/null) now; $(getconf _NPROCESSORS_ONLN) online" >&2

export MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
VENDOR=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$VENDOR" ] && [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=$VENDOR
fi

# egogym and its simulator stack: from this checkout and the carried wheels when they do not import
export GPU_CHECK_SITE=${GPU_CHECK_SITE:-/tmp/site}
export GPU_CHECK_INSTALL_LOG=${TMPDIR:-/tmp}/gpu_check_install.log
: >"$GPU_CHECK_INSTALL_LOG"
IMPORTS='import egogym, mujoco, dm_control.mjcf, gymnasium, hdf5plugin, h5py, torch'
STATUS=skipped
if ! "$PY" -c "$IMPORTS" >>"$GPU_CHECK_INSTALL_LOG" 2>&1; then
  STATUS=failed
  if compgen -G ".whl/*.whl" >/dev/null; then
    echo "gpu_check: installing $(ls .whl/*.whl | wc -l) wheels into $GPU_CHECK_SITE" >&2
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$GPU_CHECK_SITE" .whl/*.whl >>"$GPU_CHECK_INSTALL_LOG" 2>&1; then
      export PYTHONPATH="$REPO:$GPU_CHECK_SITE${PYTHONPATH:+:$PYTHONPATH}"
      "$PY" -c "$IMPORTS" >>"$GPU_CHECK_INSTALL_LOG" 2>&1 && STATUS=ok
    fi
  else
    echo "gpu_check: $PY cannot import egogym's stack and .whl/ holds no wheels" >>"$GPU_CHECK_INSTALL_LOG"
  fi
fi
export GPU_CHECK_INSTALL_STATUS=$STATUS

# GL loaders for MuJoCo's EGL rendering (device notes: the image may lack them)
GPU_CHECK_GL=present
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL\.so\.1'; then
  GPU_CHECK_GL=missing
  if [ "$(id -u)" = 0 ] && compgen -G ".whl/debs/*.deb" >/dev/null; then
    for f in .whl/debs/*.deb; do dpkg -x "$f" / >>"$GPU_CHECK_INSTALL_LOG" 2>&1; done
    ldconfig
    ldconfig -p 2>/dev/null | grep -q 'libEGL\.so\.1' && GPU_CHECK_GL=unpacked
  fi
fi
export GPU_CHECK_GL
export GPU_CHECK_T0=$T0
export GPU_CHECK_INSTALL_S
GPU_CHECK_INSTALL_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "gpu_check: install $STATUS in $GPU_CHECK_INSTALL_S s, GL $GPU_CHECK_GL, python $PY" >&2
exec "$PY" bench/gpu_check.py --python "$PY" "$@"
