"""Chunks cut at load time equal EgoMimic's pre-stacked arrays, bit for bit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from egogym.data import schema as S
from egogym.data.export import export_egomimic
from egogym.data.reader import EgoDataset

from data_helpers import write_robot_file


def naive_prestack(x, stride=2, horizon=100):
    """EgoMimic's pre-stacking written the slow, obvious way."""
    T = len(x)
    out = np.empty((T, horizon) + x.shape[1:], x.dtype)
    for t in range(T):
        for k in range(horizon):
            out[t, k] = x[min(t + stride * k, T - 1)]
    return out


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 450), D=st.sampled_from([3, 7, 14]), seed=st.integers(0, 2**31))
def test_lazy_chunks_equal_naive_prestacking(T, D, seed):
    x = np.random.default_rng(seed).normal(size=(T, D))
    ref = naive_prestack(x)
    assert np.array_equal(S.prestack(x), ref)
    for t in {0, T // 2, T - 1}:
        idx, pad = S.chunk_indices(t, T)
        assert np.array_equal(x[idx], ref[t])
        assert pad.sum() == min(100, (T - 1 - t) // 2 + 1)
        assert pad[0] and (pad[:pad.sum()].all() and not pad[pad.sum():].any())


@settings(max_examples=30, deadline=None)
@given(K=st.integers(2, 12), D=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_interpolated_human_chunk_keeps_knots_and_is_linear(K, D, seed):
    knots = np.random.default_rng(seed).normal(size=(K, D))
    c = S.interpolate_chunk(knots)
    assert c.shape == (100, D)
    assert np.allclose(c[0], knots[0]) and np.allclose(c[-1], knots[-1])
    s = np.linspace(0, K - 1, 100)
    j = np.minimum(np.floor(s).astype(int), K - 2)
    w = (s - j)[:, None]
    assert np.allclose(c, (1 - w) * knots[j] + w * knots[j + 1])


def test_chunk_index_out_of_range():
    with pytest.raises(IndexError):
        S.chunk_indices(5, 5)


def test_reader_chunks_equal_egomimic_layout_file(tmp_path):
    """Every sample of an egogym file equals the same sample of its EgoMimic export."""
    src, dst = tmp_path / "r.hdf5", tmp_path / "egomimic.hdf5"
    write_robot_file(src, lengths=(1, 2, 57, 203))
    export_egomimic(src, dst)
    a = EgoDataset(src, split="all")
    with pytest.warns(UserWarning, match="no calibration"):
        b = EgoDataset(dst, split="all")
    assert b.egomimic_layout and not a.egomimic_layout and len(a) == len(b) == 263
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for k in x:
            assert np.array_equal(x[k], y[k]), (i, k)
    assert b.calibration.source.startswith("preset egomimic-aria")
