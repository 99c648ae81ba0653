#!/usr/bin/env bash
# Sets egogym up on a fresh Debian machine: GL libraries for offscreen MuJoCo rendering,
# a virtual env at .venv, and the package with its training, test, Aria, Ray and remote-policy extras.
# Idempotent: a second run installs nothing new. Used by both README commands and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
# --tests: also build .venv-sam2 for the SAM2 and LeRobot integration tests (the main job does not need it).
WITH_SAM2=0
[ "${1:-}" = "--tests" ] && WITH_SAM2=1

GL_PACKAGES="libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgles2"
missing=""
for p in $GL_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
# torch==2.13.0 (in the train extra) is the CPU build; never ask for an open range.
if ! .venv/bin/python -c "import egogym.policies, egogym.eval, torch, ot, pytest, projectaria_tools, ray, websockets, msgpack" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.egogym-installed ]; then
  echo "setup: installing egogym and its dependencies into .venv (a few minutes the first time)"
  .venv/bin/pip install -q --disable-pip-version-check -e ".[train,test,aria,ray,remote]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import egogym.policies, egogym.eval, torch, ot, pytest, projectaria_tools, ray, websockets, msgpack"
  touch .venv/.egogym-installed
fi

# SAM2 and LeRobot's dataset library need torch 2.14.1 + torchvision, which cannot share .venv's torch
# 2.13.0: a venv of its own for tests/human/test_sam2_real.py (REFERENCE §9), tests/data/test_lerobot.py
# and `.venv-sam2/bin/egogym export|import lerobot`. lerobot-dataset (import name ledataset) comes last:
# it pins numpy<2.3 (through opencv-python-headless), packaging<26 and setuptools<81, and egogym's data
# layer (h5py, hdf5plugin, tqdm) comes with it. triton (brought by that torch build) is removed:
# its LLVM clashes with Mesa's llvmpipe EGL that egogym loads (segfault); SAM2 on a CPU never uses it.
S2CHECK="import sam2, torchvision, egogym.data.sam2_masks, ledataset.datasets.lerobot_dataset, h5py, hdf5plugin, egogym.data.lerobot"
if [ "$WITH_SAM2" = 1 ] && ! .venv-sam2/bin/python -c "$S2CHECK" 2>/dev/null; then
  echo "setup: creating .venv-sam2 for the SAM2 and LeRobot tests (a few minutes the first time)"
  [ -x .venv-sam2/bin/python ] || python3 -m venv .venv-sam2
  S2PIP=".venv-sam2/bin/pip install -q --disable-pip-version-check"
  { $S2PIP torch==2.14.1 torchvision==0.29.1 setuptools wheel
    SAM2_BUILD_CUDA=0 $S2PIP --no-build-isolation sam2==1.1.0
    $S2PIP mujoco==3.17.0 dm-control==1.0.50 gymnasium==1.4.0
    $S2PIP lerobot-dataset==0.4.4 "h5py>=3.10" "hdf5plugin>=4.0" "tqdm>=4.66"
    $S2PIP --no-deps -e .
    .venv-sam2/bin/pip uninstall -q -y triton; } 2>&1 \
    | grep -v "^WARNING: Location\|^ERROR: pip's dependency resolver\|^egogym 0.[0-9.]* requires\|does not provide the extra" || true
  .venv-sam2/bin/python -c "$S2CHECK"
fi
echo "setup: ready (.venv$([ "$WITH_SAM2" = 1 ] && echo ", .venv-sam2"))"
