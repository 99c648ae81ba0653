"""A trained ACT / EgoMimic checkpoint behind egogym's `Policy` protocol.

    policy = load_policy("runs/NAME", env)          # or EgoPolicy("runs/NAME", env)
    policy.reset()
    action = policy.act(obs)                        # joint targets, env action layout

Each `act` call is one control step of the env (50 Hz). Chunk points are
`config.chunk_stride_steps` control steps apart (2: EgoMimic's 25 Hz), so each point of
the executed chunk is held for that many steps. The execution object (`FirstK`: query
every k points, EgoMimic k=25, one query a second; or `TemporalEnsemble`) decides
when the model is queried. The robot observation is normalized with the checkpoint's
robot statistics; the model runs with z = 0 in eval mode.

After each query: `last_chunk_joints` (100, 7k) joint targets, `last_chunk_xyz`
(100, 3k) the pose head's chunk and `last_chunk_fk_xyz` (100, 3k) the joint chunk
through forward kinematics, both in the Aria camera frame of the query's step (m),
and `last_query_step` (control steps since reset) for drawing eval videos.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from policies.batch import images_to_tensor
from policies.checkpoint import CheckpointError, load_checkpoint
from policies.config import Execution
from policies.execution import make_executor
from egogym.kinematics import pinch_in_camera


class EgoPolicy:
    """`egogym.policy.Policy` over a checkpoint (run folder or checkpoint folder).

    env: the EgoEnv it will drive (its arms, cameras and calibration are checked
    against the checkpoint); execution: override the checkpoint's execution choice.
    """

    def __init__(self, path: str | Path, env, execution: Execution | None = None):
        env = getattr(env, "unwrapped", env)  # Gymnasium wrappers do not forward arms/robot/calibration
        ck = load_checkpoint(path)
        self.config, self.model, self.normalizer, self.step_trained = ck.config, ck.model, ck.normalizer, ck.step
        self.model.eval()
        self.path = ck.path
        mc = self.config.model
        arms = tuple(getattr(env, "arms", ()))
        if len(arms) != self.model.arms:
            raise CheckpointError(f"{ck.path}: trained for {self.model.arms} arm(s); the env drives {len(arms)} "
                                  f"({arms}): make the env with arms={'right' if self.model.arms == 1 else 'both'!r}")
        space = getattr(env, "observation_space", None)
        if space is not None:
            keys = list(space.spaces)
            for k in [mc.front_key, mc.wrist_key, "joint_positions"]:
                if k and k not in keys:
                    raise CheckpointError(f"{ck.path}: the model reads {k!r} but the env observes {keys}"
                                          + (": wrap the env so it adds the masked / line Aria image"
                                             if k.startswith("front_img_1_") else ""))
        robot = getattr(env, "robot", None)
        self.arm_specs = tuple(robot.arm(a) for a in arms) if robot is not None else ()
        self.calibration = getattr(env, "calibration", None)
        self.execution = execution or self.config.execution
        self.executor = make_executor(self.execution, mc.chunk)
        self.hold = self.config.chunk_stride_steps
        self.reset()

    def reset(self) -> None:
        """Clear the execution queue / ensemble and the step counter."""
        self.executor.reset()
        self._step = 0
        self._current: np.ndarray | None = None
        self.last_chunk_joints = self.last_chunk_xyz = self.last_chunk_fk_xyz = None
        self.last_query_step: int | None = None

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(joints (100, 7k), xyz (100, 3k)) in data units for one observation."""
        mc = self.config.model
        images = {"front": images_to_tensor(obs[mc.front_key][None], mc.image_size, mc.front_crop)}
        if mc.wrist_key:
            images["wrist"] = images_to_tensor(obs[mc.wrist_key][None], mc.image_size)
        q = torch.as_tensor(np.asarray(obs["joint_positions"], np.float32))[None]
        out = self.model("robot", images, self.normalizer.normalize("robot", "joint_positions", q))
        joints = self.normalizer.unnormalize("robot", "actions_joints_act", out["joints"])[0].numpy()
        xyz = self.normalizer.unnormalize("robot", "actions_xyz_act", out["xyz"])[0].numpy()
        return joints.astype(np.float64), xyz.astype(np.float64)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Joint targets for this control step (7 per arm: 6 joints in rad, gripper in [0, 1])."""
        if self._step % self.hold == 0:
            if self.executor.needs_query():
                joints, xyz = self.predict_chunk(obs)
                self.executor.add(joints)
                self.last_chunk_joints, self.last_chunk_xyz = joints, xyz
                self.last_chunk_fk_xyz = (pinch_in_camera(self.arm_specs, self.calibration, joints)
                                          if self.arm_specs and self.calibration is not None else None)
                self.last_query_step = self._step
            self._current = self.executor.next()
        self._step += 1
        return np.array(self._current, dtype=np.float64)


def load_policy(path: str | Path, env, execution: Execution | None = None) -> EgoPolicy:
    """Load a checkpoint (run folder or checkpoint folder) as a Policy for `env`."""
    return EgoPolicy(path, env, execution)
