"""Layer 3, the MuJoCo twin: scene building, `SimBackend`, scripted experts and the simulated
Aria demonstrator. Importing it imports MuJoCo, so offscreen rendering is configured here,
before MuJoCo loads: EGL works with Mesa on a CPU-only machine (`MUJOCO_GL` may override it)."""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
