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


# ---- paired comparisons (every arm is evaluated on the same seeds) ------------------------

from egogym.eval.metrics import (SequentialRule, mcnemar_exact, newcombe_paired_interval,  # noqa: E402
                                 paired_comparison, paired_table)


def _records(successes, seeds=None):
    seeds = seeds if seeds is not None else range(len(successes))
    return [{"seed": s, "success": bool(x)} for s, x in zip(seeds, successes)]


def test_exact_mcnemar_known_answers():
    assert mcnemar_exact(1, 6) == pytest.approx(2 * (1 + 7) / 2**7)  # 2 P(X <= 1), X ~ Bin(7, 1/2) = 0.125
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 2**5)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_paired_table_uses_the_common_seeds_only():
    a = _records([1, 1, 0, 0, 1], seeds=[0, 1, 2, 3, 4])
    b = _records([1, 0, 1, 0], seeds=[0, 1, 2, 3])
    assert paired_table(a, b) == (1, 1, 1, 1)
    c = paired_comparison(a, b)
    assert c.seeds == 4 and c.difference == 0.0 and c.mcnemar_p_value == 1.0


def test_newcombe_interval_contains_the_estimate_and_flips_with_the_arms():
    for cells in [(1, 1, 7, 12), (10, 15, 5, 20), (0, 0, 0, 30), (30, 0, 0, 0), (0, 4, 0, 0)]:
        lo, hi = newcombe_paired_interval(*cells)
        both, only_a, only_b, neither = cells
        d = (only_b - only_a) / sum(cells)
        assert -1 <= lo <= d <= hi <= 1
        lo2, hi2 = newcombe_paired_interval(both, only_b, only_a, neither)
        assert (lo2, hi2) == pytest.approx((-hi, -lo))


@pytest.mark.parametrize("p_a,p_b,rho", [(0.3, 0.3, 0.5), (0.2, 0.5, 0.3), (0.7, 0.8, 0.0)])
def test_newcombe_interval_covers_the_true_difference(p_a, p_b, rho):
    """Correlated pairs drawn from a bivariate Bernoulli: the 95% interval covers p_b - p_a in
    about 95% of 2000 simulated evaluations of 60 seeds (Newcombe's method 10 is near nominal)."""
    rng = np.random.default_rng(0)
    n, hits, trials = 60, 0, 2000
    cov = rho * np.sqrt(p_a * (1 - p_a) * p_b * (1 - p_b))
    p11 = p_a * p_b + cov
    probs = np.array([p11, p_a - p11, p_b - p11, 1 - p_a - p_b + p11])
    for _ in range(trials):
        both, only_a, only_b, neither = rng.multinomial(n, probs)
        lo, hi = newcombe_paired_interval(both, only_a, only_b, neither)
        hits += lo <= p_b - p_a <= hi
    assert 0.92 <= hits / trials <= 0.99


def test_sequential_rule_keeps_its_error_under_repeated_looks():
    """No true difference: stopping with "difference" happens in at most alpha of the runs
    (plus simulation noise), although the rule looks 8 times."""
    rule = SequentialRule(look_every=25, max_episodes=200, alpha=0.05)
    assert rule.schedule() == [25, 50, 75, 100, 125, 150, 175, 200] and rule.confidence == pytest.approx(1 - 0.05 / 8)
    rng = np.random.default_rng(1)
    false_stops, runs = 0, 400
    for _ in range(runs):
        a, b = rng.random(200) < 0.5, rng.random(200) < 0.5
        for n in rule.schedule():
            why, _ = rule.decide(_records(a[:n]), _records(b[:n]))
            if why:
                false_stops += why == "difference"
                break
    assert false_stops / runs <= 0.05 + 0.02


def test_sequential_rule_stops_early_on_a_large_difference_and_on_width():
    rule = SequentialRule(look_every=20, max_episodes=200, alpha=0.05)
    a, b = [0] * 200, [1] * 200
    why, c = rule.decide(_records(a[:20]), _records(b[:20]))
    assert why == "difference" and c.interval[0] > 0
    wide = SequentialRule(look_every=20, max_episodes=200, width=1.5)
    why, _ = wide.decide(_records([0, 1] * 10), _records([1, 0] * 10))
    assert why == "width"


def test_between_runs_is_welch_on_the_per_run_rates():
    """Known answer: means 0.35 and 0.55, both variances 0.0025 over 3 runs: se = 0.040825,
    t = 4.899 on 4 degrees of freedom."""
    from scipy import stats

    from egogym.eval.metrics import between_runs_test

    r = between_runs_test([0.3, 0.35, 0.4], [0.5, 0.6, 0.55])
    se = (2 * 0.0025 / 3) ** 0.5
    assert r.difference == pytest.approx(0.2)
    assert r.p_value == pytest.approx(2 * stats.t.sf(0.2 / se, 4))
    assert r.interval == pytest.approx((0.2 - stats.t.ppf(0.975, 4) * se, 0.2 + stats.t.ppf(0.975, 4) * se))
    assert between_runs_test([0.3, 0.3], [0.3, 0.3]).to_dict()["p_value"] is None
    with pytest.raises(ValueError, match="at least 2"):
        between_runs_test([0.3], [0.4, 0.5])
