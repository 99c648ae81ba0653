"""Episode videos: the Aria image with the policy's predicted chunk drawn over it.

A policy that exposes `last_chunk_xyz` (an (n, 3) or (n, 3k) array: n future end-effector
positions in metres, for k arms side by side, in the Aria `front_img_1` camera frame of
the step it was predicted at; OpenCV axes) gets that chunk projected with the Aria
intrinsics and drawn as a polyline, one colour per arm (`egogym.core.views.draw_polyline`,
the drawing of the masked/line views and the training videos). The Aria sits on the robot's torso, so the chunk stays valid over the steps it
is executed. Policies without it (the scripted expert) get the plain image.
"""
from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from egogym.core import geometry
from egogym.core.arms import XYZ_PER_ARM
from egogym.core.views import draw_polyline, upscale, upscale_factor

ARM_COLOURS = ((230, 40, 40), (40, 120, 230))  # first arm red, second blue (RGB)
MIN_VIDEO_HEIGHT = 240  # px; small evaluation images are scaled up by an integer factor


def chunk_points(chunk_xyz: np.ndarray | None) -> np.ndarray | None:
    """A predicted chunk as (n, k, 3) points (m), or None if the policy exposes none.

    Raises ValueError when the array is not (n, 3k)."""
    if chunk_xyz is None:
        return None
    c = np.asarray(chunk_xyz, dtype=float)
    if c.ndim != 2 or c.shape[1] % XYZ_PER_ARM != 0 or c.shape[1] == 0:
        raise ValueError(f"policy.last_chunk_xyz has shape {c.shape}; expected (n, 3) or (n, 3k) positions in metres")
    return c.reshape(c.shape[0], -1, XYZ_PER_ARM)


class OverlayVideo:
    """Streams the frames of one episode into an mp4 (nothing is buffered: a 40 s episode
    at 50 Hz is 2000 frames). Frames go to a temp file, renamed by `write`, so a killed
    run leaves no half video under the final name.

    K: 3x3 intrinsics of `front_img_1` at the evaluation's image size (px).
    fps: frames per second of the video (the env's control rate: one frame per step).
    """

    def __init__(self, path: str | Path, K: np.ndarray, image_size: tuple[int, int], fps: float):
        self.path = Path(path)
        self.K = np.asarray(K, dtype=float)
        h, w = image_size
        self.scale = upscale_factor(h, MIN_VIDEO_HEIGHT)
        self.size = (h * self.scale, w * self.scale)
        self.fps = fps
        self.frames = 0
        self._tmp = self.path.with_name(self.path.stem + ".tmp.mp4")
        self._writer = None

    def add(self, image: np.ndarray, chunk_xyz: np.ndarray | None) -> None:
        """Add one frame: `image` (H, W, 3) uint8 Aria RGB; `chunk_xyz` as in the module doc."""
        img = upscale(np.asarray(image), MIN_VIDEO_HEIGHT)
        pts = chunk_points(chunk_xyz)
        if pts is not None:
            uv = geometry.project(self.K, pts) * self.scale  # (n, k, 2) in scaled px
            for arm in range(uv.shape[1]):
                img = draw_polyline(img, uv[:, arm], ARM_COLOURS[arm % len(ARM_COLOURS)], max(1.5, self.scale))
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = imageio.get_writer(self._tmp, fps=self.fps, codec="libx264", macro_block_size=2,
                                              ffmpeg_log_level="error")
        self._writer.append_data(np.ascontiguousarray(img))
        self.frames += 1

    def write(self) -> Path:
        """Finish the mp4 and move it to its final name."""
        if self._writer is None:
            raise RuntimeError(f"{self.path}: no frames were added")
        self._writer.close()
        self._writer = None
        os.replace(self._tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Drop an unfinished video (the episode failed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)
