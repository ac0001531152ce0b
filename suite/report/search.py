"""Sections about the search: costs against scores, curves over epochs and trials, each
candidate's trials (pruned ones included) and hyperparameter importances, sensitivity to the
most important hyperparameter. Importances are computed one way (`data.METHOD`) for both."""

from __future__ import annotations

from typing import Literal

from suite.report import figures as figs
from suite.report.data import METHOD, Bench
from suite.report.parts import AXES, SECTIONS, Build, Figure, Part, colours, key, title_of


@SECTIONS.register("pareto")
def pareto(x: Literal["params", "train_time_s"] = "params", title: str = "") -> Build:
    """Every completed trial's validation score against its size or training time."""
    x_title = {
        "params": "trainable parameters (count, log scale)",
        "train_time_s": "training time of the trial (s)",
    }[x]

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        colors = colours(benches)
        for b in benches:
            trials = b.of_kind("trial")
            need = [f"metrics.{x}", "metrics.objective"]
            if trials.empty or any(c not in trials for c in need):
                continue
            data = trials[["tags.suite.candidate", "tags.suite.trial", *need]].dropna()
            data.columns = ["candidate", "trial", "x", "y"]
            if data.empty:
                continue
            fig = figs.pareto(
                data, x, x_title, b.metric, b.higher_better, x == "params", colors, b.seed_interval
            )
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
    """Per-epoch metrics of each candidate's seed runs (the best trial without seeds), the
    validation and training values side by side: the benchmark's metric and the loss unless
    `metrics` names others (`val_loss` and `loss` are one chart)."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        colors = colours(benches)
        for b in benches:
            shown = []
            wanted = metrics or [b.metric, "val_loss"]
            for metric in dict.fromkeys(figs.pair(m)[1] for m in wanted):
                curves = _curves(b, figs.pair(metric))
                if curves:
                    least = b.seed_interval if metric == b.metric else 0.0
                    fig = figs.learning_curves(curves, metric, colors, least)
                    shown.append(Figure(key(b.name, "curves", metric), fig, b.name))
            if shown:
                note = (
                    "mean over the seed runs of each best configuration, band: min to max; "
                    "a training curve far above its validation curve is over-fitting, both "
                    f"still rising at the last epoch is under-training; {AXES}"
                )
                parts.append(Part(title_of(title, b, benches), note, shown))
        return parts

    return build


def _curves(b: Bench, keys: tuple[str, ...]) -> dict[str, dict[str, figs.Curve]]:
    out: dict[str, dict[str, figs.Curve]] = {}
    for cand in b.candidates:
        runs = list(b.best_seed_runs(cand)["run_id"])
        if not runs and b.best_run_id(cand):
            runs = [b.best_run_id(cand)]
        for metric in keys:
            by_step: dict[int, list[float]] = {}
            for run in runs:
                for step, value in b.history(run, metric):
                    by_step.setdefault(step, []).append(value)
            if by_step:
                out.setdefault(cand, {})[metric] = [
                    (s, sum(v) / len(v), min(v), max(v)) for s, v in sorted(by_step.items())
                ]
    return out


@SECTIONS.register("tuning_curves")
def tuning_curves(title: str = "Tuning curves") -> Build:
    """Best validation score so far against trials: was the budget enough?"""

    def build(benches: list[Bench]) -> list[Part]:
        from suite.compare import tuning_curves

        parts = []
        colors = colours(benches)
        for b in benches:
            frame = tuning_curves(b.read)
            frame = frame.dropna(subset=["best_so_far"]) if len(frame) else frame
            if len(frame):
                fig = figs.tuning_curves(frame, b.metric, colors, b.seed_interval)
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


def _warnings(b: Bench) -> str:
    """The candidates whose importances rest on too few completed trials, said once."""
    said = [f"{c}: {b.importance(c).warning}" for c in b.candidates if b.importance(c).warning]
    return (" Warning: " + "; ".join(said) + ".") if said else ""


@SECTIONS.register("sensitivity")
def sensitivity(title: str = "Sensitivity") -> Build:
    """Each candidate's validation score against its most important hyperparameter (the
    same importances as the search section's), pruned trials included."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        colors = colours(benches)
        for b in benches:
            shown = []
            for cand in b.candidates:
                param = b.importance(cand).most
                trials = b.trials(cand)
                if param is None or len(trials) < 2:
                    continue
                rows = trials.assign(
                    value=[p.get(param) for p in trials["params"]], objective=trials["value"]
                ).dropna(subset=["value"])
                fig = figs.sensitivity(
                    rows, param, cand, b.metric, colors.get(cand, "#555"), b.seed_interval
                )
                shown.append(Figure(key(b.name, cand, "sensitivity"), fig, b.name, cand))
            if shown:
                note = (
                    "each candidate's most important hyperparameter by importance "
                    f"({METHOD}); crosses: pruned trials at the best value they reached."
                    + _warnings(b)
                )
                parts.append(Part(title_of(title, b, benches), note, shown))
        return parts

    return build


@SECTIONS.register("optuna")
def optuna(importances: bool = True, title: str = "Search") -> Build:
    """Each candidate's trials (optimisation history, every trial per epoch, pruned ones
    included) and its hyperparameter importances."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        colors = colours(benches)
        for b in benches:
            shown, skipped = [], []
            for cand in b.candidates:
                shown += _search_figures(b, cand, colors.get(cand, "#555"), importances, skipped)
            if shown or skipped:
                note = (
                    "history: completed trials (dots) and pruned ones (crosses, at the best value "
                    "they reached); per epoch: every trial's validation curve, pruned ones dotted"
                )
                if importances:
                    note += f"; importances: {METHOD}." + _warnings(b)
                note += "".join(f" {s}." for s in skipped)
                parts.append(Part(title_of(title, b, benches), note, shown))
        return parts

    return build


def _search_figures(
    b: Bench, cand: str, colour: str, importances: bool, skipped: list[str]
) -> list[Figure]:
    out = []
    trials = b.trials(cand)
    if len(trials):
        fig = figs.history(trials, cand, b.metric, b.higher_better, colour, b.seed_interval)
        out.append(Figure(key(b.name, cand, "history"), fig, b.name, cand))
        curves = [
            (int(r.trial), str(r.state), b.history(str(r.run_id), b.metric))
            for r in trials.itertuples()
        ]
        fig = figs.trial_curves(curves, cand, b.metric, colour, b.seed_interval)
        out.append(Figure(key(b.name, cand, "trials"), fig, b.name, cand))
    if importances:
        found = b.importance(cand)
        if found.values:
            fig = figs.importances(found.values, cand, METHOD, colour)
            out.append(Figure(key(b.name, cand, "importances"), fig, b.name, cand))
        else:
            skipped.append(f"{cand}: no importances ({found.problem})")
    return out
