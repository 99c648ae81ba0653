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

from egogym.policies.batch import images_to_tensor
from egogym.policies.checkpoint import CheckpointError, load_checkpoint
from egogym.policies.config import DRIVES, HUMAN_DRIVES, Execution, FirstK
from egogym.policies.device import autocast, resolve_device
from egogym.policies.execution import make_executor
from egogym.core import geometry
from egogym.core.arms import Arms
from egogym.core.views import DERIVED_VIEWS, JOINT_POSITIONS
from egogym.core.kinematics import POSITION_JOINTS, pinch_in_camera, position_ik


class EgoPolicy:
    """`egogym.core.protocols.Policy` over a checkpoint (run folder or checkpoint folder).

    env: the EgoEnv it will drive (its arms, cameras and calibration are checked
    against the checkpoint), or None to predict chunks without an env (`egogym serve`: the
    client checks the arms, cameras and image size against the served metadata; no
    forward kinematics, no pose_head_ik); execution: override the checkpoint's execution choice.
    drive: which head places the arm.
      - "joint_head" (EgoMimic): the joint head's chunk, as trained;
      - "pose_head_ik": the pose head (the one head trained on human data too) places the
        pinch point: its xyz chunk, through the calibration into each arm's base frame and
        position IK on the waist, shoulder and elbow (`egogym.core.kinematics.position_ik`,
        warm-started point to point), while the joint head's wrist joints and gripper are
        kept. The ablation of issue 16: can human data reach where robot data did not?
      - "human_pose_ik": as "pose_head_ik", but the xyz chunk is the human domain's prediction
        for the robot's observation: the front camera alone and the pinch point (`ee_pose`) in
        and out of the human's statistics, as a human sample is read in training. Co-trained
        checkpoints only. Issue 24: the human pathway localizes the toy where the robot's does not.
    """

    def __init__(self, path: str | Path, env, execution: Execution | None = None, drive: str = "joint_head",
                 device: str | torch.device = "cpu"):
        if drive not in DRIVES:
            raise CheckpointError(f"drive={drive!r}: choose one of {DRIVES}")
        self.drive = drive
        self.device = resolve_device(device)
        env = getattr(env, "unwrapped", env)  # Gymnasium wrappers do not forward arms/robot/calibration
        ck = load_checkpoint(path)
        self.config, self.model, self.normalizer, self.step_trained = ck.config, ck.model, ck.normalizer, ck.step
        self.model.to(self.device).eval()
        self.path = ck.path
        mc = self.config.model
        arms = tuple(getattr(env, "arms", ()))
        if env is not None and (not arms or Arms.parse(arms) != self.model.arms):
            raise CheckpointError(f"{ck.path}: trained for arms {list(self.model.arms)}; the env drives {list(arms)}: "
                                  f"make the env with arms={self.model.arms.label!r}")
        space = getattr(env, "observation_space", None)
        if space is not None:
            keys = list(space.spaces)
            for k in dict.fromkeys([mc.front_key, mc.wrist_key, JOINT_POSITIONS, mc.proprio_key("robot"),
                                    *([mc.proprio_key("human")] if drive in HUMAN_DRIVES else [])]):
                if k and k not in keys:
                    raise CheckpointError(f"{ck.path}: the model reads {k!r} but the env observes {keys}"
                                          + (": wrap the env so it adds the masked / line Aria image"
                                             if k in DERIVED_VIEWS else ""))
        trained = self.normalizer.stats["robot"].image_size if "robot" in self.normalizer.stats else None
        size = getattr(env, "image_size", None)
        if trained is not None and size is not None and tuple(size) != tuple(trained):
            raise CheckpointError(f"{ck.path}: trained on {trained[0]}x{trained[1]} images, the env renders "
                                  f"{size[0]}x{size[1]}: evaluate with --image-size {trained[0]} {trained[1]}")
        robot = getattr(env, "robot", None)
        self.arm_specs = tuple(robot.arm(a) for a in arms) if robot is not None else ()
        self.calibration = getattr(env, "calibration", None)
        if drive in HUMAN_DRIVES and "human" not in self.model.domains:
            raise CheckpointError(f"{ck.path}: drive={drive!r} reads the human domain; this run was trained "
                                  f"on {list(self.model.domains)} only: evaluate it with drive='joint_head'")
        if drive != "joint_head" and (self.calibration is None or not self.arm_specs or any(
                a.name not in self.calibration.T_cam_base for a in self.arm_specs)):
            raise CheckpointError(f"{ck.path}: drive={drive!r} needs the env's calibration (T_cam_base of "
                                  f"every arm) to take the pose head's chunk into the arms' base frames")
        self.last_ik_error_m: float | None = None  # largest IK residual of the last query (pose_head_ik)
        self.execution = execution or self.config.execution
        self.executor = make_executor(self.execution, mc.chunk)
        self.hold = self.config.chunk_stride_steps
        self.reset()

    def reset(self) -> None:
        """Clear the execution queue / ensemble and the step counter."""
        self.executor.reset()
        self._step = 0
        self._current: np.ndarray | None = None
        self.last_chunk_joints = self.last_chunk_xyz = self._fk_xyz = None
        self.last_query_step: int | None = None

    @property
    def last_chunk_fk_xyz(self) -> np.ndarray | None:
        """(100, 3k) the last joint chunk through forward kinematics into the Aria frame (m), or
        None before a query or without a calibration. Computed when first read (videos,
        diagnostics), not at every query: 100 FK evaluations would cost more than the query."""
        if self._fk_xyz is None and self.last_chunk_joints is not None and self.arm_specs \
                and self.calibration is not None:
            self._fk_xyz = pinch_in_camera(self.arm_specs, self.calibration, self.last_chunk_joints)
        return self._fk_xyz

    def reads_images(self) -> bool:
        """Whether the next `act` queries the model (and so reads the cameras): with EgoMimic's
        first-k schedule once every k * hold steps, with temporal ensembling every hold steps."""
        return self._step % self.hold == 0 and self.executor.needs_query()

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(joints (100, 7k), xyz (100, 3k)) in data units for one observation."""
        mc, dev = self.config.model, self.device
        images = {"front": images_to_tensor(torch.as_tensor(obs[mc.front_key][None]).to(dev), mc.image_size,
                                            mc.front_crop)}
        if mc.wrist_key:
            images["wrist"] = images_to_tensor(torch.as_tensor(obs[mc.wrist_key][None]).to(dev), mc.image_size)
        key = mc.proprio_key("robot")
        q = torch.as_tensor(np.asarray(obs[key], np.float32))[None].to(dev)
        with autocast(dev):
            out = self.model("robot", images, self.normalizer.normalize("robot", key, q))
        joints = self.normalizer.unnormalize("robot", "actions_joints_act", out["joints"].float())[0].cpu().numpy()
        xyz = self.normalizer.unnormalize("robot", "actions_xyz_act", out["xyz"].float())[0].cpu().numpy()
        if self.drive in HUMAN_DRIVES:
            xyz = self._human_xyz(images["front"], obs)
        return joints.astype(np.float64), xyz.astype(np.float64)

    def _human_xyz(self, front: torch.Tensor, obs: dict[str, np.ndarray]) -> np.ndarray:
        """(100, 3k) pinch-point chunk (m, Aria frame of t) that the human domain predicts for the
        robot's observation: the front camera (`front`, as `predict_chunk` prepared it) only,
        `ee_pose` normalized and the chunk unnormalized with the human's statistics."""
        mc, dev = self.config.model, self.device
        images = {"front": front}
        key = mc.proprio_key("human")
        q = torch.as_tensor(np.asarray(obs[key], np.float32))[None].to(dev)
        with autocast(dev):
            out = self.model("human", images, self.normalizer.normalize("human", key, q))
        return self.normalizer.unnormalize("human", "actions_xyz_act", out["xyz"].float())[0].cpu().numpy()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Joint targets for this control step (7 per arm: 6 joints in rad, gripper in [0, 1])."""
        if self._step % self.hold == 0:
            if self.executor.needs_query():
                joints, xyz = self.predict_chunk(obs)
                if self.drive != "joint_head":
                    joints = self._joints_from_pose_head(joints, xyz)
                self.executor.add(joints)
                self.last_chunk_joints, self.last_chunk_xyz = joints, xyz
                self._fk_xyz = None
                self.last_query_step = self._step
            self._current = self.executor.next()
        self._step += 1
        return np.array(self._current, dtype=np.float64)


    def _joints_from_pose_head(self, joints: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """The joint chunk with waist, shoulder and elbow solved so that the pinch point follows
        the pose head's xyz chunk (only the points the executor will play: the first k of a
        first-k schedule). joints (P, 7k), xyz (P, 3k) in data units; returns (P, 7k)."""
        out = joints.copy()
        n = self.execution.k if isinstance(self.execution, FirstK) else len(joints)
        worst = 0.0
        for i, arm in enumerate(self.arm_specs):
            T_base_cam = geometry.invert(np.asarray(self.calibration.T_cam_base[arm.name], float))
            targets = geometry.transform_points(T_base_cam, xyz[:n, Arms.xyz(i)])
            warm = joints[0, Arms.angles(i)].copy()
            for t in range(n):
                q0 = joints[t, Arms.angles(i)].copy()
                q0[list(POSITION_JOINTS)] = warm[list(POSITION_JOINTS)]
                warm, err = position_ik(arm, targets[t], q0)
                out[t, Arms.angles(i)] = warm
                worst = max(worst, err)
        self.last_ik_error_m = worst
        return out


def load_policy(path: str | Path, env, execution: Execution | None = None, drive: str = "joint_head",
                device: str | torch.device = "cpu") -> EgoPolicy:
    """Load a checkpoint (run folder or checkpoint folder) as a Policy for `env`; `drive`:
    "joint_head" (EgoMimic) or "pose_head_ik" (see EgoPolicy); `device`: where the model runs
    (`egogym.policies.device`; a checkpoint from any device loads on any other)."""
    return EgoPolicy(path, env, execution, drive, device)
