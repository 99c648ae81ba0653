"""Forward kinematics from the spec against the MuJoCo twin."""
from __future__ import annotations

import numpy as np

from egogym.core import geometry
from egogym.core import kinematics
from egogym.core.spec import EGOMIMIC


def test_fk_matches_the_sim_twin():
    from egogym.sim.backend import SimBackend
    from egogym.tasks import make_task

    sim = SimBackend(EGOMIMIC, make_task("object_in_bowl"), ("left", "right"), ("front_img_1",), (24, 32))
    try:
        rng = np.random.default_rng(0)
        for _ in range(5):
            q = {}
            for a in ("left", "right"):
                arm = EGOMIMIC.arm(a)
                q[a] = rng.uniform(arm.lower[:6] * 0.8, arm.upper[:6] * 0.8)
                sim.data.qpos[sim._qadr[a]] = q[a]
            import mujoco

            mujoco.mj_kinematics(sim.model, sim.data)
            want = sim.ee_pose()
            got = np.concatenate([geometry.transform_points(sim.calibration.T_cam_base[a],
                                                            kinematics.pinch_in_base(EGOMIMIC.arm(a), q[a]))
                                  for a in ("left", "right")])
            np.testing.assert_allclose(got, want, atol=1e-6)
            # keypoints too (base, joints, pinch), in the world via the sim's base pose
            kp = kinematics.keypoints_in_base(EGOMIMIC.arm("right"), q["right"])
            np.testing.assert_allclose(geometry.transform_points(sim.base_pose("right"), kp),
                                       sim.arm_keypoints("right"), atol=1e-6)
    finally:
        sim.close()


def test_fk_rejects_nan():
    import pytest

    with pytest.raises(ValueError, match="finite"):
        kinematics.pinch_in_base(EGOMIMIC.arm("right"), np.array([0, np.nan, 0, 0, 0, 0.0]))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6), st.lists(st.floats(-0.2, 0.2), min_size=3, max_size=3))
def test_position_ik_recovers_a_reachable_pinch_point(offset, start_error):
    """Pinch point of a pose near home: IK on waist, shoulder, elbow from a perturbed start
    reaches it to 0.1 mm, keeps the wrist joints, and stays within the joint limits."""
    import numpy as np

    from egogym.core.kinematics import pinch_in_base, position_ik
    from egogym.core.spec import EGOMIMIC

    arm = EGOMIMIC.arm("right")
    q_true = np.clip(np.array(arm.home) + offset, arm.lower[:6], arm.upper[:6])
    q0 = q_true.copy()
    q0[:3] = np.clip(q0[:3] + start_error, arm.lower[:3], arm.upper[:3])
    q, err = position_ik(arm, pinch_in_base(arm, q_true), q0, iterations=30)
    assert err < 1e-4
    np.testing.assert_array_equal(q[3:], q0[3:])
    assert np.all(q >= arm.lower[:6] - 1e-12) and np.all(q <= arm.upper[:6] + 1e-12)
