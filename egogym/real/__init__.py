"""Layer 3, the real EgoMimic robot behind the Backend protocol (`egogym.core.protocols`).

- `backend.RealBackend`: two ViperX 300 S arms (Interbotix, ROS 2), the Aria RGB
  stream and the D405 wrist cameras, stepped at the spec's control rate;
- `safety`: the only path from a policy to the arms (limits, rate limit, NaN/inf
  rejection, stale-frame watchdog, emergency stop, stop log);
- `console.OperatorConsole`: scene resets and the operator's score of each episode;
- `config.RealConfig`: the hardware file (robot names, serials, gripper ranges, limits);
- `devices`: adapters over the vendor drivers, imported only when a backend starts;
- `fakes`: drivers that speak the vendors' APIs without hardware (tests, rehearsals);
- `calibrate`: hand-eye calibration into a calibration file;
Teleoperated recording drives this backend from the layer above (`egogym.pipelines.teleop`);
forward kinematics for `ee_pose` is the core's (`egogym.core.kinematics`).

Nothing in this package imports a vendor package at import time.
"""
