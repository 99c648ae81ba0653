"""Property tests of the human-side frame code (egogym.data.aria)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from egogym.core import geometry
from egogym.data import aria
from egogym.data.mps import Trajectory, slerp_rotations

finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
quat = arrays(np.float64, 4, elements=st.floats(-1, 1, allow_nan=False)).filter(lambda q: np.linalg.norm(q) > 0.1)
vec3 = arrays(np.float64, 3, elements=finite)


def pose(q, t):
    return geometry.make_transform(geometry.quat_to_mat(q), t)


@st.composite
def head_paths(draw, n=40):
    """A random head trajectory: n camera poses (OpenCV frames) near the origin."""
    qs = draw(st.lists(quat, min_size=n, max_size=n))
    ts = draw(st.lists(vec3, min_size=n, max_size=n))
    return np.stack([pose(q, 0.1 * t) for q, t in zip(qs, ts)])


@settings(max_examples=60, deadline=None)
@given(q=quat, t=vec3, pts=arrays(np.float64, (5, 3), elements=finite))
def test_world_to_camera_and_back_is_identity(q, t, pts):
    T_world_cam = pose(q, t)
    p_cam = geometry.transform_points(geometry.invert(T_world_cam), pts)
    back = geometry.transform_points(T_world_cam, p_cam)
    np.testing.assert_allclose(back, pts, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(T=head_paths(), P=vec3, t=st.integers(0, 12))
def test_world_fixed_point_gives_the_same_chunk_whatever_the_head_does(T, P, t):
    # The palm rests at P in the world; every frame sees it in its own camera frame.
    p_rgb = geometry.transform_points(geometry.invert(T), np.broadcast_to(P, (len(T), 3)))
    knots = aria.knots_in_frame_t(T, p_rgb, t)
    expected = geometry.transform_points(geometry.invert(T[t]), P)
    np.testing.assert_allclose(knots, np.broadcast_to(expected, knots.shape), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(T=head_paths(), P=arrays(np.float64, (40, 3), elements=finite), t=st.integers(0, 12))
def test_knots_are_the_future_points_seen_from_time_t(T, P, t):
    # A moving palm: knot k is palm(t+3k) in the world, expressed in the camera of time t.
    p_rgb = geometry.transform_points(geometry.invert(T), P)
    knots = aria.knots_in_frame_t(T, p_rgb, t)
    idx = t + 3 * np.arange(10)
    np.testing.assert_allclose(knots, geometry.transform_points(geometry.invert(T[t]), P[idx]), atol=1e-9)


def _static_scene(n=60):
    """A still camera at the origin looking along +z, palm 0.5 m ahead moving sideways."""
    T = np.repeat(np.eye(4)[None], n, axis=0)
    p = np.stack([np.array([0.002 * i - 0.05, 0.0, 0.5]) for i in range(n)])[:, None, :]
    K = geometry.intrinsics(53.3, 96, 128)
    return T, p, np.ones((n, 1), bool), K


def test_chunk_interpolates_the_ten_knots_to_100_points():
    T, p, tracked, K = _static_scene()
    res = aria.palm_chunks(T, p, tracked, K, (96, 128))
    t = int(res.keep[0])
    knots = p[t + 3 * np.arange(10), 0]
    np.testing.assert_allclose(res.chunks[0][::11], knots, atol=1e-12)  # knot k sits at point 11k
    np.testing.assert_allclose(res.ee[0], p[t, 0])
    assert res.chunks.shape == (len(res.keep), 100, 3)


def test_frames_with_fewer_than_30_future_frames_are_dropped():
    T, p, tracked, K = _static_scene(60)
    res = aria.palm_chunks(T, p, tracked, K, (96, 128))
    assert res.keep.tolist() == list(range(0, 30))  # frame 29 has 30 frames after it; frame 30 has 29
    assert res.dropped["too_short"] == 30


def test_robot_horizon_spans_the_robot_chunk_and_holds_the_last_frame():
    # 40 knots 3 frames apart (3.9 s at 30 fps, the robot chunk's 3.96 s); near the end the knots stop at the
    # recording's last frame, as robot chunks stop at the demo's last step, so only the 30-frame rule drops frames.
    from egogym.data import schema as S

    T, p, tracked, K = _static_scene(200)
    h = S.HUMAN_HORIZONS["robot"]
    assert abs(h.span_frames / 30.0 - S.ROBOT_STRIDE * (S.CHUNK - 1) / 50.0) < 2 / 30.0
    res = aria.palm_chunks(T, p, tracked, K, (96, 128), h)
    assert res.keep.tolist() == list(range(0, 170))
    first, last = res.chunks[0], res.chunks[-1]
    np.testing.assert_allclose(first[0], p[0, 0])
    np.testing.assert_allclose(first[-1], p[h.span_frames, 0])  # the whole span, seen from frame 0
    np.testing.assert_allclose(last[-1], p[199, 0])  # frame 169: its knots past frame 199 hold frame 199
    assert np.all(np.diff(last[:, 0]) >= 0)  # still a monotone path along the palm's motion


def test_robot_exact_horizon_at_50_fps_is_the_robot_chunk_of_whole_spans_only():
    # the positive control's chunks: a 50 fps track sampled as `schema.chunk_indices` samples 50 Hz steps,
    # every frame whose 100 points do not all lie inside the recording dropped
    from egogym.data import schema as S

    T, p, tracked, K = _static_scene(300)
    h = S.HUMAN_HORIZONS["robot-exact"].at(50.0)
    res = aria.palm_chunks(T, p, tracked, K, (96, 128), h, min_future=50)
    span = S.ROBOT_STRIDE * (S.CHUNK - 1)
    assert res.keep.tolist() == list(range(0, 300 - span))
    for i in (0, 57, len(res.keep) - 1):
        idx, pad = S.chunk_indices(int(res.keep[i]), 300)
        assert pad.all()
        np.testing.assert_allclose(res.chunks[i], p[idx, 0], atol=1e-12)


def test_robot_exact_horizon_refuses_aria_rate():
    import pytest

    from egogym.data import schema as S

    with pytest.raises(ValueError, match="a track at 30 fps has no frames 0.04 s apart: record at a multiple of 25 fps"):
        S.HUMAN_HORIZONS["robot-exact"].at(S.ARIA_FPS)


@given(st.sampled_from([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 100.0]), st.sampled_from(["egomimic", "robot"]))
def test_a_horizon_keeps_its_knot_times_at_any_frame_rate(fps, name):
    from egogym.data import schema as S

    h = S.HUMAN_HORIZONS[name]
    g = h.at(fps)
    assert (g.knots, g.pad_end) == (h.knots, h.pad_end)
    assert abs(g.span_frames / fps - h.span_frames / S.ARIA_FPS) < 1e-9
    assert h.at(S.ARIA_FPS) == h


def test_a_frame_rate_without_the_knot_times_is_refused():
    import pytest

    from egogym.data import schema as S

    with pytest.raises(ValueError, match="a track at 15 fps has no frames 0.1 s apart: record at a multiple of 10 fps"):
        S.HUMAN_HORIZONS["egomimic"].at(15.0)


def test_untracked_knot_drops_every_frame_that_needs_it():
    T, p, tracked, K = _static_scene(60)
    tracked[10] = False
    res = aria.palm_chunks(T, p, tracked, K, (96, 128))
    needs_10 = {t for t in range(30) if (10 - t) >= 0 and (10 - t) % 3 == 0 and (10 - t) // 3 < 10}
    assert set(res.keep.tolist()) == set(range(30)) - needs_10
    assert res.dropped["untracked"] == len(needs_10)


def test_out_of_image_or_behind_camera_is_dropped():
    T, p, tracked, K = _static_scene(60)
    p[20, 0] = [0.0, 0.0, -0.3]  # behind the camera
    p[40, 0] = [5.0, 0.0, 0.5]  # far right, outside the image (frame 40 is only a knot of t <= 29)
    res = aria.palm_chunks(T, p, tracked, K, (96, 128))
    bad = {t for t in range(30) for j in (20, 40) if 0 <= j - t <= 27 and (j - t) % 3 == 0}
    assert set(res.keep.tolist()) == set(range(30)) - bad
    assert res.dropped["out_of_image"] == len(bad)


@settings(max_examples=60, deadline=None)
@given(r=st.integers(0, 127), c=st.integers(0, 95), z=st.floats(0.2, 3.0))
def test_sensor_to_upright_rotation_matches_rot90_clockwise(r, c, z):
    # A point seen at a sensor pixel's centre lands, after np.rot90(img, k=-1), on the
    # pixel where the upright camera (R_UPRIGHT_FROM_SENSOR, rotate_K_upright) projects it.
    Hs, Ws = 128, 96  # sensor image: rows = upright width
    K_s = geometry.intrinsics(53.3, Hs, Ws)
    p = geometry.unproject(K_s, np.array([c + 0.5, r + 0.5]), np.array(z))
    img = np.zeros((Hs, Ws), np.uint8)
    img[r, c] = 255
    up = np.rot90(img, k=-1)
    K_up = aria.rotate_K_upright(K_s, Hs)
    uv_up = geometry.project(K_up, aria.R_UPRIGHT_FROM_SENSOR @ p)
    assert up.shape == (Ws, Hs)
    assert up[int(np.floor(uv_up[1])), int(np.floor(uv_up[0]))] == 255


@settings(max_examples=40, deadline=None)
@given(q0=quat, q1=quat, t0=vec3, t1=vec3)
def test_trajectory_interpolation_hits_samples_and_stays_rigid(q0, q1, t0, t1):
    T = np.stack([pose(q0, t0), pose(q1, t1)])
    traj = Trajectory(np.array([0, 1000], np.int64), T, np.ones(2))
    ends = traj.at(np.array([0, 1000]))
    np.testing.assert_allclose(ends, T, atol=1e-9)
    mid = traj.at(np.array([500]))[0]
    np.testing.assert_allclose(mid[:3, :3] @ mid[:3, :3].T, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(mid[:3, 3], (t0 + t1) / 2, atol=1e-9)


def test_slerp_halves_a_rotation_about_one_axis():
    R0 = np.eye(3)
    a = 1.2
    R1 = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    Rm = slerp_rotations(R0[None], R1[None], np.array([0.5]))[0]
    np.testing.assert_allclose(Rm, [[np.cos(a / 2), -np.sin(a / 2), 0], [np.sin(a / 2), np.cos(a / 2), 0], [0, 0, 1]],
                               atol=1e-9)


@given(q=quat, palm=vec3, hand_len=st.floats(0.03, 0.1), tilt=st.floats(-1.2, 1.2))
def test_grip_point_sits_at_the_offset_in_the_hands_own_frame_however_the_hand_turns(q, palm, hand_len, tilt):
    # The hand's frame from its pose: x from wrist to palm, z the palm normal (tilted toward x as MPS's
    # normals need not be perpendicular); the grip is offset (a, 0, b) in it, wherever the hand points.
    R = geometry.quat_to_mat(q)
    wrist = palm - hand_len * R[:, 0]
    normal = np.cos(tilt) * R[:, 2] + np.sin(tilt) * R[:, 0]
    g = aria.grip_point(palm, wrist, normal)
    a, b = aria.GRIP_IN_HAND
    np.testing.assert_allclose(R.T @ (g - palm), [a, 0.0, b], atol=1e-9)


def test_grip_point_is_nan_where_the_hand_is_untracked():
    palm = np.array([[0.0, 0.0, 0.5], [np.nan] * 3])
    g = aria.grip_point(palm, palm - [0.06, 0, 0], np.array([[0.0, 0.0, -1.0], [np.nan] * 3]))
    assert np.isfinite(g[0]).all() and np.isnan(g[1]).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 30), st.integers(1, 6), st.integers(1, 6))
def test_gaps_no_longer_than_the_bridge_are_filled_on_a_steady_motion(start, gap, max_frames):
    """A hand moving at constant velocity (world frame): a loss of `gap` frames with tracked frames around it is
    filled exactly when gap <= max_frames, and left untracked otherwise; losses at either end are never filled."""
    n = 40
    t = np.arange(n) * 20_000.0  # us, 50 fps
    truth = np.stack([np.linspace(0.1, 0.5, n), np.linspace(-0.2, 0.1, n), np.full(n, 0.8)], axis=1)[:, None]
    tracked = np.ones((n, 1), bool)
    lost = np.arange(start, min(start + gap, n))
    tracked[lost] = False
    pts = truth.copy()
    pts[~tracked[:, 0]] = np.nan
    filled, now = aria.fill_tracking_gaps(pts, tracked, t, max_frames)
    inner = start > 0 and start + gap < n
    if inner and gap <= max_frames:
        assert now.all()
        np.testing.assert_allclose(filled, truth, atol=1e-12)
    else:
        assert not now[lost].any() and np.isnan(filled[lost]).all()
    np.testing.assert_array_equal(filled[tracked[:, 0]], truth[tracked[:, 0]])
