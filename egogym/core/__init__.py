"""Layer 1, the core: what every other layer shares, with numpy as its only dependency.

- `spec`: the robot declared once (arms, joints and limits, gripper, cameras, mounts,
  control rate) and `Calibration` (intrinsics K, extrinsics T_cam_base);
- `geometry`: SE(3), quaternions, OpenCV camera frames, projection;
- `kinematics`: ViperX forward kinematics from the spec;
- `views`: observation key names, the derived Aria views (masked, line) and their drawing;
- `protocols`: `Backend`, `Policy` and `Score`, the seams between the layers;
- `errors`: `UserError`.

Nothing here imports MuJoCo, dm_control, h5py or torch (tests/test_layers.py checks it).
"""
