"""Observation key names and the derived Aria views: the arm / hand mask and the red line of
`front_img_1_masked` and `front_img_1_line`.

One drawing function for both domains (EgoMimic's cross-domain visual alignment): the
robot side passes the simulator's segmentation of the arms and the projected arm
keypoints; the human side passes a SAM2 hand mask and the projected hand points.

Pixel coordinates are continuous, (0, 0) the top-left corner of the top-left pixel
(`egogym.core.spec`); pixel (row r, column c) covers [c, c+1) x [r, r+1) and its centre is
(c + 0.5, r + 0.5).
"""
from __future__ import annotations

import numpy as np

# ---- observation keys (EgoMimic's names; the HDF5 schema and every backend use these) ----
FRONT = "front_img_1"
"""The Aria RGB image (the robot's head camera, or the human's glasses)."""
FRONT_MASKED = "front_img_1_masked"
"""The Aria image with the arm (or hand) blacked out."""
FRONT_LINE = "front_img_1_line"
"""The masked image plus a red line along the arm (or hand): EgoMimic's policy input."""
RIGHT_WRIST = "right_wrist_img"
LEFT_WRIST = "left_wrist_img"
WRIST_OF_ARM = {"left": LEFT_WRIST, "right": RIGHT_WRIST}
JOINT_POSITIONS = "joint_positions"
EE_POSE = "ee_pose"

DERIVED_VIEWS = {FRONT_MASKED: FRONT, FRONT_LINE: FRONT}
"""Image keys computed from a camera, each mapped to the camera it is drawn from (EgoMimic's
cross-embodiment views; `mask_and_line` draws them for robot and human data alike)."""

DEFAULT_CAMERAS = {"right": (FRONT, RIGHT_WRIST), "left": (FRONT, LEFT_WRIST),
                   "both": (FRONT, RIGHT_WRIST, LEFT_WRIST)}
"""The cameras an env observes by default for each arm layout: the Aria and the active wrists."""

RED = (255, 0, 0)


def upscale_factor(height: int, min_height: int) -> int:
    """The smallest integer factor that makes an image `height` px tall at least `min_height`."""
    return max(1, -(-int(min_height) // int(height)))  # ceil


def upscale(image: np.ndarray, min_height: int) -> np.ndarray:
    """Nearest-neighbour upscale of `image` (H, W, ...) by `upscale_factor(H, min_height)`
    (small training and evaluation images made legible)."""
    f = upscale_factor(image.shape[0], min_height)
    return np.repeat(np.repeat(image, f, axis=0), f, axis=1) if f > 1 else np.array(image)


def default_thickness(height: int, width: int) -> float:
    """Line width (px) that scales with the image: 4 px at 480x640, at least 1.5 px."""
    return max(1.5, min(height, width) / 120.0)


def draw_polyline(image: np.ndarray, points_uv: np.ndarray, color=RED, thickness_px: float | None = None) -> np.ndarray:
    """Return a copy of `image` (H, W, 3) uint8 with a polyline through `points_uv` (N, 2).

    A pixel is painted when its centre lies within thickness/2 of a segment. Segments
    with a non-finite end (a point behind the camera) are skipped; points may lie
    outside the image (the line is clipped)."""
    out = np.array(image, copy=True)
    h, w = out.shape[:2]
    pts = np.asarray(points_uv, dtype=np.float64).reshape(-1, 2)
    r = 0.5 * (default_thickness(h, w) if thickness_px is None else float(thickness_px))
    for a, b in zip(pts[:-1], pts[1:]):
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            continue
        c0 = int(np.floor(max(min(a[0], b[0]) - r, 0.0)))
        c1 = int(np.ceil(min(max(a[0], b[0]) + r, w)))
        r0 = int(np.floor(max(min(a[1], b[1]) - r, 0.0)))
        r1 = int(np.ceil(min(max(a[1], b[1]) + r, h)))
        if c0 >= c1 or r0 >= r1:
            continue
        cu = np.arange(c0, c1) + 0.5
        rv = np.arange(r0, r1) + 0.5
        px = cu[None, :] - a[0]
        py = rv[:, None] - a[1]
        d = b - a
        L2 = float(d @ d)
        s = np.zeros_like(px * py) if L2 == 0.0 else np.clip((px * d[0] + py * d[1]) / L2, 0.0, 1.0)
        dist2 = (px - s * d[0]) ** 2 + (py - s * d[1]) ** 2
        out[r0:r1, c0:c1][dist2 <= r * r] = color
    return out


def mask_and_line(image: np.ndarray, mask: np.ndarray, points_uv: np.ndarray,
                  thickness_px: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """EgoMimic's masked and line images from one frame.

    image: (H, W, 3) uint8 RGB. mask: (H, W) bool, True on the arm / hand.
    points_uv: (N, 2) pixel coordinates (u right, v down; continuous, (0, 0) the
      top-left corner) of the points along the arm / hand, base to tip; NaN rows break
      the line.
    Returns (masked, line): masked = image with the mask set to black; line = masked
    with a red polyline through points_uv (`thickness_px`, default `default_thickness`).
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"mask_and_line: image has shape {image.shape} dtype {image.dtype}; give (H, W, 3) uint8")
    if mask.shape != image.shape[:2] or mask.dtype != bool:
        raise ValueError(f"mask_and_line: mask has shape {mask.shape} dtype {mask.dtype}; give {image.shape[:2]} bool")
    masked = image.copy()
    masked[mask] = 0
    return masked, draw_polyline(masked, points_uv, RED, thickness_px)


def join_polylines(lines_uv) -> np.ndarray:
    """One (N, 2) polyline of several (n_i, 2) ones (one per arm), NaN rows between them so
    that `draw_polyline` does not connect one arm's tip to the next arm's base."""
    gap = np.full((1, 2), np.nan)
    parts = [p for uv in lines_uv for p in (np.asarray(uv, dtype=np.float64).reshape(-1, 2), gap)]
    return np.concatenate(parts[:-1]) if parts else np.zeros((0, 2))
