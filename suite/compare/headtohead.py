"""Candidates head to head over the seeds they share: paired tests with Holm's correction
(a winner only when significant) and rliable's robust aggregates (interquartile mean with
stratified bootstrap intervals, probability of improvement; Agarwal et al., 2021)."""

from __future__ import annotations

from typing import Any

from suite.compare.readback import Runs, budget_assessments, read, seed_scores

ALPHA = 0.05


def seeds_needed(comparisons: int, alpha: float = ALPHA) -> int:
    """The fewest pairs with which an exact two-sided Wilcoxon test can reach significance
    after Holm's correction over `comparisons` tests (2 / 2**n < alpha / comparisons)."""
    n = 1
    while 2.0 / 2.0**n >= alpha / max(comparisons, 1):
        n += 1
    return n


def _runs(benchmark: str | Runs, tracking_uri: str | None) -> Runs:
    return benchmark if isinstance(benchmark, Runs) else read(benchmark, tracking_uri)


def pairwise(
    benchmark: str | Runs,
    tracking_uri: str | None = None,
    *,
    test: str = "wilcoxon",
    alpha: float = ALPHA,
) -> Any:
    """One row per pair of candidates, paired by seed: paired t-test and exact Wilcoxon,
    both Holm-corrected over the pairs; `test` decides the winner."""
    import itertools

    import pandas as pd

    from suite.compare import stats

    runs = _runs(benchmark, tracking_uri)
    scores = seed_scores(runs)
    wide = scores.pivot(index="seed", columns="candidate", values="value")
    names = [c for c in runs.candidates() if c in wide.columns]
    rows = []
    for a, b in itertools.combinations(names, 2):
        both = wide[[a, b]].dropna()
        r = stats.paired(both[a].to_numpy(), both[b].to_numpy())
        rows.append(
            {"a": a, "b": b, "n": r.n, "mean_diff": r.mean_diff, "t_p": r.t_p}
            | {"wilcoxon_p": r.wilcoxon_p, "min_p": r.min_p, "wilcoxon_method": r.method}
        )
    cols = ["a", "b", "n", "mean_diff", "t_p", "wilcoxon_p", "t_p_holm", "wilcoxon_p_holm"]
    cols += ["min_p", "wilcoxon_method", "winner", "verdict"]
    frame = pd.DataFrame(rows, columns=cols)
    frame.attrs.update(benchmark=runs.benchmark, metric=scores.attrs["metric"], test=test)
    frame.attrs.update(alpha=alpha, comparisons=len(rows))
    if frame.empty:
        return frame
    frame["t_p_holm"] = stats.holm(frame["t_p"])
    frame["wilcoxon_p_holm"] = stats.holm(frame["wilcoxon_p"])
    up = runs.direction == "maximize"
    key = "wilcoxon_p_holm" if test == "wilcoxon" else "t_p_holm"
    m = len(frame)
    decided = [
        verdict(r, p=r[key], m=m, up=up, test=test, alpha=alpha) for _, r in frame.iterrows()
    ]
    winners = [w for w, _ in decided]
    verdicts = [v for _, v in decided]
    frame["winner"], frame["verdict"] = winners, verdicts
    _budget_notes(frame, runs)
    return frame


def verdict(
    r: Any, *, p: float, m: int, up: bool, test: str = "wilcoxon", alpha: float = 0.05
) -> tuple[str, str]:
    """(winner or "", verdict) of one pair `r` (n, mean_diff, wilcoxon_p, min_p, a, b) whose
    Holm-corrected p is `p`, among `m` comparisons; `up`: higher is better."""
    if r["n"] < 2:
        return "", f"too few seeds (n={r['n']} shared seeds)"
    if r["wilcoxon_p"] == 1.0 and r["mean_diff"] == 0 and r["min_p"] == 1.0:
        return "", "no difference: equal on every seed"
    if p < alpha:
        better = r["a"] if (r["mean_diff"] > 0) == up else r["b"]
        return better, f"{better} better ({test}, Holm p={p:.3g})"
    if test == "wilcoxon" and r["min_p"] >= alpha / m:
        needed = seeds_needed(m, alpha)
        if r["n"] >= needed:  # enough seeds: tied pairs cap how small p can get
            return "", (
                f"no significant difference (tied seeds: the exact Wilcoxon test's smallest "
                f"p is {r['min_p']:.3g}, short of {alpha:g} after Holm)"
            )
        return "", (
            f"too few seeds: with n={r['n']} pairs and {m} comparison(s) the exact "
            f"Wilcoxon test cannot reach p < {alpha:g} after Holm (smallest p "
            f"{r['min_p']:.3g}); use at least {needed} seeds"
        )
    return "", "no significant difference"


def _budget_notes(frame: Any, runs: Runs) -> None:
    """Each pair's verdict followed by the budget note of a budget-limited candidate in it."""
    from suite.budget import annotate

    notes = {c: a.note(c) for c, a in budget_assessments(runs).items() if a.limited}
    frame["verdict"] = [
        annotate(v, [notes[c] for c in (a, b) if c in notes])
        for a, b, v in zip(frame["a"], frame["b"], frame["verdict"], strict=True)
    ]


def robust(
    benchmark: str | Runs, tracking_uri: str | None = None, reps: int = 2000
) -> tuple[Any, Any]:
    """rliable's aggregates over the seeds: each candidate's interquartile mean with a
    stratified bootstrap 95 % interval, and P(a > b) for each pair with its interval."""
    import itertools

    import pandas as pd

    from suite.compare import stats

    runs = _runs(benchmark, tracking_uri)
    scores = seed_scores(runs)
    task = runs.dataset
    by = {c: {task: g["value"].to_numpy()} for c, g in scores.groupby("candidate", sort=False)}
    iqm_rows = []
    for c, s in by.items():
        i = stats.iqm_ci(s, reps=reps)
        iqm_rows.append({"candidate": c, "iqm": i.mean, "low": i.low, "high": i.high, "n": i.n})
    sign = 1.0 if runs.direction == "maximize" else -1.0
    poi_rows = []
    for a, b in itertools.permutations(by, 2):
        flip = {a: {task: sign * by[a][task]}, b: {task: sign * by[b][task]}}
        p = stats.probability_of_improvement(flip[a], flip[b], reps=reps)
        poi_rows.append({"a": a, "b": b, "poi": p.mean, "low": p.low, "high": p.high})
    iqm = pd.DataFrame(iqm_rows, columns=["candidate", "iqm", "low", "high", "n"])
    poi = pd.DataFrame(poi_rows, columns=["a", "b", "poi", "low", "high"])
    for f in (iqm, poi):
        f.attrs.update(benchmark=runs.benchmark, metric=scores.attrs["metric"])
    return iqm, poi


def verdicts(frame: Any, pairs: Any, direction: str) -> None:
    """Each candidate against the one with the best test mean: significant or not."""
    scored = frame[frame["test_mean"].notna() & (frame["family"] != "baseline")]
    if len(scored) < 2 or pairs.empty:
        return
    frame["verdict"] = frame["verdict"].astype(object)
    means = scored.set_index("candidate")["test_mean"].astype(float)
    leader = means.idxmax() if direction == "maximize" else means.idxmin()
    mine = pairs[(pairs["a"] == leader) | (pairs["b"] == leader)]
    beaten = 0
    for _, p in mine.iterrows():
        other = p["b"] if p["a"] == leader else p["a"]
        if p["winner"] == leader:
            text, beaten = f"worse than {leader}", beaten + 1
        elif p["winner"]:
            text = f"better than {leader}"
        elif p["verdict"].startswith("too few"):
            text = "too few seeds"
        else:
            text = f"no sig. difference from {leader}"
        frame.loc[frame["candidate"] == other, "verdict"] = text
    lead = "winner" if beaten == len(mine) else "best mean, not significant"
    frame.loc[frame["candidate"] == leader, "verdict"] = lead
