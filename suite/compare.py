"""Leaderboards read back from MLflow only: one row per candidate.

Naive baselines that a dataset logs on the candidates' parent runs (metrics
`baseline.<method>.<split>_<metric>`, e.g. a forecast's persistence) become extra rows named
`baseline:<method>`, family `baseline`, ranked with the candidates, so one can see whether a
model beats them.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from suite import track

COLUMNS = [
    "candidate",
    "family",
    "best_val",
    "test_mean",
    "test_std",
    "seeds",
    "params",
    "epochs",
    "train_time_s",
    "trials_complete",
    "trials_pruned",
    "trials_failed",
    "epochs_total",
    "wall_s",
    "best_params",
]


class NotFound(LookupError):
    """No benchmark of that name in the tracking store."""


def _f(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v


def leaderboard(benchmark: str, tracking_uri: str | None = None) -> Any:
    """A pandas DataFrame, best candidate first, and the metric it ranks by (in .attrs)."""
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or track.default_tracking_uri()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(benchmark)
    if exp is None or exp.lifecycle_stage == "deleted":
        names = sorted(e.name for e in client.search_experiments() if e.name != "Default")
        raise NotFound(f"no benchmark {benchmark!r} in {uri}. Known: {', '.join(names) or 'none'}")
    metric = exp.tags.get(track.METRIC, "val_accuracy")
    direction = exp.tags.get(track.DIRECTION, "maximize")
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_ids=[exp.experiment_id], output_format="pandas")
    runs = track.latest_versions(
        runs, exp.tags
    )  # an older study version of a candidate is not mixed in
    frame = pd.DataFrame(columns=COLUMNS)
    frame.attrs.update(metric=metric, direction=direction, benchmark=benchmark)
    if runs.empty:
        return frame

    def col(name: str) -> Any:
        return runs[name] if name in runs else pd.Series([None] * len(runs), index=runs.index)

    kind, cand, state = (
        col(f"tags.{track.KIND}"),
        col(f"tags.{track.CANDIDATE}"),
        col(f"tags.{track.STATE}"),
    )
    rows = []
    test_metric = "test_" + metric.removeprefix("val_")
    for name in [c for c in dict.fromkeys(cand[kind == "candidate"]) if isinstance(c, str)]:
        trials = runs[(kind == "trial") & (cand == name)]
        t_state = state[trials.index]
        done = trials[t_state == "COMPLETE"]
        row: dict[str, Any] = {"candidate": name}
        parent = runs[(kind == "candidate") & (cand == name)].iloc[0]
        row["family"] = parent.get(f"tags.{track.FAMILY}")
        row["trials_complete"] = int((t_state == "COMPLETE").sum())
        row["trials_pruned"] = int((t_state == "PRUNED").sum())
        row["trials_failed"] = int((t_state == "FAIL").sum())
        row["epochs_total"] = int(
            trials.get("metrics.epochs", pd.Series(dtype=float)).fillna(0).sum()
        )
        row["wall_s"] = _wall_s(trials)
        if not done.empty and "metrics.objective" in done:
            values = done["metrics.objective"].astype(float)
            best = done.loc[values.idxmax() if direction == "maximize" else values.idxmin()]
            row["best_val"] = _f(best["metrics.objective"])
            row["params"] = int(_f(best.get("metrics.params")))
            row["epochs"] = int(_f(best.get("metrics.epochs")))
            row["train_time_s"] = _f(best.get("metrics.train_time_s"))
            row["best_params"] = json.loads(best.get("tags.suite.params") or "{}")
        seeds = runs[(kind == "seed") & (cand == name) & (state == "COMPLETE")]
        best_trial = parent.get("tags.suite.best_trial")
        if isinstance(best_trial, str) and "tags.suite.best_trial" in seeds:
            seeds = seeds[seeds["tags.suite.best_trial"] == best_trial]
        if not seeds.empty and f"metrics.{test_metric}" in seeds:
            vals = seeds[f"metrics.{test_metric}"].astype(float)
            row["test_mean"], row["seeds"] = float(vals.mean()), len(vals)
            row["test_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
        rows.append(row)
    baselines = _baselines(runs[kind == "candidate"], metric, test_metric)
    rows += baselines
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.sort_values(
        "best_val", ascending=direction != "maximize", na_position="last", kind="stable"
    ).reset_index(drop=True)
    frame.attrs.update(
        metric=metric,
        direction=direction,
        benchmark=benchmark,
        test_metric=test_metric,
        baselines=[r["candidate"] for r in baselines],
    )
    return frame


def _baselines(parents: Any, metric: str, test_metric: str) -> list[dict[str, Any]]:
    """Rows for the naive baselines logged on parent runs (the same on each; first one wins)."""
    prefix = "metrics.baseline."
    methods = dict.fromkeys(
        c[len(prefix) :].rsplit(".", 1)[0] for c in parents.columns if c.startswith(prefix)
    )
    rows = []
    for method in methods:

        def first(key: str, method: str = method) -> float:
            col = f"{prefix}{method}.{key}"
            vals = parents[col].dropna() if col in parents else []
            return _f(vals.iloc[0]) if len(vals) else math.nan

        rows.append(
            {
                "candidate": f"baseline:{method}",
                "family": "baseline",
                "best_val": first(metric),
                "test_mean": first(test_metric),
            }
        )
    return rows


def _wall_s(runs: Any) -> float:
    """Seconds from the first run's start to the last one's end (all workers together)."""
    if runs.empty or "start_time" not in runs or "end_time" not in runs:
        return math.nan
    start, end = runs["start_time"].min(), runs["end_time"].max()
    try:
        return float((end - start).total_seconds())
    except (AttributeError, TypeError, ValueError):
        return math.nan


def pareto(benchmark: str, tracking_uri: str | None = None) -> Any:
    """Each candidate's Pareto front, read from MLflow: one row per trial on its front."""
    import pandas as pd
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or track.default_tracking_uri()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(benchmark)
    if exp is None or exp.lifecycle_stage == "deleted":
        raise NotFound(f"no benchmark {benchmark!r} in {uri}")
    goals = json.loads(exp.tags.get("suite.objectives", "[]"))
    if len(goals) < 2:
        raise NotFound(f"benchmark {benchmark!r} has a single objective: no Pareto front")
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`suite.kind` = 'trial' and tags.`suite.pareto` = 'true'",
        max_results=50000,
    )
    runs = track.latest_run_list(
        runs, exp.tags
    )  # an older study version of a candidate is not mixed in
    names = [m for m, _ in goals]
    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "candidate": r.data.tags.get(track.CANDIDATE),
            "trial": int(r.data.tags.get(track.TRIAL, -1)),
        }
        row.update({m: r.data.metrics.get(f"objective.{m}", math.nan) for m in names})
        row["params"] = json.loads(r.data.tags.get("suite.params") or "{}")
        row["run_id"] = r.info.run_id
        rows.append(row)
    first, direction = goals[0]
    frame = pd.DataFrame(rows, columns=["candidate", "trial", *names, "params", "run_id"])
    frame = frame.sort_values(
        ["candidate", first], ascending=[True, direction != "maximize"], kind="stable"
    ).reset_index(drop=True)
    frame.attrs.update(benchmark=benchmark, objectives=goals)
    return frame


def _pareto_rows(front: Any) -> tuple[list[str], list[list[str]]]:
    names = [m for m, _ in front.attrs.get("objectives", [])]
    header = ["candidate", "trial", *(f"{m} ({d[:3]})" for m, d in front.attrs["objectives"])]
    rows = [
        [
            str(r["candidate"]),
            str(r["trial"]),
            *(_cell(_f(r[m])) for m in names),
            _cell(r["params"]),
        ]
        for _, r in front.iterrows()
    ]
    return [*header, "params"], rows


def pareto_text(front: Any, fmt: str) -> str:
    """The Pareto fronts as csv, markdown or json."""
    if fmt == "csv":
        out = front.copy()
        out["params"] = out["params"].map(json.dumps)
        return out.to_csv(index=False)
    if fmt == "json":
        records = json.loads(front.to_json(orient="records"))
        return json.dumps({**front.attrs, "rows": records}, indent=2) + "\n"
    header, rows = _pareto_rows(front)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_pareto(front: Any, console: Any) -> None:
    """Print each candidate's Pareto front as a rich table."""
    from rich.markup import escape
    from rich.table import Table

    header, rows = _pareto_rows(front)
    table = Table(title=escape(f"{front.attrs.get('benchmark', '')}: Pareto fronts"))
    for h in header:
        table.add_column(escape(h), overflow="fold")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    console.print(
        "  a trial is on its candidate's front when no other trial is at least as good on "
        "every objective and better on one (validation split)",
        style="dim",
    )


def _cell(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    return str(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not math.isnan(v)


def _count(v: Any) -> str:
    return f"{int(v):,}" if isinstance(v, int | float) and not math.isnan(v) else "-"


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def display_rows(frame: Any, wide: bool = True) -> tuple[list[str], list[list[str]]]:
    """Header and string cells for a human-readable table (best params only when wide)."""
    m, t = frame.attrs.get("metric", "val"), frame.attrs.get("test_metric", "test")
    header = [
        "#",
        "candidate",
        "family",
        m.replace("_", " "),
        t.replace("_", " ") + " (n)",
        "params",
        "epochs",
        "train s",
        "c/p/f",
        "epochs used",
        "wall s",
    ]
    if wide:
        header.append("best params")
    rows = []
    for i, r in frame.iterrows():
        test = "-"
        if isinstance(r["test_mean"], float) and not math.isnan(r["test_mean"]):
            test = f"{r['test_mean']:.4f}"
            if _is_number(r["seeds"]):
                test += f"±{_cell(r['test_std'])} ({int(r['seeds'])})"
        row = [
            str(i + 1),
            str(r["candidate"]),
            _cell(r["family"]),
            _cell(r["best_val"]),
            test,
            _count(r["params"]),
            _count(r["epochs"]),
            _cell(r["train_time_s"], 1),
            "/".join(
                str(int(r[k])) if _is_number(r[k]) else "-"
                for k in ("trials_complete", "trials_pruned", "trials_failed")
            ),
            _count(r["epochs_total"]),
            _cell(r["wall_s"], 0),
        ]
        if wide:
            row.append(_cell(r["best_params"]))
        rows.append(row)
    return header, rows


def to_markdown(frame: Any) -> str:
    header, rows = display_rows(frame)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_json(frame: Any) -> str:
    records = json.loads(frame.to_json(orient="records"))
    return json.dumps({**frame.attrs, "rows": records}, indent=2) + "\n"


def to_csv(frame: Any) -> str:
    out = frame.copy()
    out["best_params"] = out["best_params"].map(
        lambda d: json.dumps(d) if isinstance(d, dict) else ""
    )
    return out.to_csv(index=False)


def render(frame: Any, console: Any) -> None:
    """Print the leaderboard as a rich table."""
    from rich.markup import escape
    from rich.table import Table

    header, rows = display_rows(frame, wide=False)
    table = Table(
        title=escape(
            f"{frame.attrs.get('benchmark', '')}: ranked by best "
            f"{frame.attrs.get('metric')} ({frame.attrs.get('direction')})"
        )
    )
    for i, h in enumerate(header):
        width = max([len(r[i]) for r in rows] + [1])
        table.add_column(escape(h), overflow="fold", min_width=width if i < 5 else None)
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    for _, r in frame.iterrows():
        if isinstance(r["best_params"], dict) and r["best_params"]:
            console.print(
                f"  {escape(str(r['candidate']))}: {escape(_cell(r['best_params']))}",
                highlight=False,
            )
    console.print(
        "  c/p/f = completed/pruned/failed trials; epochs used and wall s = the budget consumed "
        "(all trials, all workers); best = validation, "
        "test = the best configuration re-trained on each seed",
        style="dim",
    )
    if frame.attrs.get("baselines"):
        console.print(
            "  baseline:* = naive forecasts scored on the same val/test windows, nothing trained",
            style="dim",
        )
