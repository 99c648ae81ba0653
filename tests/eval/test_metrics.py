"""Statistics against known values (REFERENCE §6-7)."""
import math

import numpy as np
import pytest

from egogym.eval.metrics import (bootstrap_mean_interval, summarize, trials_for_power, two_proportion_test,
                          wilson_interval)


@pytest.mark.parametrize("n, width", [(10, 0.53), (20, 0.40), (50, 0.27), (100, 0.19), (200, 0.14)])
def test_wilson_width_at_one_half(n, width):
    lo, hi = wilson_interval(n // 2, n)
    assert hi - lo == pytest.approx(width, abs=0.005)
    assert (lo + hi) / 2 == pytest.approx(0.5)


@pytest.mark.parametrize("n, upper", [(20, 0.161), (50, 0.071), (100, 0.037)])
def test_wilson_zero_successes(n, upper):
    lo, hi = wilson_interval(0, n)
    assert lo == 0.0
    assert hi == pytest.approx(upper, abs=0.0005)


def test_wilson_closed_form_and_symmetry():
    # 7 of 9 at z = 1.959964: the textbook formula, written out independently.
    z, k, n = 1.959963984540054, 7, 9
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(k, n) == pytest.approx((c - h, c + h))
    lo, hi = wilson_interval(2, 9)
    assert (lo, hi) == pytest.approx((1 - wilson_interval(7, 9)[1], 1 - wilson_interval(7, 9)[0]))


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="n=0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="outside"):
        wilson_interval(5, 4)


def test_two_proportion_paper_numbers():
    # Laundry, 40 trials per arm: ACT 55% vs EgoMimic 88% is significant (p about 0.001);
    # EgoMimic without human data 73% vs 88% is not (p about 0.09).
    t = two_proportion_test(22, 40, 35, 40)
    assert t.p_value == pytest.approx(0.0013, abs=0.0002)
    assert t.difference == pytest.approx(0.325)
    t2 = two_proportion_test(29, 40, 35, 40)
    assert t2.p_value == pytest.approx(0.093, abs=0.002)
    assert t2.fisher_p_value > t2.p_value  # the exact test is more conservative here
    same = two_proportion_test(10, 10, 20, 20)
    assert math.isnan(same.z) and same.p_value == 1.0 and same.to_dict()["z"] is None


@pytest.mark.parametrize("p1, p2, n", [(0.5, 0.7, 93), (0.5, 0.8, 39), (0.73, 0.88, 109)])
def test_trials_for_power(p1, p2, n):
    assert trials_for_power(p1, p2) == n


def test_bootstrap_is_seeded_and_covers_the_mean():
    x = np.random.default_rng(3).exponential(2.0, size=60)
    a = bootstrap_mean_interval(x, seed=0)
    assert a == bootstrap_mean_interval(x, seed=0)
    assert a != bootstrap_mean_interval(x, seed=1)
    assert a[0] < x.mean() < a[1]
    # normal-theory half width 1.96 s / sqrt(n), for comparison
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert (a[1] - a[0]) / 2 == pytest.approx(half, rel=0.15)
    assert bootstrap_mean_interval([3, 3, 3]) == (3.0, 3.0)


def test_summarize():
    recs = [{"seed": 10 + i, "success": i < 3, "points": i, "sim_seconds": 40.0, "wall_seconds": 1.0,
             "status": "aborted" if i == 4 else "done"} for i in range(5)]
    s = summarize(recs)
    assert (s["episodes"], s["successes"], s["success_rate"]) == (5, 3, 0.6)
    assert s["success_rate_interval"] == pytest.approx(list(wilson_interval(3, 5)))
    assert s["mean_points"] == 2.0 and s["statuses"] == {"done": 4, "aborted": 1}
    assert s["seeds"] == [10, 14]
