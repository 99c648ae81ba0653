"""Property tests for SE(3), quaternions and projection."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from egogym.core import geometry

finite = st.floats(-2.0, 2.0, allow_nan=False)
quats = st.tuples(*[st.floats(-1, 1, allow_nan=False)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1)
points = st.tuples(finite, finite, finite)


def transform(q, t):
    return geometry.make_transform(geometry.quat_to_mat(np.array(q)), np.array(t))


@settings(max_examples=200, deadline=None)
@given(quats, points, points)
def test_inverse_round_trip(q, t, p):
    T = transform(q, t)
    back = geometry.transform_points(geometry.invert(T), geometry.transform_points(T, np.array(p)))
    np.testing.assert_allclose(back, p, atol=1e-9)
    np.testing.assert_allclose(geometry.invert(T) @ T, np.eye(4), atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(quats)
def test_quaternion_round_trip(q):
    R = geometry.quat_to_mat(np.array(q))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(R), 1.0)
    np.testing.assert_allclose(geometry.quat_to_mat(geometry.mat_to_quat(R)), R, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.floats(50, 800), st.integers(16, 960), st.integers(16, 1280),
       st.floats(-1, 1), st.floats(-1, 1), st.floats(0.05, 5))
def test_project_unproject(f, h, w, x, y, z):
    K = geometry.intrinsics(f, h, w)
    p = np.array([x, y, z])
    uv = geometry.project(K, p)
    np.testing.assert_allclose(geometry.unproject(K, uv, z), p, atol=1e-9)


def test_points_behind_the_camera_do_not_project():
    K = geometry.intrinsics(266.5, 480, 640)
    assert np.isnan(geometry.project(K, np.array([0.0, 0.0, -1.0]))).all()
    np.testing.assert_allclose(geometry.project(K, np.array([0.0, 0.0, 2.0])), [320, 240])


@settings(max_examples=100, deadline=None)
@given(points, points)
def test_look_at_points_the_optical_axis_at_the_target(eye, target):
    eye, target = np.array(eye), np.array(target)
    d = target - eye
    if np.linalg.norm(d) < 1e-3 or np.linalg.norm(np.cross(d, [0, 0, 1])) < 1e-3 * np.linalg.norm(d):
        return
    R = geometry.look_at(eye, target, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(R[:, 2], d / np.linalg.norm(d), atol=1e-9)
    assert R[2, 1] <= 1e-9  # image "down" never points up in the world
