"""Candidates compared over several datasets (one benchmark each, shared candidate names):
average ranks, the Friedman test and Nemenyi's critical difference (Demšar, 2006),
Wilcoxon tests over datasets with Holm's correction (Benavoli et al., 2016), and
efficiency: performance profiles of time-to-target and the geometric-mean speedup over a
baseline candidate (as MLCommons AlgoPerf scores training speed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from suite.compare.readback import MixedResults, NotFound, check_mixed, read


@dataclass(frozen=True)
class Across:
    """The comparison over datasets; frames have datasets as rows, candidates as columns."""

    benchmarks: tuple[str, ...]
    metric: str
    higher_better: bool
    table: Any  # the test metric's mean over seeds (best validation where no seed runs)
    ranks: Any  # average rank per candidate over the complete datasets, 1 = best
    friedman: tuple[float, float]  # chi-square (ties corrected), p
    cd: float  # Nemenyi critical difference at alpha = 0.05
    pairwise: Any  # a, b, n, wins, losses, wilcoxon_p, wilcoxon_p_holm, verdict
    times: Any  # seconds to reach each benchmark's target (inf: never; NaN: no target)
    profile: Any  # performance profile: tau, candidate, fraction
    speedup: Any  # geometric-mean speedup over the baseline, or None
    baseline: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def cd_svg(self, title: str = "") -> str:
        """The critical-difference diagram as SVG text."""
        from suite.compare import stats

        return stats.cd_diagram_svg(self.complete, self.higher_better, title)

    @property
    def complete(self) -> Any:
        """The datasets on which every candidate has a value."""
        return self.table.dropna()

    def summary(self) -> Any:
        """One row per candidate: average rank, wins, profile score and speedup."""
        import pandas as pd

        from suite.compare import stats

        out = pd.DataFrame({"average_rank": self.ranks})
        out["datasets"] = self.table.notna().sum()
        if self.times.notna().to_numpy().any():
            out["profile_score"] = stats.profile_score(self.profile)
        if self.speedup is not None:
            out[self.speedup.name] = self.speedup
        return out.reset_index(names="candidate")

    def to_dict(self) -> dict[str, Any]:
        def records(f: Any) -> Any:
            return json.loads(f.to_json(orient="records")) if f is not None else None

        return {
            "benchmarks": list(self.benchmarks),
            "metric": self.metric,
            "higher_better": self.higher_better,
            "table": json.loads(self.table.to_json(orient="index")),
            "summary": records(self.summary()),
            "friedman": {"statistic": self.friedman[0], "p": self.friedman[1]},
            "cd": self.cd,
            "pairwise": records(self.pairwise),
            "times": json.loads(self.times.to_json(orient="index")),
            "baseline": self.baseline,
            "warnings": list(self.warnings),
        }


def across(
    benchmarks: Sequence[str],
    tracking_uri: str | None = None,
    *,
    baseline: str | None = None,
    allow_mixed: bool = False,
    target: float | None = None,
    alpha: float = 0.05,
) -> Across:
    """Compare the candidates the benchmarks share, each benchmark one dataset; benchmarks on
    the same dataset (same data fingerprint) are merged into one row."""
    import itertools

    import numpy as np
    import pandas as pd

    from suite.compare import stats
    from suite.compare.board import leaderboard

    all_runs = [read(b, tracking_uri) for b in benchmarks]
    warnings = check_mixed(all_runs, allow_mixed)
    metrics = {r.benchmark: (r.test_metric, r.direction) for r in all_runs}
    if len(set(metrics.values())) > 1:
        raise MixedResults(
            "the benchmarks rank by different metrics or directions: "
            + ", ".join(f"{b}: {m} ({d})" for b, (m, d) in metrics.items())
        )
    values: dict[str, dict[str, float]] = {}
    times: dict[str, dict[str, float]] = {}
    for runs in all_runs:
        board = leaderboard(runs, target=target, allow_mixed=True)
        board = board[board["family"] != "baseline"]
        row, trow = values.setdefault(runs.dataset, {}), times.setdefault(runs.dataset, {})
        for _, r in board.iterrows():
            name = str(r["candidate"])
            if name in row:
                warnings.append(f"{name} appears twice on {runs.dataset}; the first is kept")
                continue
            v = r["test_mean"]
            if pd.isna(v) and pd.notna(r["best_val"]):
                v = r["best_val"]
                warnings.append(
                    f"{name} has no seed runs on {runs.dataset}: its best validation value "
                    "stands in for the test mean"
                )
            row[name] = float(v) if pd.notna(v) else math.nan
            trow[name] = _float(r["time_to_target_s"])
    table = pd.DataFrame.from_dict(values, orient="index").sort_index()
    times_f = pd.DataFrame.from_dict(times, orient="index").reindex_like(table)
    metric, direction = next(iter(metrics.values()))
    up = direction == "maximize"
    complete = table.dropna()
    dropped = sorted(set(table.index) - set(complete.index))
    if dropped:
        warnings.append(f"datasets without every candidate, left out of the ranks: {dropped}")
    if len(complete) and complete.shape[1]:
        ranks = stats.average_ranks(complete, up)
    else:
        ranks = pd.Series(dtype=float)
    rows = []
    for a, b in itertools.combinations(list(table.columns), 2):
        both = table[[a, b]].dropna()
        r = stats.paired(both[a].to_numpy(), both[b].to_numpy())
        sign = 1 if up else -1
        wins = int((sign * (both[a] - both[b]) > 0).sum())
        losses = int((sign * (both[a] - both[b]) < 0).sum())
        rows.append({"a": a, "b": b, "n": r.n, "wins": wins, "losses": losses})
        rows[-1].update(wilcoxon_p=r.wilcoxon_p, min_p=r.min_p)
    pairs = pd.DataFrame(rows, columns=["a", "b", "n", "wins", "losses", "wilcoxon_p", "min_p"])
    pairs["wilcoxon_p_holm"] = stats.holm(pairs["wilcoxon_p"]) if len(pairs) else []
    m = max(len(pairs), 1)
    verdicts = []
    for _, r in pairs.iterrows():
        if r["wilcoxon_p_holm"] < alpha:
            verdicts.append(f"{r['a'] if r['wins'] > r['losses'] else r['b']} better")
        elif r["min_p"] >= alpha / m:
            verdicts.append(
                f"too few datasets: with {r['n']} the exact Wilcoxon test cannot reach "
                f"p < {alpha:g} after Holm over {m} comparison(s)"
            )
        else:
            verdicts.append("no significant difference")
    pairs["verdict"] = verdicts
    has_times = bool(np.isfinite(times_f.to_numpy(float)).any()) if times_f.size else False
    profile = (
        stats.performance_profile(times_f.dropna(how="all"))
        if has_times
        else pd.DataFrame(columns=["tau", "candidate", "fraction"])
    )
    if baseline and baseline not in table.columns:
        raise NotFound(
            f"baseline {baseline!r} is not a candidate of {', '.join(benchmarks)}; "
            f"candidates: {', '.join(map(str, table.columns))}"
        )
    speedup = stats.geomean_speedup(times_f, baseline) if baseline else None
    return Across(
        benchmarks=tuple(benchmarks),
        metric=metric,
        higher_better=up,
        table=table,
        ranks=ranks,
        friedman=stats.friedman(complete),
        cd=stats.nemenyi_cd(complete.shape[1], len(complete), alpha),
        pairwise=pairs,
        times=times_f,
        profile=profile,
        speedup=speedup,
        baseline=baseline,
        warnings=tuple(warnings),
    )


def to_text(result: Across, fmt: str) -> str:
    """The comparison over datasets as markdown, csv (the summary), json or latex."""
    summary = result.summary()
    if fmt == "json":
        from suite.compare.tables import clean

        return json.dumps(clean(result.to_dict()), indent=2, default=str, allow_nan=False) + "\n"
    if fmt == "csv":
        return summary.to_csv(index=False)
    if fmt == "latex":
        from suite.compare.latex import preamble, tabular

        caption = (
            f"Average ranks over {len(result.complete)} datasets ({result.metric}); Friedman "
            f"p = {result.friedman[1]:.3g}, Nemenyi CD = {result.cd:.2f}"
        )
        header = [str(c).replace("_", " ") for c in summary.columns]
        rows = [[_cell(v) for v in row] for row in summary.itertuples(index=False)]
        align = ["left" if summary[c].dtype == object else "right" for c in summary.columns]
        what = f"{result.metric} over {len(result.table)} datasets"
        return preamble(what) + tabular(
            header, rows, align, caption=caption, label="across-" + "-".join(result.benchmarks)
        )
    lines = [f"**{result.metric} over {len(result.table)} datasets** (mean over seeds)", ""]
    lines += _md(result.table.reset_index(names="dataset"))
    lines += ["", _friedman_line(result), ""]
    lines += _md(summary)
    if len(result.pairwise):
        lines += ["", "**Wilcoxon over datasets, Holm-corrected**", ""]
        lines += _md(result.pairwise.drop(columns=["min_p"]))
    lines += ["", *(f"**WARNING**: {w}" for w in result.warnings)]
    return "\n".join(lines) + "\n"


def _friedman_line(result: Across) -> str:
    stat, p = result.friedman
    if math.isnan(p):
        return "Friedman test: needs at least 3 candidates on 2 complete datasets"
    return (
        f"Friedman chi2 = {stat:.3f}, p = {p:.3g} over {len(result.complete)} datasets; "
        f"Nemenyi critical difference of average ranks = {result.cd:.3f}"
    )


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else ("never" if math.isinf(v) else f"{v:.4g}")
    return str(v)


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _md(frame: Any) -> list[str]:
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |")
    return lines


def render(result: Across, console: Any) -> None:
    """Print the comparison over datasets with rich."""
    from rich.markup import escape
    from rich.table import Table

    for w in result.warnings:
        console.print(f"WARNING: {escape(w)}", style="bold red", highlight=False)
    for title, frame in (
        (
            f"{result.metric} per dataset (mean over seeds)",
            result.table.reset_index(names="dataset"),
        ),
        ("average ranks (1 = best)", result.summary()),
        ("Wilcoxon over datasets, Holm-corrected", result.pairwise.drop(columns=["min_p"])),
    ):
        if frame.empty:
            continue
        table = Table(title=escape(title), title_justify="left")
        for c in frame.columns:
            table.add_column(escape(str(c)), overflow="fold")
        for row in frame.itertuples(index=False):
            table.add_row(*(escape(_cell(v)) for v in row))
        console.print(table)
    console.print("  " + escape(_friedman_line(result)), highlight=False)
