"""The real EgoMimic robot behind the Backend protocol of `egogym.env`.

- `backend.RealBackend`: two ViperX 300 S arms (Interbotix, ROS 2), the Aria RGB
  stream and the D405 wrist cameras, stepped at the spec's control rate;
- `safety`: the only path from a policy to the arms (limits, rate limit, NaN/inf
  rejection, stale-frame watchdog, emergency stop, stop log);
- `console.OperatorConsole`: scene resets and the operator's score of each episode;
- `kinematics`: forward kinematics of the ViperX from the spec (for `ee_pose`);
- `devices`: adapters over the vendor drivers, imported only when a backend starts;
- `fakes`: drivers that speak the vendors' APIs without hardware (tests, rehearsals);
- `calibrate`: hand-eye calibration into a calibration file;
- `record`: teleoperated demonstrations into the HDF5 writer.

Nothing in this package imports a vendor package at import time.
"""
