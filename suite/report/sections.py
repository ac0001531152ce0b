"""The sections of a dashboard about results, each registered once: its signature is its
schema. A section function takes the options written in the dashboard and returns a builder
that turns the benchmarks read back from MLflow into parts of the page (none when it has
nothing to show, e.g. tokenizers when no run names one).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from suite.compare.columns import REPORT
from suite.compare.tables import budget_lines, display_rows, legend
from suite.report import figures as figs
from suite.report.data import Bench
from suite.report.parts import (
    SECTIONS,
    Build,
    Figure,
    Part,
    Table,
    colours,
    count,
    key,
    num,
    title_of,
)


@SECTIONS.register("leaderboard")
def leaderboard(title: str = "Leaderboard", pairwise: bool = True, robust: bool = True) -> Build:
    """Test score over seeds with its 95 % interval, best validation score, costs, verdicts."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            board = b.board
            header, rows = display_rows(board, REPORT)
            tables = [Table(header, rows, "ranked by the best trial's validation score")]
            if pairwise:
                tables += _pairwise(b)
            if robust:
                tables += _robust(b)
            fig = figs.leaderboard(board, b.test_metric, b.metric, colours(benches))
            warn = "".join(f" Warning: {w}." for w in board.attrs.get("warnings", []))
            warn += "".join(f" {line}." for line in budget_lines(board))
            parts.append(
                Part(
                    title_of(title, b, benches),
                    legend(board, REPORT) + "." + warn,
                    [Figure(key(b.name, "leaderboard"), fig, b.name)],
                    tables,
                )
            )
        return parts

    return build


def _pairwise(b: Bench) -> list[Table]:
    from suite.compare import pairwise

    frame = pairwise(b.read)
    if frame is None or len(frame) == 0:
        return []
    header = ["a", "b", "seeds", "mean a - b", "t-test p (Holm)", "Wilcoxon p (Holm)", "verdict"]
    rows = [
        [
            str(r["a"]),
            str(r["b"]),
            count(r.get("n")),
            num(r.get("mean_diff")),
            num(r.get("t_p_holm"), 3),
            num(r.get("wilcoxon_p_holm"), 3),
            str(r.get("verdict") or ""),
        ]
        for r in frame.to_dict("records")
    ]
    return [Table(header, rows, "paired over seeds; p-values corrected with Holm")]


def _robust(b: Bench) -> list[Table]:
    from suite.compare import robust

    iqm, poi = robust(b.read)
    if len(iqm) == 0:
        return []
    order = {c: i for i, c in enumerate(b.board["candidate"])}  # by rank
    iqm = iqm.sort_values("candidate", key=lambda s: s.map(order), kind="stable")
    rows = [
        [
            str(r["candidate"]),
            f"{num(r['iqm'])} [{num(r['low'])}, {num(r['high'])}]",
            count(r["n"]),
        ]
        for r in iqm.to_dict("records")
    ]
    out = [
        Table(
            ["candidate", f"IQM of {b.test_metric} [95 % CI]", "runs"],
            rows,
            "interquartile mean over seed runs, stratified bootstrap interval (rliable)",
        )
    ]
    if len(poi):
        rows = [
            [
                str(r["a"]),
                str(r["b"]),
                f"{num(r['poi'], 3)} [{num(r['low'], 3)}, {num(r['high'], 3)}]",
            ]
            for r in poi.to_dict("records")
        ]
        caption = "probability that a run of a beats a run of b, with its bootstrap interval"
        out.append(Table(["a", "b", "P(a > b) [95 % CI]"], rows, caption))
    return out


@SECTIONS.register("tokenizers")
def tokenizers(title: str = "Tokenizers") -> Build:
    """Scores grouped by tokenizer, for benchmarks whose candidates name one."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            frame = b.tokenizers()
            if frame is not None:
                fig = figs.tokenizers(frame, frame.attrs["metric"])
                parts.append(
                    Part(
                        title_of(title, b, benches),
                        "",
                        [Figure(key(b.name, "tokenizers"), fig, b.name)],
                    )
                )
        return parts

    return build


@SECTIONS.register("critical_difference")
def critical_difference(
    title: str = "Critical-difference diagram", baseline: str | None = None
) -> Build:
    """Average ranks over benchmarks (datasets), Friedman test and Nemenyi critical difference."""

    def build(benches: list[Bench]) -> list[Part]:
        from suite.compare import MixedResults, across

        if len(benches) < 2:
            return []
        try:
            names = [b.name for b in benches]
            mixed = benches[0].allow_mixed
            result = across(names, benches[0].uri, baseline=baseline, allow_mixed=mixed)
        except MixedResults as e:
            return [Part(title, f"no diagram: {e}")]
        stat, p = result.friedman
        ranks = ", ".join(f"{c} {r:.2f}" for c, r in result.ranks.items())
        note = f"Friedman chi-square {stat:.3f}, p = {p:.3g}; average ranks (1 = best): {ranks}"
        summary = result.summary()
        tables = [
            Table(
                [str(c).replace("_", " ") for c in summary.columns],
                [[num(v, 3) for v in row] for row in summary.itertuples(index=False)],
                f"over {len(result.complete)} datasets with every candidate; "
                f"Nemenyi critical difference {result.cd:.2f}",
            )
        ]
        pairs = result.pairwise
        if pairs is not None and len(pairs):
            cols = [c for c in ("a", "b", "n", "wins", "losses", "wilcoxon_p_holm", "verdict")]
            cols = [c for c in cols if c in pairs]
            rows = [[num(v, 3) for v in row] for row in pairs[cols].itertuples(index=False)]
            caption = "Wilcoxon signed-rank over datasets, Holm-corrected"
            tables.append(Table([c.replace("_", " ") for c in cols], rows, caption))
        shown = []
        profile = result.profile
        if profile is not None and len(profile) and result.times.notna().to_numpy().any():
            fig = figs.profile(profile, colours(benches))
            shown.append(Figure(key("across", "profile"), fig))
        return [Part(title, note, shown, tables, svg=result.cd_svg())]

    return build


@SECTIONS.register("confusion")
def confusion(
    top: Annotated[int, Field(ge=1)] | None = None, title: str = "Confusion matrices"
) -> Build:
    """Test confusion matrices of the best configurations (summed over their seed runs)."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            shown = []
            for cand in b.candidates[:top]:
                docs = [d for d in map(b.confusion, b.best_seed_runs(cand)["run_id"]) if d]
                if not docs:
                    continue
                total = [
                    [sum(d["matrix"][i][j] for d in docs) for j in range(len(row))]
                    for i, row in enumerate(docs[0]["matrix"])
                ]
                fig = figs.confusion({**docs[0], "matrix": total}, cand, len(docs))
                shown.append(Figure(key(b.name, cand, "confusion"), fig, b.name, cand))
            if shown:
                parts.append(Part(title_of(title, b, benches), "", shown))
        return parts

    return build
