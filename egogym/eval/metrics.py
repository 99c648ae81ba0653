"""Statistics for evaluations: intervals for success rates and points, and tests.

scipy.stats does the field's work where it has it (the Wilson interval, the exact binomial
behind McNemar's test, Fisher's test, normal quantiles); ours is only what it lacks: the
paired-difference interval (Newcombe's method 10) and the sequential stopping rule.

- `wilson_interval`: the Wilson score interval of a binomial proportion (REFERENCE §7:
  95% width 0.27 at p = 0.5 and n = 50; zero successes in 50 give an upper bound 0.071),
  `scipy.stats.binomtest(...).proportion_ci(method="wilson")`.
- `bootstrap_mean_interval`: a seeded percentile bootstrap of a mean (episode points).
- `two_proportion_test`: pooled two-sided z test of two success rates, plus Fisher's
  exact test (small samples).
- `paired_comparison`: two policies evaluated on the same seeds: the 2x2 table of per-seed
  success, the exact McNemar test (scipy's exact binomial test on the discordant seeds) and
  Newcombe's interval on the difference of the paired success rates.
- `between_runs_test`: two arms' per-training-run success rates (the run, not the episode, as
  the unit: what a new training run of the same data would do), Welch's t test and its
  interval, `scipy.stats.ttest_ind(equal_var=False)`.
- `SequentialRule`: when to stop adding evaluation episodes to a paired comparison.
- `trials_for_power`: trials per arm to detect p1 vs p2 (normal approximation).
- `summarize`: the numbers of `summary.json` from a list of episode records.
"""
from __future__ import annotations

import math
import warnings
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
    _z(confidence)
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
    lo = 0.0 if successes == 0 else max(0.0, float(ci.low))  # exact ends (no rounding noise)
    hi = 1.0 if successes == n else min(1.0, float(ci.high))
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


@dataclass(frozen=True)
class BetweenRuns:
    """Per-training-run success rates of arms a and b: the mean rates, b - a, Welch's 95%
    interval on it and the two-sided p value (nan, None in `to_dict`, when every run of both
    arms has the same rate; scipy then gives a zero-width interval). The episode-level tests
    treat the trained runs as fixed; this one asks whether a new run of each arm's recipe
    would differ, with the run-to-run spread as the noise."""

    runs_a: int
    runs_b: int
    mean_a: float
    mean_b: float
    difference: float
    interval: tuple[float, float]
    p_value: float

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["interval"] = [None if math.isnan(v) else v for v in self.interval]
        d["p_value"] = None if math.isnan(self.p_value) else self.p_value
        return d


def between_runs_test(rates_a: Sequence[float], rates_b: Sequence[float], confidence: float = 0.95) -> BetweenRuns:
    """Welch's t test of per-run success rates b vs a; needs at least 2 runs per arm."""
    a, b = np.asarray(rates_a, float), np.asarray(rates_b, float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"between_runs_test: {len(a)} and {len(b)} runs; give at least 2 per arm")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical runs: scipy warns, p is nan
        res = stats.ttest_ind(b, a, equal_var=False)
        lo, hi = res.confidence_interval(confidence)
    return BetweenRuns(len(a), len(b), float(a.mean()), float(b.mean()), float(b.mean() - a.mean()),
                       (float(lo), float(hi)), float(res.pvalue))


@dataclass(frozen=True)
class PairedComparison:
    """Policies A and B evaluated on the same seeds; rates and difference are B - A.

    both, only_a, only_b, neither: seeds that both / only A / only B / neither solved.
    mcnemar_p_value: exact two-sided McNemar test (binomial on only_a vs only_b, p = 1/2).
    interval: Newcombe's (1998, method 10) interval on rate_b - rate_a at `confidence`.
    """

    seeds: int
    both: int
    only_a: int
    only_b: int
    neither: int
    rate_a: float
    rate_b: float
    difference: float
    mcnemar_p_value: float
    interval: tuple[float, float]
    confidence: float

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["interval"] = list(self.interval)
        return d


def paired_table(records_a: Iterable[dict], records_b: Iterable[dict]) -> tuple[int, int, int, int]:
    """(both, only_a, only_b, neither) over the seeds present in both record lists."""
    a = {r["seed"]: bool(r["success"]) for r in records_a}
    b = {r["seed"]: bool(r["success"]) for r in records_b}
    common = sorted(set(a) & set(b))
    both = sum(a[s] and b[s] for s in common)
    only_a = sum(a[s] and not b[s] for s in common)
    only_b = sum(b[s] and not a[s] for s in common)
    return both, only_a, only_b, len(common) - both - only_a - only_b


def newcombe_paired_interval(both: int, only_a: int, only_b: int, neither: int,
                             confidence: float = 0.95) -> tuple[float, float]:
    """Interval on rate_b - rate_a for paired binary outcomes: Newcombe (1998), "Improved
    confidence intervals for the difference between binomial proportions based on paired
    data", Statistics in Medicine 17, method 10 (Wilson score intervals of the two marginal
    rates, combined with the correlation phi of the pairs; Altman et al., "Statistics with
    confidence", 2000, section 6). No library we depend on has it."""
    n = both + only_a + only_b + neither
    if n <= 0:
        raise ValueError("newcombe_paired_interval: no paired seeds")
    k_a, k_b = both + only_a, both + only_b
    p_a, p_b = k_a / n, k_b / n
    l_a, u_a = wilson_interval(k_a, n, confidence)
    l_b, u_b = wilson_interval(k_b, n, confidence)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = 0.0
    if margins > 0:
        cross = both * neither - only_a * only_b
        cross = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
        phi = cross / math.sqrt(margins)
    d = p_b - p_a
    lower = d - math.sqrt(max(0.0, (p_b - l_b) ** 2 - 2 * phi * (p_b - l_b) * (u_a - p_a) + (u_a - p_a) ** 2))
    upper = d + math.sqrt(max(0.0, (u_b - p_b) ** 2 - 2 * phi * (u_b - p_b) * (p_a - l_a) + (p_a - l_a) ** 2))
    return max(-1.0, lower), min(1.0, upper)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: the discordant seeds split as a fair coin would."""
    m = only_a + only_b
    return 1.0 if m == 0 else float(stats.binomtest(only_b, m, 0.5).pvalue)


def paired_comparison(records_a: Iterable[dict], records_b: Iterable[dict],
                      confidence: float = 0.95) -> PairedComparison:
    """Compare B with A on the seeds both were evaluated on (every egogym arm uses the same
    seeds, so the pairs are the same start placements)."""
    both, only_a, only_b, neither = paired_table(records_a, records_b)
    n = both + only_a + only_b + neither
    if n == 0:
        raise ValueError("paired_comparison: the two evaluations share no seed")
    rate_a, rate_b = (both + only_a) / n, (both + only_b) / n
    return PairedComparison(n, both, only_a, only_b, neither, rate_a, rate_b, rate_b - rate_a,
                            mcnemar_exact(only_a, only_b),
                            newcombe_paired_interval(both, only_a, only_b, neither, confidence), confidence)


@dataclass(frozen=True)
class SequentialRule:
    """When to stop adding episodes to a paired comparison of two policies.

    Episodes are added in batches of `look_every` up to `max_episodes`, so there are at most
    K = ceil(max_episodes / look_every) looks. At each look the paired interval is computed
    at level 1 - alpha / K (Bonferroni over the planned looks), and the comparison stops
    when that interval excludes 0 (a difference is shown) or is narrower than `width`.

    Error guarantee: the probability that any of the K intervals misses the true difference
    is at most alpha (union bound, each look's interval at level 1 - alpha / K, if each
    interval holds its level). So stopping because an interval excludes 0 when there is no
    difference happens with probability at most alpha, however the looks go: the repeated
    looks do not inflate the error, at the price of wider intervals at each look.
    """

    look_every: int = 50
    max_episodes: int = 400
    alpha: float = 0.05
    width: float = 0.0  # stop once the interval is narrower than this (0: never for width)

    def __post_init__(self):
        if self.look_every < 1 or self.max_episodes < self.look_every:
            raise ValueError(f"SequentialRule: look_every={self.look_every}, max_episodes={self.max_episodes}: "
                             f"give 1 <= look_every <= max_episodes")
        if not 0 < self.alpha < 1 or self.width < 0:
            raise ValueError(f"SequentialRule: alpha={self.alpha} must be in (0, 1), width={self.width} >= 0")

    @property
    def looks(self) -> int:
        return -(-self.max_episodes // self.look_every)

    @property
    def confidence(self) -> float:
        """The level of the interval at each look: 1 - alpha / looks."""
        return 1.0 - self.alpha / self.looks

    def schedule(self) -> list[int]:
        """Episodes per arm at each look."""
        return [min(self.max_episodes, self.look_every * (i + 1)) for i in range(self.looks)]

    def decide(self, records_a: Iterable[dict], records_b: Iterable[dict]) -> tuple[str | None, PairedComparison]:
        """("difference" | "width" | "max_episodes" | None to continue, the comparison at this look)."""
        c = paired_comparison(records_a, records_b, self.confidence)
        lo, hi = c.interval
        if lo > 0 or hi < 0:
            return "difference", c
        if self.width and hi - lo < self.width:
            return "width", c
        if c.seeds >= self.max_episodes:
            return "max_episodes", c
        return None, c


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
