"""Shared fixtures of the human-data tests: two short simulated recordings at 96x128."""
from __future__ import annotations

import numpy as np
import pytest

import egogym.sim  # noqa: F401  (sets MUJOCO_GL)

# Only the modules that read MPS outputs or VRS files skip without the aria extra (each says so
# at its top); the frame math of test_frames.py is pure numpy and always runs.

SIZE = (96, 128)
SEEDS = (11, 12)


@pytest.fixture(scope="session")
def sim_recordings(tmp_path_factory):
    """Two recordings of the simulated human (seeds SEEDS) at SIZE; returns their folders."""
    from egogym.sim.human import HumanConfig, HumanDemonstrator

    root = tmp_path_factory.mktemp("human_recordings")
    out = []
    with HumanDemonstrator(HumanConfig(image_size=SIZE)) as h:
        for s in SEEDS:
            out.append(h.record_episode(s, root / f"ep{s}"))
    return out


@pytest.fixture(scope="session")
def human_h5(sim_recordings, tmp_path_factory):
    """The recordings converted with the CLI (`egogym convert aria ...`)."""
    from egogym.cli import main

    path = tmp_path_factory.mktemp("human_h5") / "human.hdf5"
    code = main(["convert", "aria", *map(str, sim_recordings), "--out", str(path), "--no-progress"])
    assert code == 0
    return path


@pytest.fixture(scope="session")
def human_consts():
    """(SIZE, SEEDS, truth_chunks) for the test modules (tests/ is not a package)."""
    return SIZE, SEEDS, truth_chunks


def truth_chunks(truth, keep: np.ndarray, knots: int = 10) -> np.ndarray:
    """Ground-truth palm chunks (M, 100, 3) from the simulator's world positions and
    camera poses: knots inv(T_world_rgb(t)) @ p_world(t+3k), k < knots (past the last
    frame: the last frame), interpolated to 100."""
    from egogym.core import geometry
    from egogym.data.schema import interpolate_chunk

    out = []
    for t in keep:
        idx = np.minimum(t + 3 * np.arange(knots), len(truth["palm_world"]) - 1)
        kn = geometry.transform_points(geometry.invert(truth["T_world_rgb"][t]), truth["palm_world"][idx])
        out.append(interpolate_chunk(kn))
    return np.stack(out)
