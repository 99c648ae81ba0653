"""Statistics for evaluations: intervals for success rates and points, and tests.

- `wilson_interval`: the Wilson score interval of a binomial proportion (REFERENCE §7:
  95% width 0.27 at p = 0.5 and n = 50; zero successes in 50 give an upper bound 0.071).
- `bootstrap_mean_interval`: a seeded percentile bootstrap of a mean (episode points).
- `two_proportion_test`: pooled two-sided z test of two success rates, plus Fisher's
  exact test (small samples).
- `trials_for_power`: trials per arm to detect p1 vs p2 (normal approximation).
- `summarize`: the numbers of `summary.json` from a list of episode records.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import stats


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence}: give a level in (0, 1), e.g. 0.95")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (lo, hi) for `successes` out of `n` trials, both in [0, 1]."""
    if n <= 0:
        raise ValueError(f"wilson_interval: n={n}; need at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: successes={successes} is outside 0..{n}")
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends (no rounding noise)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def bootstrap_mean_interval(values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) of the mean of `values`; the same seed gives the same interval."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_mean_interval: need a non-empty 1-D list of values, got shape {x.shape}")
    _z(confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True)
class ProportionTest:
    """Comparison of success rates a = k1/n1 and b = k2/n2 (two-sided)."""

    rate_a: float
    rate_b: float
    difference: float  # rate_b - rate_a
    z: float  # pooled z statistic (nan when both rates are 0 or both 1)
    p_value: float  # from z (normal approximation)
    fisher_p_value: float  # Fisher's exact test

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> ProportionTest:
    """Pooled two-proportion z test and Fisher's exact test of k1/n1 vs k2/n2."""
    for k, n, name in ((k1, n1, "first"), (k2, n2, "second")):
        if n <= 0 or not 0 <= k <= n:
            raise ValueError(f"two_proportion_test: {name} arm has {k} successes of {n} trials")
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        z, p = float("nan"), 1.0
    else:
        z = (p2 - p1) / se
        p = float(2 * stats.norm.sf(abs(z)))
    fisher = float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    return ProportionTest(p1, p2, p2 - p1, z, p, fisher)


def trials_for_power(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Trials per arm for a two-sided test at `alpha` to detect p1 vs p2 with `power`."""
    if p1 == p2:
        raise ValueError("trials_for_power: p1 == p2 cannot be detected")
    za, zb = _z(1 - alpha), float(stats.norm.ppf(power))
    pbar = (p1 + p2) / 2
    num = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return int(math.ceil(num * num / (p1 - p2) ** 2))


def summarize(records: Iterable[dict], confidence: float = 0.95, bootstrap_seed: int = 0) -> dict:
    """Episodes, successes, success rate + Wilson interval, mean points + bootstrap interval,
    and the count of each status, from episode records (`egogym.eval.records`)."""
    recs = list(records)
    if not recs:
        raise ValueError("summarize: no episode records")
    n = len(recs)
    k = sum(bool(r["success"]) for r in recs)
    points = [float(r["points"]) for r in recs]
    statuses: dict[str, int] = {}
    for r in recs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    lo, hi = wilson_interval(k, n, confidence)
    plo, phi = bootstrap_mean_interval(points, confidence, seed=bootstrap_seed)
    return {
        "episodes": n,
        "successes": k,
        "success_rate": k / n,
        "success_rate_interval": [lo, hi],
        "success_rate_interval_method": f"Wilson score, {confidence:.0%}",
        "mean_points": float(np.mean(points)),
        "mean_points_interval": [plo, phi],
        "mean_points_interval_method": f"percentile bootstrap, {confidence:.0%}, 10000 resamples, seed {bootstrap_seed}",
        "statuses": statuses,
        "seeds": [min(r["seed"] for r in recs), max(r["seed"] for r in recs)],
        "sim_seconds_per_episode": float(np.mean([r["sim_seconds"] for r in recs])),
        "wall_seconds_total": float(sum(r["wall_seconds"] for r in recs)),
    }
