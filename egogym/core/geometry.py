"""SE(3), camera frames and projection.

Conventions (see `egogym.core.spec`): 4x4 homogeneous transforms `T_a_b` take points from
frame b into frame a (p_a = T_a_b @ p_b). Quaternions are (w, x, y, z). Camera frames
follow OpenCV (x right, y down, z forward); MuJoCo cameras look along -z with y up, and
`R_CV_FROM_MJ` converts between the two.
"""
from __future__ import annotations

import numpy as np

R_CV_FROM_MJ = np.diag([1.0, -1.0, -1.0])
"""Rotation from a MuJoCo camera frame (y up, looking along -z) to OpenCV's."""


def make_transform(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """4x4 transform from a 3x3 rotation and a translation (m)."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid transform (or a stack of them, shape (..., 4, 4))."""
    R = T[..., :3, :3]
    t = T[..., :3, 3]
    Ti = np.zeros_like(T)
    Rt = np.swapaxes(R, -1, -2)
    Ti[..., :3, :3] = Rt
    Ti[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, t)
    Ti[..., 3, 3] = 1.0
    return Ti


def transform_points(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Apply T (4x4, or (N,4,4) matched with p) to points p of shape (..., 3)."""
    p = np.asarray(p, dtype=float)
    return np.einsum("...ij,...j->...i", T[..., :3, :3], p) + T[..., :3, 3]


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Unit quaternion(s) (w, x, y, z), shape (..., 4) -> rotation matrices (..., 3, 3)."""
    q = np.asarray(q, dtype=float)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def mat_to_quat(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> unit quaternion (w, x, y, z) with w >= 0."""
    R = np.asarray(R, dtype=float)
    tr = np.trace(R)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + R[i, i] - R[j, j] - R[k, k])
        q = [0.0] * 4
        q[0] = (R[k, j] - R[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (R[j, i] + R[i, j]) / s
        q[1 + k] = (R[k, i] + R[i, k]) / s
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation whose columns are an OpenCV camera's axes (x right, y down, z forward)
    expressed in the parent frame, for a camera at `eye` looking at `target`."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, float))
    n = np.linalg.norm(x)
    if n < 1e-9:
        raise ValueError("look_at: 'up' is parallel to the viewing direction")
    x /= n
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def intrinsics(focal_px: float, height: int, width: int) -> np.ndarray:
    """3x3 K of a centred linear camera with square pixels (continuous pixel coordinates)."""
    return np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])


def project(K: np.ndarray, p_cam: np.ndarray) -> np.ndarray:
    """Points in an OpenCV camera frame, shape (..., 3) -> pixels (..., 2) as (u, v).

    Points at or behind the camera (z <= 0) give NaN."""
    p = np.asarray(p_cam, dtype=float)
    z = p[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv1 = np.einsum("ij,...j->...i", K, p) / z
    uv = uv1[..., :2]
    return np.where(z > 1e-9, uv, np.nan)


def unproject(K: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Pixels (..., 2) at depths z (...) -> points (..., 3) in the OpenCV camera frame."""
    uv = np.asarray(uv, dtype=float)
    depth = np.asarray(depth, dtype=float)
    x = (uv[..., 0] - K[0, 2]) / K[0, 0] * depth
    y = (uv[..., 1] - K[1, 2]) / K[1, 1] * depth
    return np.stack([x, y, depth], axis=-1)


def in_image(uv: np.ndarray, height: int, width: int) -> np.ndarray:
    """True where pixel coordinates fall inside a (height, width) image."""
    uv = np.asarray(uv)
    return (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
