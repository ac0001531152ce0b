"""Sections about the search: costs against scores, curves over epochs and trials, Optuna's
history and importances, sensitivity to the most important hyperparameter."""

from __future__ import annotations

from typing import Any, Literal

from suite.report import figures as figs
from suite.report.data import Bench
from suite.report.parts import SECTIONS, Build, Figure, Part, key, title_of


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
                    title_of(name, b, benches),
                    note,
                    [Figure(key(b.name, "pareto", x), fig, b.name)],
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
                    shown.append(Figure(key(b.name, "curves", metric), fig, b.name))
            if shown:
                note = "mean over the seed runs of each best configuration; band: min to max"
                parts.append(Part(title_of(title, b, benches), note, shown))
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
        from suite.compare.readback import tuning_curves

        parts = []
        for b in benches:
            frame = tuning_curves(b.read)
            frame = frame.dropna(subset=["best_so_far"]) if len(frame) else frame
            if len(frame):
                fig = figs.tuning_curves(frame, b.metric)
                note = "pruned and failed trials count as trials but cannot improve the best"
                parts.append(
                    Part(
                        title_of(title, b, benches),
                        note,
                        [Figure(key(b.name, "tuning"), fig, b.name)],
                    )
                )
        return parts

    return build


@SECTIONS.register("sensitivity")
def sensitivity(title: str = "Sensitivity") -> Build:
    """Each candidate's validation score against its most important hyperparameter."""

    def build(benches: list[Bench]) -> list[Part]:
        from suite.compare.readback import sensitivity as read

        parts = []
        for b in benches:
            frame = read(b.read, b.storage)
            shown = []
            for cand, param in frame.attrs.get("most_important", {}).items():
                rows = frame[(frame["candidate"] == cand) & (frame["param"] == param)]
                if len(rows) >= 2:
                    fig = figs.sensitivity(rows, param, cand, b.metric)
                    shown.append(Figure(key(b.name, cand, "sensitivity"), fig, b.name, cand))
            if shown:
                note = "completed trials; the hyperparameter is the one fANOVA rates most important"
                parts.append(Part(title_of(title, b, benches), note, shown))
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
                parts.append(Part(title_of(title, b, benches), "; ".join(skipped), shown))
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
        out.append(Figure(key(b.name, cand, "history"), fig, b.name, cand))
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
                out.append(Figure(key(b.name, cand, "importances"), fig, b.name, cand))
    return out
