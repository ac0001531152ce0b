"""The statistics of `suite compare` against hand-computed values, scipy and Demšar (2006)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from suite.compare import stats

# Demšar (2006), Table 6: AUC of four C4.5 variants on 14 UCI data sets.
DEMSAR = pd.DataFrame(
    [
        [0.763, 0.768, 0.771, 0.798],
        [0.599, 0.591, 0.590, 0.569],
        [0.954, 0.971, 0.968, 0.967],
        [0.628, 0.661, 0.654, 0.657],
        [0.882, 0.888, 0.886, 0.898],
        [0.936, 0.931, 0.916, 0.931],
        [0.661, 0.668, 0.609, 0.685],
        [0.583, 0.583, 0.563, 0.625],
        [0.775, 0.838, 0.866, 0.875],
        [1.000, 1.000, 1.000, 1.000],
        [0.940, 0.962, 0.965, 0.962],
        [0.619, 0.666, 0.614, 0.669],
        [0.972, 0.981, 0.975, 0.975],
        [0.957, 0.978, 0.946, 0.970],
    ],
    columns=["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"],
)


def test_mean_ci_is_the_student_t_interval() -> None:
    x = [0.91, 0.93, 0.90, 0.94, 0.92]
    ci = stats.mean_ci(x)
    # by hand: mean 0.92, s = sqrt(0.001 / 4), t(0.975, 4) = 2.7764451051977987
    half = 2.7764451051977987 * math.sqrt(0.001 / 4) / math.sqrt(5)
    assert (ci.mean, ci.n) == (pytest.approx(0.92), 5)
    assert ci.std == pytest.approx(math.sqrt(0.00025))
    assert (ci.low, ci.high) == (pytest.approx(0.92 - half), pytest.approx(0.92 + half))
    ref = sps.ttest_1samp(x, 0.0).confidence_interval(0.95)
    assert (ci.low, ci.high) == (pytest.approx(ref.low), pytest.approx(ref.high))


def test_mean_ci_degenerate_samples() -> None:
    one = stats.mean_ci([0.5])
    assert one.mean == 0.5 and math.isnan(one.low) and one.n == 1
    same = stats.mean_ci([0.5, 0.5, 0.5])
    assert (same.low, same.high, same.std) == (0.5, 0.5, 0.0)
    assert stats.mean_ci([float("nan"), 0.2, 0.4]).n == 2


def test_paired_tests_match_scipy_and_exact_wilcoxon_by_hand() -> None:
    a = np.array([0.90, 0.92, 0.95, 0.91, 0.93, 0.94])
    b = np.array([0.89, 0.90, 0.93, 0.915, 0.90, 0.92])
    r = stats.paired(a, b)
    assert r.n == 6 and r.mean_diff == pytest.approx(float((a - b).mean()))
    assert r.t_p == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert r.wilcoxon_p == pytest.approx(sps.wilcoxon(a - b, method="exact").pvalue)
    # differences 1, 2, -3, 4, 5, 6 (ranks): W- = 3; P(W- <= 3) counts {}, {1}, {2}, {3}, {1,2}
    d = stats.paired([1, 2, 0, 4, 5, 6], [0, 0, 3, 0, 0, 0])
    assert d.wilcoxon_p == pytest.approx(2 * 5 / 64)


def test_wilcoxon_with_tied_differences_enumerates_every_sign_flip() -> None:
    import itertools

    # test accuracies on 40 examples move in steps of 0.025: differences tie
    d = np.array([0.025, 0.025, -0.05, 0.025, 0.05, 0.075])
    r = stats.paired(d, np.zeros(6))
    ranks = sps.rankdata(np.abs(d))  # mid-ranks 2, 2, 4.5, 2, 4.5, 6
    observed, centre = ranks[d > 0].sum(), ranks.sum() / 2
    flips = [np.dot(ranks, s) for s in itertools.product([0, 1], repeat=6)]
    extreme = sum(abs(w - centre) >= abs(observed - centre) - 1e-9 for w in flips)
    assert r.wilcoxon_p == pytest.approx(extreme / 64)  # 18 / 64
    assert r.method.startswith("exact") and r.min_p == pytest.approx(1 / 32)


def test_exact_wilcoxon_needs_six_seeds_for_p_below_005() -> None:
    assert stats.min_wilcoxon_p(5) == pytest.approx(0.0625)
    assert stats.min_wilcoxon_p(6) == pytest.approx(0.03125)
    five = stats.paired([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    six = stats.paired([1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0])
    assert five.wilcoxon_p == pytest.approx(0.0625) and five.min_p == pytest.approx(0.0625)
    assert six.wilcoxon_p == pytest.approx(0.03125)
    from suite.compare.headtohead import seeds_needed

    # 2 / 2**n below 0.05 / m: 6 pairs for one comparison, 7 for 3 (2 / 128 < 0.0167)
    assert [seeds_needed(m) for m in (1, 3, 6, 21, 28)] == [6, 7, 8, 10, 11]
    same = stats.paired([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert (same.t_p, same.wilcoxon_p, same.min_p) == (1.0, 1.0, 1.0)


def test_holm_adjusted_p_values_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = stats.holm([0.02, float("nan"), 0.5])
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.5)


def test_interquartile_mean_and_its_bootstrap_interval() -> None:
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([1, 2, 3, 4, 100]) == pytest.approx(sps.trim_mean([1, 2, 3, 4, 100], 0.25))
    ci = stats.iqm_ci({"a": np.arange(1, 9), "b": np.arange(11, 19)}, reps=500)
    assert ci.mean == pytest.approx(stats.iqm(np.r_[np.arange(1, 9), np.arange(11, 19)]))
    assert ci.low < ci.mean < ci.high and ci.n == 16
    flat = stats.iqm_ci({"a": [0.7, 0.7, 0.7]}, reps=200)
    assert flat.low == flat.high == pytest.approx(0.7)


def test_probability_of_improvement_known_cases() -> None:
    # pairs (1, 1.5), (1, 3), (2, 1.5), (2, 3): X wins one of four
    p = stats.probability_of_improvement({"t": [1, 2]}, {"t": [1.5, 3]}, reps=300)
    assert p.mean == pytest.approx(0.25) and 0.0 <= p.low <= p.mean <= p.high <= 1.0
    assert stats.probability_of_improvement({"t": [1, 1]}, {"t": [1, 1]}).mean == 0.5
    sure = stats.probability_of_improvement({"t": [3, 4]}, {"t": [1, 2]}, reps=200)
    assert (sure.mean, sure.low, sure.high) == (1.0, 1.0, 1.0)
    # averaged over tasks: 1 on one task, 0 on the other
    both = stats.probability_of_improvement({"u": [2], "v": [0]}, {"u": [1], "v": [1]})
    assert both.mean == pytest.approx(0.5)


def test_average_ranks_friedman_and_critical_difference_on_demsar_table_6() -> None:
    ranks = stats.average_ranks(DEMSAR)
    # Table 6 ranks each row; the paper ranks voting's tied 0.975s as 2 and 3 (average ranks
    # 2.893 and 1.964): shared ranks (2.5 each) give 41/14 and 27/14.
    assert ranks.to_dict() == pytest.approx(
        {"C4.5": 44 / 14, "C4.5+m": 2.0, "C4.5+cf": 41 / 14, "C4.5+m+cf": 27 / 14}
    )
    assert list(ranks.index) == ["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]
    chi2, p = stats.friedman(DEMSAR)
    # by hand: 12N/(k(k+1)) * (sum R^2 - k(k+1)^2/4) = 9.857 without ties; the tie
    # correction divides by 1 - sum(t^3 - t) / (N k (k^2 - 1)) = 1 - 84 / 840
    plain = 12 * 14 / 20 * (sum(r * r for r in ranks) - 4 * 25 / 4)
    assert chi2 == pytest.approx(plain / 0.9)
    assert p == pytest.approx(sps.chi2.sf(chi2, 3))
    assert p < 0.05  # Demšar: the null hypothesis is rejected
    assert stats.nemenyi_cd(4, 14) == pytest.approx(2.569 * math.sqrt(20 / 84), abs=2e-3)
    assert stats.nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.01)
    p_nem = stats.nemenyi(DEMSAR)
    assert (p_nem.to_numpy() >= 0.05).all()  # Demšar: no pair differs at 0.05
    assert math.isnan(stats.friedman(DEMSAR.iloc[:, :2])[1])  # needs 3 candidates


def test_cd_diagram_is_svg_text_naming_the_candidates() -> None:
    svg = stats.cd_diagram_svg(DEMSAR, title="C4.5 variants")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "C4.5+m+cf" in svg and "C4.5 variants" in svg


def test_performance_profile_and_geometric_mean_speedup() -> None:
    times = pd.DataFrame(
        {"base": [10.0, 20.0, 30.0], "fast": [5.0, 40.0, math.inf], "twice": [5.0, 10.0, 15.0]},
        index=["d1", "d2", "d3"],
    )
    prof = stats.performance_profile(times, taus=[1.0, 2.0, 4.0])
    frac = prof.set_index(["candidate", "tau"])["fraction"]
    assert frac[("twice", 1.0)] == 1.0  # fastest everywhere
    assert frac[("base", 1.0)] == 0.0 and frac[("base", 2.0)] == 1.0
    # fast: ratio 1 on d1, 4 on d2, never on d3
    assert frac[("fast", 1.0)] == pytest.approx(1 / 3)
    assert frac[("fast", 4.0)] == pytest.approx(2 / 3)
    score = stats.profile_score(prof)
    assert score["twice"] == 1.0 and score["twice"] > score["base"] > 0
    speed = stats.geomean_speedup(times, "base")
    assert speed["base"] == 1.0 and speed["twice"] == pytest.approx(2.0)
    assert speed["fast"] == pytest.approx(1.0)  # 2x on d1, 0.5x on d2; d3 never reached
    with pytest.raises(KeyError, match="baseline 'nope'"):
        stats.geomean_speedup(times, "nope")


def test_pair_verdicts_say_whether_seeds_or_ties_limit_the_exact_test() -> None:
    from suite.compare.headtohead import seeds_needed, verdict

    assert seeds_needed(3) == 7  # 2 / 2**7 < 0.05 / 3
    row = {"a": "cnn", "b": "gru", "n": 7, "mean_diff": 0.06, "wilcoxon_p": 0.016}
    assert verdict({**row, "min_p": 0.0156}, p=0.047, m=3, up=True) == (
        "cnn",
        "cnn better (wilcoxon, Holm p=0.047)",
    )
    assert verdict({**row, "mean_diff": -0.06, "min_p": 0.0156}, p=0.047, m=3, up=True)[0] == "gru"
    # 7 seeds, one tied pair: the exact test's smallest p is 2/64, too large for Holm over 3
    tied = verdict({**row, "wilcoxon_p": 0.56, "min_p": 0.0312}, p=0.56, m=3, up=True)
    assert tied[0] == "" and tied[1].startswith("no significant difference (tied seeds")
    few = verdict({**row, "n": 3, "wilcoxon_p": 0.25, "min_p": 0.25}, p=0.25, m=3, up=True)
    assert few[1].startswith("too few seeds") and "use at least 7 seeds" in few[1]
    same = verdict({**row, "mean_diff": 0, "wilcoxon_p": 1.0, "min_p": 1.0}, p=1.0, m=3, up=True)
    assert same == ("", "no difference: equal on every seed")
