"""Validation-video frames: predicted and ground-truth chunks drawn into the Aria image.

Colours as in EgoMimic's validation videos (seed walkthrough):
- green: the ground-truth xyz chunk stored in the file (`actions_xyz_act`);
- purple: the joint head's chunk, through forward kinematics (`egogym.core.kinematics`)
  and `Calibration.T_cam_base` into the Aria camera frame (robot only);
- red: the pose head's xyz chunk.
All three are points in the Aria camera frame of time t (m), projected with the
Aria intrinsics rescaled to the drawn image size. Padded ground-truth points
(past a demo's end) are not drawn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from egogym.core import geometry
from egogym.core.arms import XYZ_PER_ARM, Arms
from egogym.core.views import FRONT, draw_polyline, upscale
from egogym.core.spec import Calibration

GREEN, PURPLE, RED = (40, 220, 60), (170, 60, 230), (235, 30, 30)


def draw_chunks(image: np.ndarray, calibration: Calibration, gt_xyz: np.ndarray | None = None,
                pred_xyz: np.ndarray | None = None, fk_xyz: np.ndarray | None = None,
                valid: np.ndarray | None = None, min_height: int = 256) -> np.ndarray:
    """One video frame.

    image: (H, W, 3) uint8 Aria image (any size; intrinsics are rescaled to it).
    gt_xyz, pred_xyz, fk_xyz: (100, 3k) chunks in the Aria camera frame (m), or None.
    valid: (100,) bool, True for real ground-truth points (the data's pad_mask).
    Returns the upscaled frame with green (ground truth), purple (joint head via FK)
    and red (pose head) polylines, one per arm.
    """
    frame = upscale(image, min_height)
    K = calibration.K(FRONT, size=frame.shape[:2])
    thick = max(2.0, frame.shape[0] / 128)
    for pts, colour, mask in ((gt_xyz, GREEN, valid), (fk_xyz, PURPLE, None), (pred_xyz, RED, None)):
        if pts is None:
            continue
        pts = np.asarray(pts, float)
        if mask is not None:
            pts = pts[np.asarray(mask, bool)]
        for a in range(pts.shape[-1] // XYZ_PER_ARM):
            uv = geometry.project(K, pts[:, Arms.xyz(a)])
            frame = draw_polyline(frame, uv, colour, thick)
    return frame


def write_video(path: str | Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write frames (H, W, 3) uint8 as an mp4 (imageio-ffmpeg); returns the path."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h = max(f.shape[0] for f in frames) // 16 * 16 or 16
    w = max(f.shape[1] for f in frames) // 16 * 16 or 16
    with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=7, macro_block_size=16) as wr:
        for f in frames:
            wr.append_data(np.ascontiguousarray(f[:h, :w]))
    return path
