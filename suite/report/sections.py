"""The sections a dashboard may hold, each registered once: its signature is its schema.

A section function takes the options written in the dashboard and returns a builder that
turns the benchmarks read back from MLflow into parts of the page (none when it has
nothing to show, e.g. tokenizers when no run names one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from suite.registry import Registry
from suite.report import figures as figs
from suite.report.data import Bench

SECTIONS: Registry[Callable[..., Any]] = Registry("section")


@dataclass(frozen=True)
class Figure:
    key: str  # a file-safe name, unique in the report
    fig: Any  # a plotly figure
    benchmark: str | None = None
    candidate: str | None = None  # the candidate it belongs to (None: the whole benchmark)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Part:
    title: str
    note: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    svg: str | None = None


Build = Callable[[list[Bench]], list[Part]]


def _title(title: str, bench: Bench, benches: Sequence[Bench]) -> str:
    return f"{bench.name}: {title}" if len(benches) > 1 else title


def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _count(v: Any) -> str:
    return f"{int(v):,}" if isinstance(v, int | float) and not math.isnan(v) else "-"


def _key(*parts: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))


@SECTIONS.register("leaderboard")
def leaderboard(title: str = "Leaderboard", pairwise: bool = True, robust: bool = True) -> Build:
    """Test score over seeds with its 95 % interval, best validation score, costs, verdicts."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            board = b.board
            header = ["#", "candidate", "family", f"{b.test_metric} mean [95 % CI] (seeds)"]
            header += [f"best {b.metric}", "params", "train s", "verdict"]
            rows = []
            for i, r in enumerate(board.to_dict("records"), 1):
                test = _num(r.get("test_mean"))
                if test != "-":
                    low, high = r.get("test_ci_low"), r.get("test_ci_high")
                    if low is not None and not math.isnan(low):
                        test += f" [{_num(low)}, {_num(high)}]"
                    test += f" ({_count(r.get('seeds'))})"
                rows.append(
                    [
                        str(i),
                        str(r["candidate"]),
                        _num(r.get("family")),
                        test,
                        _num(r.get("best_val")),
                        _count(r.get("params")),
                        _num(r.get("train_time_s"), 1),
                        _num(r.get("verdict") or None),
                    ]
                )
            tables = [Table(header, rows, "ranked by the best trial's validation score")]
            if pairwise:
                tables += _pairwise(b)
            if robust:
                tables += _robust(b)
            fig = figs.leaderboard(board, b.test_metric, b.metric)
            warn = "".join(f" Warning: {w}." for w in board.attrs.get("warnings", []))
            parts.append(
                Part(
                    _title(title, b, benches),
                    "test = the best configuration re-trained on each seed; "
                    "validation = the search's selection split." + warn,
                    [Figure(_key(b.name, "leaderboard"), fig, b.name)],
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
            _count(r.get("n")),
            _num(r.get("mean_diff")),
            _num(r.get("t_p_holm"), 3),
            _num(r.get("wilcoxon_p_holm"), 3),
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
    rows = [
        [
            str(r["candidate"]),
            f"{_num(r['iqm'])} [{_num(r['low'])}, {_num(r['high'])}]",
            _count(r["n"]),
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
                f"{_num(r['poi'], 3)} [{_num(r['low'], 3)}, {_num(r['high'], 3)}]",
            ]
            for r in poi.to_dict("records")
        ]
        caption = "probability that a run of a beats a run of b, with its bootstrap interval"
        out.append(Table(["a", "b", "P(a > b) [95 % CI]"], rows, caption))
    return out


@SECTIONS.register("sensitivity")
def sensitivity(title: str = "Sensitivity") -> Build:
    """Each candidate's validation score against its most important hyperparameter."""

    def build(benches: list[Bench]) -> list[Part]:
        from suite.readback import sensitivity as read

        parts = []
        for b in benches:
            frame = read(b.read, b.storage)
            shown = []
            for cand, param in frame.attrs.get("most_important", {}).items():
                rows = frame[(frame["candidate"] == cand) & (frame["param"] == param)]
                if len(rows) >= 2:
                    fig = figs.sensitivity(rows, param, cand, b.metric)
                    shown.append(Figure(_key(b.name, cand, "sensitivity"), fig, b.name, cand))
            if shown:
                note = "completed trials; the hyperparameter is the one fANOVA rates most important"
                parts.append(Part(_title(title, b, benches), note, shown))
        return parts

    return build


@SECTIONS.register("pareto")
def pareto(x: Literal["params", "train_time_s"] = "params", title: str = "") -> Build:
    """Every completed trial's validation score against its size or training time."""
    x_title = {
        "params": "trainable parameters (count, log scale)",
        "train_time_s": "training time of the trial (s)",
    }[x]

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            trials = b.of_kind("trial")
            need = [f"metrics.{x}", "metrics.objective"]
            if trials.empty or any(c not in trials for c in need):
                continue
            data = trials[["tags.suite.candidate", "tags.suite.trial", *need]].dropna()
            data.columns = ["candidate", "trial", "x", "y"]
            if data.empty:
                continue
            fig = figs.pareto(data, x, x_title, b.metric, b.higher_better, log_x=x == "params")
            name = title or f"Score against {x_title.split(' (')[0]}"
            note = "the dashed line joins the trials no other trial beats on both axes"
            parts.append(
                Part(
                    _title(name, b, benches), note, [Figure(_key(b.name, "pareto", x), fig, b.name)]
                )
            )
        return parts

    return build


@SECTIONS.register("learning_curves")
def learning_curves(metrics: list[str] | None = None, title: str = "Learning curves") -> Build:
    """Per-epoch metrics of each candidate's seed runs overlaid (the best trial without seeds)."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            shown = []
            for metric in metrics or [b.metric]:
                curves = _curves(b, metric)
                if curves:
                    fig = figs.learning_curves(curves, metric)
                    shown.append(Figure(_key(b.name, "curves", metric), fig, b.name))
            if shown:
                note = "mean over the seed runs of each best configuration; band: min to max"
                parts.append(Part(_title(title, b, benches), note, shown))
        return parts

    return build


def _curves(b: Bench, metric: str) -> dict[str, list[tuple[int, float, float, float]]]:
    out = {}
    for cand in b.candidates:
        runs = list(b.best_seed_runs(cand)["run_id"])
        if not runs and b.best_run_id(cand):
            runs = [b.best_run_id(cand)]
        by_step: dict[int, list[float]] = {}
        for run in runs:
            for step, value in b.history(run, metric):
                by_step.setdefault(step, []).append(value)
        if by_step:
            out[cand] = [(s, sum(v) / len(v), min(v), max(v)) for s, v in sorted(by_step.items())]
    return out


@SECTIONS.register("tuning_curves")
def tuning_curves(title: str = "Tuning curves") -> Build:
    """Best validation score so far against trials: was the budget enough?"""

    def build(benches: list[Bench]) -> list[Part]:
        from suite.readback import tuning_curves

        parts = []
        for b in benches:
            frame = tuning_curves(b.read)
            frame = frame.dropna(subset=["best_so_far"]) if len(frame) else frame
            if len(frame):
                fig = figs.tuning_curves(frame, b.metric)
                note = "pruned and failed trials count as trials but cannot improve the best"
                parts.append(
                    Part(
                        _title(title, b, benches),
                        note,
                        [Figure(_key(b.name, "tuning"), fig, b.name)],
                    )
                )
        return parts

    return build


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
                        _title(title, b, benches),
                        "",
                        [Figure(_key(b.name, "tokenizers"), fig, b.name)],
                    )
                )
        return parts

    return build


@SECTIONS.register("optuna")
def optuna(importances: bool = True, title: str = "Search") -> Build:
    """Each candidate's optimisation history and hyperparameter importances (Optuna)."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            shown, skipped = [], []
            for cand in b.candidates:
                study = b.study(cand)
                if study is None:
                    skipped.append(f"{cand}: no study in the storage")
                    continue
                shown += _optuna_figures(b, cand, study, importances, skipped)
            if shown or skipped:
                parts.append(Part(_title(title, b, benches), "; ".join(skipped), shown))
        return parts

    return build


def _optuna_figures(
    b: Bench, cand: str, study: Any, importances: bool, skipped: list[str]
) -> list[Figure]:
    import warnings

    from optuna import visualization as vis

    target = None
    if len(study.directions) > 1:
        target = lambda t: t.values[0]  # noqa: E731
    what = figs.label(b.metric)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = vis.plot_optimization_history(study, target=target, target_name=b.metric)
        few = 1 if len(study.trials) <= 20 else None
        fig = figs.titled(fig, f"{cand}: optimisation history", "trial (number)", what, few)
        out.append(Figure(_key(b.name, cand, "history"), fig, b.name, cand))
        if importances:
            try:
                fig = vis.plot_param_importances(study, target=target, target_name=b.metric)
            except (ValueError, RuntimeError) as e:
                skipped.append(f"{cand}: no importances ({e})")
            else:
                fig = figs.titled(
                    fig,
                    f"{cand}: hyperparameter importances (fANOVA)",
                    "importance (fraction of variance)",
                    "hyperparameter",
                )
                out.append(Figure(_key(b.name, cand, "importances"), fig, b.name, cand))
    return out


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
                [[_num(v, 3) for v in row] for row in summary.itertuples(index=False)],
                f"over {len(result.complete)} datasets with every candidate; "
                f"Nemenyi critical difference {result.cd:.2f}",
            )
        ]
        pairs = result.pairwise
        if pairs is not None and len(pairs):
            cols = [c for c in ("a", "b", "n", "wins", "losses", "wilcoxon_p_holm", "verdict")]
            cols = [c for c in cols if c in pairs]
            rows = [[_num(v, 3) for v in row] for row in pairs[cols].itertuples(index=False)]
            caption = "Wilcoxon signed-rank over datasets, Holm-corrected"
            tables.append(Table([c.replace("_", " ") for c in cols], rows, caption))
        shown = []
        profile = result.profile
        if profile is not None and len(profile) and result.times.notna().to_numpy().any():
            fig = figs.profile(profile)
            shown.append(Figure(_key("across", "profile"), fig))
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
                shown.append(Figure(_key(b.name, cand, "confusion"), fig, b.name, cand))
            if shown:
                parts.append(Part(_title(title, b, benches), "", shown))
        return parts

    return build
