import numpy as np
from hypothesis import given, settings, strategies as st

from egogym.policies.execution import FirstKExecutor, TemporalEnsembler


def test_first_k_plays_the_first_k_points_then_queries():
    ex = FirstKExecutor(3)
    played, queries = [], 0
    for t in range(7):
        if ex.needs_query():
            ex.add(np.arange(10)[:, None] + 100 * queries)
            queries += 1
        played.append(int(ex.next()[0]))
    assert played == [0, 1, 2, 100, 101, 102, 200]
    ex.reset()
    assert ex.needs_query()


def closed_form(chunks: list[np.ndarray], t: int, m: float) -> np.ndarray:
    """a_t = sum_j w_j c_j[t-j] / sum_j w_j over chunks j with 0 <= t-j < P, w = exp(-m i), i from the oldest."""
    P = chunks[0].shape[0]
    js = [j for j in range(len(chunks)) if 0 <= t - j < P]
    w = np.exp(-m * np.arange(len(js)))
    return sum(wi * chunks[j][t - j] for wi, j in zip(w, js)) / w.sum()


@settings(max_examples=40, deadline=None)
@given(m=st.floats(0.0, 1.0), P=st.integers(1, 8), T=st.integers(1, 20), seed=st.integers(0, 1000))
def test_temporal_ensembling_equals_its_closed_form(m, P, T, seed):
    rng = np.random.default_rng(seed)
    chunks = [rng.normal(size=(P, 3)) for _ in range(T)]
    ens = TemporalEnsembler(m, P)
    for t in range(T):
        assert ens.needs_query()
        ens.add(chunks[t])
        assert not ens.needs_query()
        np.testing.assert_allclose(ens.next(), closed_form(chunks, t, m), rtol=1e-12, atol=1e-12)


def test_ensembler_weights_the_oldest_chunk_most_for_positive_m():
    ens = TemporalEnsembler(1.0, 4)
    ens.add(np.zeros((4, 1)))
    ens.next()
    ens.add(np.ones((4, 1)))
    a = ens.next()[0]
    np.testing.assert_allclose(a, np.exp(-1) / (1 + np.exp(-1)))
    ens.reset()
    assert ens.needs_query()
