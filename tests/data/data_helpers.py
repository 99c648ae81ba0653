"""Small synthetic data for the data-layer tests: tiny images, few steps."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from egogym.core import geometry
from egogym.data import schema as S
from egogym.data.writer import DemoWriter
from egogym.core.spec import Calibration

H, W = 24, 32


def calibration(size=(H, W)) -> Calibration:
    K = geometry.intrinsics(13.3 * size[0] / H, *size)  # focal scales with the image
    T = np.eye(4)
    T[:3, 3] = [0.1, -0.2, 0.5]
    return Calibration({S.FRONT: K, S.RIGHT_WRIST: K, S.LEFT_WRIST: K},
                       {S.FRONT: size, S.RIGHT_WRIST: size, S.LEFT_WRIST: size},
                       {"right": T, "left": T}, source="test")


def robot_demo(T: int, rng: np.random.Generator, arms=("right",)):
    n = len(arms)
    img = lambda: rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)  # noqa: E731
    obs = {S.FRONT: img(), S.FRONT_MASKED: img(), S.FRONT_LINE: img(),
           S.JOINT_POSITIONS: rng.normal(size=(T, 7 * n)), S.EE_POSE: rng.normal(size=(T, 3 * n))}
    for a in arms:
        obs[S.WRIST_OF_ARM[a]] = img()
    return obs, {"joints": rng.normal(size=(T, 7 * n))}


def human_demo(T: int, rng: np.random.Generator):
    img = lambda: rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)  # noqa: E731
    obs = {S.FRONT: img(), S.FRONT_MASKED: img(), S.FRONT_LINE: img(),
           S.FRONT_MASK: rng.random((T, H, W)) < 0.3, S.EE_POSE: rng.normal(size=(T, 3))}
    return obs, {"xyz_act": rng.normal(size=(T, S.CHUNK, 3))}


def writer(path: Path, domain="robot", arms="right", **kw) -> DemoWriter:
    return DemoWriter(path, domain, calibration(), arms=arms, control_hz=50.0 if domain == "robot" else 30.0,
                      image_size=(H, W), env_args={"test": True}, **kw)


def write_robot_file(path: Path, lengths=(5, 60, 230), seed=0, **kw) -> list[tuple[dict, dict]]:
    rng = np.random.default_rng(seed)
    demos = []
    with writer(path, "robot", **kw) as w:
        for T in lengths:
            obs, act = robot_demo(T, rng)
            w.write_demo(obs, act, attrs={"seed": seed})
            demos.append((obs, act))
    return demos


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def spawn_writer(script_template: str, folder: Path, out: Path):
    """Run a writer script (a template with `{here}` for this folder, so it can import these
    helpers) in a child process on `out`; its stdout is a pipe of text lines. For SIGKILL tests."""
    import os
    import subprocess
    import sys

    script = Path(folder) / f"{Path(out).stem}_writer.py"
    script.write_text(script_template.format(here=os.path.dirname(__file__)))
    return subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, text=True)


def kill_and_read(proc, delay: float, first_lines: list[str]):
    """SIGKILL the writer `delay` s from now, then (every name it printed: `first_lines` plus
    the rest of its stdout, "mid" markers dropped; the file as EgoDataset reads it back). The
    dataset's read warns about the recovered journal; the caller checks what it found."""
    import os
    import signal
    import time
    import warnings

    from egogym.data.reader import EgoDataset

    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = list(first_lines) + [x for x in proc.stdout.read().split() if x != "mid"]
    proc.stdout.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = EgoDataset(proc.args[-1], split="all")
    return finished, ds
