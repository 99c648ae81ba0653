"""The simulated person's head: natural (moving) or held at the robot's viewpoint."""
from __future__ import annotations

import numpy as np
import pytest

import egogym.sim  # noqa: F401  (sets MUJOCO_GL)
from egogym.sim.human import HumanConfig, HumanDemonstrator, robot_aria_pose


def test_an_unknown_head_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"head='robt': choose from \('natural', 'robot'\)"):
        HumanConfig(head="robt")


@pytest.mark.parametrize("head", ["natural", "robot"])
def test_the_recorded_camera_follows_the_head_setting(tmp_path, head):
    with HumanDemonstrator(HumanConfig(image_size=(32, 32), head=head)) as h:
        rec = h.record_episode(3, tmp_path / "ep")
    T = np.load(rec / "truth.npz")["T_world_rgb"]
    spread = np.abs(T - T[0]).max()
    if head == "robot":  # every frame is seen from the twin's Aria
        np.testing.assert_allclose(T, np.broadcast_to(robot_aria_pose(), T.shape), atol=1e-9)
    else:  # the head sways and turns toward what it looks at
        assert spread > 0.05
