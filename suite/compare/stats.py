"""Statistics of a head-to-head comparison: pure functions of numbers, no tracking store.

Intervals over seeds (Student t), paired tests over shared seeds (t-test, exact Wilcoxon)
with Holm's correction, rliable's robust aggregates (interquartile mean with stratified
bootstrap intervals, probability of improvement; Agarwal et al., 2021), and comparisons over
several datasets: average ranks, the Friedman test, the Nemenyi critical difference and its
diagram (Demšar, 2006), performance profiles of time-to-target and the geometric-mean
speedup (as MLCommons AlgoPerf scores training speed).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval (NaN where it cannot be computed)."""

    mean: float
    std: float
    low: float
    high: float
    n: int


def _array(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean, sample standard deviation and the Student t interval of the mean."""
    from scipy import stats

    x = _array(values)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    if std == 0.0:
        return Interval(mean, 0.0, mean, mean, n)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=confidence)
    return Interval(mean, std, float(ci.low), float(ci.high), n)


def min_wilcoxon_p(n: int) -> float:
    """The smallest exact two-sided Wilcoxon signed-rank p-value with n non-zero pairs."""
    return 1.0 if n <= 0 else min(1.0, 2.0 / 2.0**n)


@dataclass(frozen=True)
class PairedTest:
    """Paired tests of a - b over shared seeds (two-sided)."""

    n: int
    mean_diff: float
    t_p: float
    wilcoxon_p: float
    min_p: float  # the smallest p the exact Wilcoxon test can give with these pairs
    method: str = "exact"  # how the Wilcoxon p was computed


def _wilcoxon(d: np.ndarray) -> tuple[float, str]:
    """Two-sided Wilcoxon signed-rank p of the non-zero differences `d`: exact; with tied
    magnitudes (metrics on a finite test set often tie) the exact sign-flip distribution of
    the mid-ranks, enumerated up to 20 pairs, beyond that the normal approximation."""
    from scipy import stats

    ties = len(np.unique(np.abs(d))) < len(d)
    if not ties:
        return float(stats.wilcoxon(d, method="exact").pvalue), "exact"
    if len(d) <= 20:
        flips = stats.PermutationMethod(n_resamples=np.inf)
        return float(stats.wilcoxon(d, method=flips).pvalue), "exact (ties: sign flips)"
    return float(stats.wilcoxon(d, method="approx").pvalue), "normal approximation (ties)"


def paired(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Paired t-test and exact Wilcoxon signed-rank test (zero differences dropped)."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {len(x)} and {len(y)}")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    n = len(d)
    nonzero = int(np.count_nonzero(d))
    mean_diff = float(d.mean()) if n else math.nan
    t_p = w_p = math.nan
    method = "exact"
    if n >= 2:
        if nonzero == 0:
            t_p = w_p = 1.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_p = float(stats.ttest_rel(x[keep], y[keep]).pvalue)
                if math.isnan(t_p):  # every difference equal: no spread, no t statistic
                    t_p = 0.0
                w_p, method = _wilcoxon(d[d != 0])
    return PairedTest(n, mean_diff, t_p, w_p, min_wilcoxon_p(nonzero), method)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels, method="holm"); NaN entries stay NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def iqm(values: Any) -> float:
    """Interquartile mean: the mean of the middle 50 % of the values."""
    from scipy import stats

    x = _array(values)
    return float(stats.trim_mean(x, 0.25)) if len(x) else math.nan


def _strata(scores: Mapping[str, Any]) -> list[np.ndarray]:
    return [x for x in (_array(v) for v in scores.values()) if len(x)]


def _resample(strata: list[np.ndarray], reps: int, rng: np.random.Generator) -> np.ndarray:
    """reps x total matrix: each stratum's runs resampled with replacement within it."""
    return np.concatenate([x[rng.integers(0, len(x), size=(reps, len(x)))] for x in strata], axis=1)


def iqm_ci(
    scores: Mapping[str, Any], reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """IQM over every task's runs; percentile interval of a stratified bootstrap.

    `scores` maps a task (a dataset) to its runs' scores (seeds); runs are resampled
    within each task. The interval is NaN with fewer than two runs.
    """
    from scipy import stats

    strata = _strata(scores)
    if not strata:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    allx = np.concatenate(strata)
    est = iqm(allx)
    if len(allx) < 2:
        return Interval(est, math.nan, math.nan, math.nan, len(allx))
    boot = stats.trim_mean(_resample(strata, reps, np.random.default_rng(seed)), 0.25, axis=1)
    a = (1 - confidence) / 2
    low, high = np.quantile(boot, [a, 1 - a])
    return Interval(est, float(boot.std(ddof=1)), float(low), float(high), len(allx))


def _poi(x: list[np.ndarray], y: list[np.ndarray]) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2 per bootstrap row, averaged over tasks (rows x tasks)."""
    out = []
    for xs, ys in zip(x, y, strict=True):
        gt = (xs[..., :, None] > ys[..., None, :]).mean(axis=(-2, -1))
        eq = (xs[..., :, None] == ys[..., None, :]).mean(axis=(-2, -1))
        out.append(gt + 0.5 * eq)
    return np.mean(out, axis=0)


def probability_of_improvement(
    x: Mapping[str, Any],
    y: Mapping[str, Any],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """P(X > Y): the chance that a run of X scores higher than a run of Y on the same task
    (ties count half), averaged over the tasks both have; stratified bootstrap interval."""
    tasks = [t for t in x if t in y and len(_array(x[t])) and len(_array(y[t]))]
    if not tasks:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    xs = [_array(x[t]) for t in tasks]
    ys = [_array(y[t]) for t in tasks]
    est = float(_poi(xs, ys))
    n = sum(len(v) for v in xs)
    rng = np.random.default_rng(seed)
    bx = [v[rng.integers(0, len(v), size=(reps, len(v)))] for v in xs]
    by = [v[rng.integers(0, len(v), size=(reps, len(v)))] for v in ys]
    boot = _poi(bx, by)
    a = (1 - confidence) / 2
    low, high = np.quantile(boot, [a, 1 - a])
    return Interval(est, math.nan, float(low), float(high), n)


def average_ranks(table: Any, higher_better: bool = True) -> Any:
    """Mean rank of each candidate (column) over the datasets (rows); 1 = best, ties share."""
    ranks = table.rank(axis=1, ascending=not higher_better, method="average")
    return ranks.mean(axis=0).sort_values()


def friedman(table: Any) -> tuple[float, float]:
    """Friedman's chi-square statistic (ties corrected) and its p-value; NaN below 3 x 2."""
    from scipy import stats

    data = table.dropna()
    if data.shape[1] < 3 or data.shape[0] < 2:
        return math.nan, math.nan
    res = stats.friedmanchisquare(*(data[c].to_numpy(float) for c in data.columns))
    return float(res.statistic), float(res.pvalue)


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks for k candidates over n datasets (Nemenyi)."""
    from scipy import stats

    if k < 2 or n < 1:
        return math.nan
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def nemenyi(table: Any) -> Any:
    """Pairwise Nemenyi p-values after Friedman (scikit-posthocs), candidates x candidates."""
    import scikit_posthocs as sp

    data = table.dropna()
    return (
        sp.posthoc_nemenyi_friedman(data.to_numpy(float))
        .set_axis(list(data.columns), axis=0)
        .set_axis(list(data.columns), axis=1)
    )


def cd_diagram_svg(
    table: Any, higher_better: bool = True, title: str = "", alpha: float = 0.05
) -> str:
    """A critical-difference diagram (Demšar, 2006) as SVG text: average ranks, bars joining
    candidates that the Nemenyi test cannot tell apart."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp

    data = table.dropna()
    ranks = average_ranks(data, higher_better)
    k, n = data.shape[1], data.shape[0]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * k))
    try:
        sp.critical_difference_diagram(
            ranks, nemenyi(data), ax=ax, alpha=alpha, cd=nemenyi_cd(k, n, alpha)
        )
        ax.set_title(title or f"average rank over {n} datasets (1 = best)", fontsize=10)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def performance_profile(times: Any, taus: Sequence[float] | None = None) -> Any:
    """Fraction of datasets on which each candidate reached the target within tau times the
    fastest candidate's time (AlgoPerf); inf or NaN times never count. Long frame."""
    import pandas as pd

    t = times.astype(float).where(np.isfinite(times.astype(float)), np.inf)
    best = t.min(axis=1)
    ratio = t.div(best.where(np.isfinite(best), np.nan), axis=0)
    grid = np.asarray(taus if taus is not None else np.linspace(1.0, 4.0, 61), dtype=float)
    rows = [
        {"tau": float(tau), "candidate": c, "fraction": float((ratio[c] <= tau).mean())}
        for c in t.columns
        for tau in grid
    ]
    return pd.DataFrame(rows, columns=["tau", "candidate", "fraction"])


def profile_score(profile: Any) -> Any:
    """Each candidate's area under its performance profile, scaled to [0, 1]."""
    out = {}
    for c, g in profile.groupby("candidate", sort=False):
        tau, frac = g["tau"].to_numpy(), g["fraction"].to_numpy()
        span = tau[-1] - tau[0]
        area = float(np.sum((frac[1:] + frac[:-1]) / 2 * np.diff(tau)))
        out[c] = area / span if span > 0 else float(frac[0])
    import pandas as pd

    return pd.Series(out, name="profile_score")


def geomean_speedup(times: Any, baseline: str) -> Any:
    """Geometric mean over datasets of baseline time / candidate time (> 1: faster), on the
    datasets where both reached the target."""
    import pandas as pd

    if baseline not in times.columns:
        raise KeyError(
            f"baseline {baseline!r} is not a candidate; candidates: {', '.join(times.columns)}"
        )
    t = times.astype(float)
    out = {}
    for c in t.columns:
        ok = np.isfinite(t[c]) & np.isfinite(t[baseline]) & (t[c] > 0) & (t[baseline] > 0)
        ratio = t.loc[ok, baseline] / t.loc[ok, c]
        out[c] = float(np.exp(np.log(ratio).mean())) if ok.any() else math.nan
    return pd.Series(out, name=f"speedup_vs_{baseline}")
