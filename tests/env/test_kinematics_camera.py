import numpy as np
import pytest

from egogym.core.spec import EGOMIMIC
from egogym.core.kinematics import pinch_in_camera


@pytest.fixture(scope="module")
def sim():
    import mujoco  # a hard dependency: a missing one must fail, not skip
    from egogym.sim.backend import SimBackend
    from egogym.tasks import make_task

    b = SimBackend(EGOMIMIC, make_task("object_in_bowl"), ("left", "right"), ("front_img_1",), (64, 64))
    b.reset(np.random.default_rng(0))
    yield b, mujoco
    b.close()


def test_joint_chunk_fk_matches_the_sim_pinch_point_in_the_aria_frame(sim):
    backend, mujoco = sim
    rng = np.random.default_rng(1)
    arms = tuple(EGOMIMIC.arm(a) for a in ("left", "right"))
    for _ in range(5):
        q = np.concatenate([rng.uniform(a.lower, a.upper) for a in arms])
        for i, a in enumerate(arms):
            backend.data.qpos[backend._qadr[a.name]] = q[7 * i: 7 * i + 6]
        mujoco.mj_forward(backend.model, backend.data)
        want = backend.ee_pose(("left", "right"))
        got = pinch_in_camera(arms, backend.calibration, q)
        np.testing.assert_allclose(got, want, atol=1e-6)
    chunk = np.stack([q] * 4)
    assert pinch_in_camera(arms, backend.calibration, chunk).shape == (4, 6)


def test_fk_refuses_a_wrong_layout(sim):
    backend, _ = sim
    with pytest.raises(ValueError, match="7"):
        pinch_in_camera((EGOMIMIC.arm("right"),), backend.calibration, np.zeros(6))
