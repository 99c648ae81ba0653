"""Calibration presets for data files that carry none (EgoMimic's public files).

EgoMimic keeps its camera calibration as constants in its code, not in its HDF5 files.
The numbers below are those published constants, typed once here (the one place in
egogym that spells them), from EgoMimic's `egomimic/utils/egomimicUtils.py`
(github.com/SimarKareer/EgoMimic; read in the copy swati-gupta-tri-global/EgoMimic,
same path):

- `ARIA_INTRINSICS`: the linear (pinhole) Aria RGB camera EgoMimic undistorts to, at
  480x640 (height x width): focal 133.25430222 * 2 px in x and y, principal point
  (320, 240). (REFERENCE §2 rounds the focal to 266.5 px.)
- `REALSENSE_INTRINSICS`: the D405 wrist cameras at 480x640: fx 616.0, fy 615.7,
  cx 313.4, cy 236.7 px.
- `EXTRINSICS["ariaJul29"]["left" / "right"]`: the arm-base-to-camera hand-eye
  calibration of EgoMimic's robot (AprilTags). EgoMimic maps forward-kinematics
  points p_base into the camera with `inv(E) @ p_base` (`ee_pose_to_cam_frame`), so
  E is the camera's pose in the arm's base frame; egogym's `Calibration.T_cam_base`
  maps base points into the camera, i.e. inv(E). EgoMimic's validation videos and
  evaluation use these (`EXTRINSICS["ariaJul29"]`, `EXTRINSICS["ariaJul29R"]`).

Presets (`PRESETS`, selected by name wherever a calibration is taken: `egogym train
--calibration`, `egogym convert egomimic --calibration`, `EgoDataset(calibration=)`):

- "egomimic": the Aria and D405 intrinsics and both arms' ariaJul29 extrinsics: the
  validation video draws the joint head through forward kinematics (purple).
- "egomimic-aria": the intrinsics only (no arm-base extrinsics): purple is skipped.
  The default for a file without calibration, because the extrinsics belong to one
  robot on one day (Jul 29) and drawing with them on another robot's data would look
  plausible and be wrong.

Caveat: EgoMimic's FK goes to its URDF's `vx300s/ee_gripper_link` from its base link;
egogym's (`egogym.core.kinematics`) to a pinch point 0.1 m ahead of gripper_link from
the Menagerie base_link. The two frames agree to within the gripper-tip offset.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from egogym.core import geometry
from egogym.core.spec import Calibration
from egogym.data import schema as S
from egogym.data.schema import DataFormatError

EGOMIMIC_IMAGE_SIZE = (480, 640)
"""(height, width) px at which EgoMimic's intrinsics are given."""

EGOMIMIC_ARIA_FOCAL_PX = 133.25430222 * 2
"""EgoMimic's `ARIA_INTRINSICS` focal length (px, x and y) at EGOMIMIC_IMAGE_SIZE."""
EGOMIMIC_ARIA_PRINCIPAL_PX = (320.0, 240.0)
"""EgoMimic's `ARIA_INTRINSICS` principal point (cx, cy) px."""
EGOMIMIC_D405_FXFYCXCY = (616.0, 615.7, 313.4, 236.7)
"""EgoMimic's `REALSENSE_INTRINSICS` (fx, fy, cx, cy) px of the wrist D405 at 480x640."""

EGOMIMIC_CAM_POSE_IN_BASE_JUL29 = {
    "left": ((-0.02701913, -0.77838164, 0.62720969, 0.1222102),
             (0.99958387, -0.01469678, 0.02482135, 0.17666979),
             (-0.01010252, 0.62761934, 0.77845482, 0.00423704),
             (0.0, 0.0, 0.0, 1.0)),
    "right": ((0.07280155, -0.81760187, 0.57116295, 0.12038065),
              (0.9973441, 0.05843903, -0.04346979, -0.31690207),
              (0.00216277, 0.57281067, 0.81968485, -0.03742754),
              (0.0, 0.0, 0.0, 1.0)),
}
"""EgoMimic's `EXTRINSICS["ariaJul29"]` (4x4, metres): the Aria camera's pose in each
arm's base frame (EgoMimic applies its inverse to FK points)."""


def _K(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _intrinsics() -> tuple[dict, dict]:
    f = EGOMIMIC_ARIA_FOCAL_PX
    intr = {S.FRONT: _K(f, f, *EGOMIMIC_ARIA_PRINCIPAL_PX),
            S.RIGHT_WRIST: _K(*EGOMIMIC_D405_FXFYCXCY), S.LEFT_WRIST: _K(*EGOMIMIC_D405_FXFYCXCY)}
    return intr, {k: EGOMIMIC_IMAGE_SIZE for k in intr}


def egomimic() -> Calibration:
    """EgoMimic's published intrinsics and both arms' ariaJul29 extrinsics."""
    intr, sizes = _intrinsics()
    T = {arm: geometry.invert(np.array(E, float)) for arm, E in EGOMIMIC_CAM_POSE_IN_BASE_JUL29.items()}
    return Calibration(intr, sizes, T_cam_base=T,
                       source="preset egomimic (EgoMimic egomimicUtils.py: ARIA_INTRINSICS, "
                              "REALSENSE_INTRINSICS, EXTRINSICS['ariaJul29'])")


def egomimic_aria() -> Calibration:
    """EgoMimic's published intrinsics, no extrinsics."""
    intr, sizes = _intrinsics()
    return Calibration(intr, sizes, T_cam_base={},
                       source="preset egomimic-aria (intrinsics only, no extrinsics)")


PRESETS: dict[str, Callable[[], Calibration]] = {"egomimic": egomimic, "egomimic-aria": egomimic_aria}
DEFAULT_PRESET = "egomimic-aria"
"""The preset a file without calibration is read with when none is chosen (announced once)."""


def resolve_calibration(arg: str | os.PathLike | Calibration | dict) -> Calibration:
    """A Calibration from a preset name (`PRESETS`), a JSON file (`Calibration.save`),
    a dict (`Calibration.to_dict`) or a Calibration; one-line DataFormatError otherwise."""
    if isinstance(arg, Calibration):
        return arg
    if isinstance(arg, dict):
        try:
            return Calibration.from_dict(arg)
        except KeyError as e:
            raise DataFormatError(f"calibration dict: {e.args[0]}") from None
    name = str(arg)
    if name in PRESETS:
        return PRESETS[name]()
    p = Path(name)
    if p.suffix == ".json" or p.exists():
        if not p.is_file():
            raise DataFormatError(f"calibration {name}: no such file; give a preset ({', '.join(PRESETS)}) "
                                  f"or a JSON file written by Calibration.save")
        try:
            return Calibration.load(p)
        except (ValueError, KeyError) as e:
            raise DataFormatError(f"calibration {name}: not a calibration JSON ({e}); "
                                  f"write it with Calibration.save") from None
    import difflib

    near = difflib.get_close_matches(name, list(PRESETS), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise DataFormatError(f"calibration {name!r}: not a preset{hint} ({', '.join(PRESETS)}) nor a calibration JSON file")
