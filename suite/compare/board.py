"""The leaderboard of one benchmark, read back from MLflow only.

Per candidate: the best trial (validation), the test metric over the best configuration's
seed runs with a 95 % interval, efficiency (parameters, training time and throughput,
inference latency, time and epochs to the spec's target) and the budget consumed; each
candidate's verdict against the leader from the paired tests of `suite.compare.headtohead`.
The frame's fields are those the columns of `suite.compare.columns` read.

Naive baselines that a dataset logs on the candidates' parent runs (metrics
`baseline.<method>.<split>_<metric>`, e.g. a forecast's persistence) become extra rows named
`baseline:<method>`, family `baseline`, ranked with the candidates.
"""

from __future__ import annotations

import json
import math
from typing import Any

from suite import track
from suite.compare.columns import fields, shown_number
from suite.compare.headtohead import pairwise, robust, verdicts
from suite.compare.readback import (
    NotFound,
    Runs,
    best_seed_runs,
    budget_assessments,
    check_mixed,
    read,
    to_target,
    tuning_curves,
)
from suite.track import HYPERPARAMETERS

COLUMNS = fields()  # the frame's fields, as the columns declared in suite.compare.columns read
# Tokenizer statistics (text tasks), read from the best trial's `tok.*` metrics.
TOKEN_STATS = ("vocab_size", "tokens_mean", "tokens_p95", "val_unk_rate", "truncated")


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _runs(benchmark: str | Runs, tracking_uri: str | None) -> Runs:
    return benchmark if isinstance(benchmark, Runs) else read(benchmark, tracking_uri)


def _median(values: Any) -> float:
    import numpy as np

    v = np.asarray([_f(x) for x in values], dtype=float)
    v = v[~np.isnan(v)]
    return float(np.median(v)) if len(v) else math.nan


def leaderboard(
    benchmark: str | Runs,
    tracking_uri: str | None = None,
    *,
    target: float | None = None,
    allow_mixed: bool = False,
    test: str = "wilcoxon",
) -> Any:
    """A pandas DataFrame, one row per candidate, best validation value first; `.attrs`
    holds the metric, direction, dataset, target, pairwise table and any warnings."""
    import pandas as pd

    from suite.compare import stats

    runs = _runs(benchmark, tracking_uri)
    warnings = check_mixed([runs], allow_mixed)
    metric, direction, test_metric = runs.metric, runs.direction, runs.test_metric
    target = target if target is not None else runs.target
    attrs = dict(
        metric=metric,
        direction=direction,
        benchmark=runs.benchmark,
        test_metric=test_metric,
        dataset=runs.dataset,
        target=target,
        warnings=warnings,
    )
    if runs.frame.empty:
        frame = pd.DataFrame(columns=COLUMNS)
        frame.attrs.update(attrs, baselines=[], pairwise=[], reproduction=[])
        return frame
    kind, cand, state = (runs.col(f"tags.{k}") for k in (track.KIND, track.CANDIDATE, track.STATE))
    rows = []
    for name in runs.candidates():
        trials = runs.frame[(kind == "trial") & (cand == name)]
        t_state = state[trials.index]
        done = trials[t_state == "COMPLETE"]
        parent = runs.frame[(kind == "candidate") & (cand == name)].iloc[0]
        row: dict[str, Any] = {"candidate": name, "family": parent.get(f"tags.{track.FAMILY}")}
        row["trials_complete"] = int((t_state == "COMPLETE").sum())
        row["trials_pruned"] = int((t_state == "PRUNED").sum())
        row["trials_failed"] = int((t_state == "FAIL").sum())
        row["epochs_total"] = int(
            trials.get("metrics.epochs", pd.Series(dtype=float)).fillna(0).sum()
        )
        row["wall_s"] = _wall_s(trials)
        best = None
        if not done.empty and "metrics.objective" in done:
            values = done["metrics.objective"].astype(float)
            best = done.loc[values.idxmax() if direction == "maximize" else values.idxmin()]
            row["best_val"] = _f(best["metrics.objective"])
            row["params"] = int(_f(best.get("metrics.params")))
            row["epochs"] = int(_f(best.get("metrics.epochs")))
            row["train_time_s"] = _f(best.get("metrics.train_time_s"))
            row["samples_per_s"] = _f(best.get("metrics.samples_per_s"))
            row["best_params"] = json.loads(best.get("tags.suite.params") or "{}")
            tok = best.get("params.tokenizer.kind")
            if isinstance(tok, str):
                row["tok_kind"] = tok
                row.update({f"tok_{k}": _f(best.get(f"metrics.tok.{k}")) for k in TOKEN_STATS})
        seeds = best_seed_runs(runs, name)
        if not seeds.empty and f"metrics.{test_metric}" in seeds:
            ci = stats.mean_ci(seeds[f"metrics.{test_metric}"].astype(float))
            row.update(test_mean=ci.mean, test_std=ci.std, test_ci_low=ci.low)
            row.update(test_ci_high=ci.high, seeds=ci.n)
            for key in ("samples_per_s", "latency_p50_ms", "latency_p95_ms"):
                if f"metrics.{key}" in seeds:
                    value = _median(seeds[f"metrics.{key}"])
                    row[key] = value if not math.isnan(value) else row.get(key, math.nan)
        if target is not None:
            ids = list(seeds["run_id"]) if not seeds.empty else []
            if not ids and best is not None:
                ids = [best["run_id"]]
            reached = to_target(runs, ids, target)
            if reached:
                row["epochs_to_target"] = _median([e for e, _ in reached])
                row["time_to_target_s"] = _median([s for _, s in reached])
        rows.append(row)
    baselines = _baselines(runs.kind("candidate"), metric, test_metric)
    frame = pd.DataFrame(rows + baselines, columns=COLUMNS)
    frame = frame.sort_values(
        "best_val", ascending=direction != "maximize", na_position="last", kind="stable"
    ).reset_index(drop=True)
    pairs = pairwise(runs, test=test)
    verdicts(frame, pairs, direction)
    flags = _budget(frame, budget_assessments(runs))
    iqm, poi = robust(runs)
    order = {c: i for i, c in enumerate(frame["candidate"])}
    iqm = iqm.sort_values("candidate", key=lambda s: s.map(order), kind="stable")
    refs = references(runs.dataset, test_metric)
    attrs.update(
        baselines=[r["candidate"] for r in baselines],
        pairwise=_records(pairs),
        iqm=_records(iqm),
        improvement=_records(poi),
        tuning=_tuning_summary(tuning_curves(runs)),
        references=_records(refs),
        budget=flags,
        reproduction=_reproductions(runs, _records(frame), test_metric),
        latency_batch=_median(runs.col("metrics.latency_batch")),
        test=test,
    )
    frame.attrs.update(attrs)
    return frame


def _budget(frame: Any, found: dict[str, Any]) -> list[dict[str, Any]]:
    """Fill the budget columns and append the note to each budget-limited candidate's verdict;
    the assessments as records."""
    from suite.budget import annotate

    names = frame["candidate"]
    frame["still_improving"] = [found[c].fraction if c in found else math.nan for c in names]
    frame["budget_limited"] = [found[c].limited if c in found else None for c in names]
    frame["verdict"] = [
        (annotate(v, [found[c].note()]) if isinstance(v, str) and v else found[c].note())
        if c in found and found[c].limited
        else v
        for c, v in zip(names, frame["verdict"], strict=True)
    ]
    return [a.record(name) for name, a in found.items()]


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _tuning_summary(curves: Any) -> list[dict[str, Any]]:
    """Per candidate: the trial that found the best value (counted from 1, as displayed), and
    whether it came late."""
    out = []
    for name, g in curves.groupby("candidate", sort=False):
        best = g["best_so_far"]
        if best.notna().sum() == 0:
            continue
        at = int(best.eq(best.iloc[-1]).to_numpy().argmax())
        out.append(
            {
                "candidate": name,
                "trials": len(g),
                "best_trial": shown_number(g["trial"].iloc[at]),
                "epochs_at_best": float(g["epochs_cum"].iloc[at]),
                "epochs": float(g["epochs_cum"].iloc[-1]),
                "late": len(g) >= 4 and at >= 0.75 * len(g),
            }
        )
    return out


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


def references(dataset: str | None = None, metric: str | None = None) -> Any:
    """Published figures with their citations (suite/references.csv), optionally for one
    dataset label (e.g. `ucr/GunPoint`) and metric; see `suite.references.read`."""
    from suite import references as published

    return published.read(dataset, metric)


def _reproductions(runs: Runs, rows: list[dict[str, Any]], test_metric: str) -> list[Any]:
    """Verdicts of the candidates whose model names a published row (`suite.reproduces`)."""
    from suite import references as published

    parents = runs.kind("candidate")
    col = f"tags.{published.TAG}"
    if col not in parents:
        return []
    links = {
        str(c): str(t)
        for c, t in zip(parents[f"tags.{track.CANDIDATE}"], parents[col], strict=True)
        if isinstance(t, str) and t
    }
    return published.reproductions(rows, links, runs.dataset, test_metric)


def pareto(benchmark: str, tracking_uri: str | None = None) -> Any:
    """Each candidate's Pareto front, read from MLflow: one row per trial on its front."""
    import pandas as pd

    runs = read(benchmark, tracking_uri)
    goals = json.loads(runs.tags.get("suite.objectives", "[]"))
    if len(goals) < 2:
        raise NotFound(f"benchmark {benchmark!r} has a single objective: no Pareto front")
    exp = runs.client.get_experiment_by_name(benchmark)
    found = runs.client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`suite.kind` = 'trial' and tags.`suite.pareto` = 'true'",
        max_results=50000,
    )
    found = track.latest_run_list(found, runs.tags)  # one study version per candidate
    names = [m for m, _ in goals]
    rows = []
    for r in found:
        row: dict[str, Any] = {
            "candidate": r.data.tags.get(track.CANDIDATE),
            "trial": int(r.data.tags.get(track.TRIAL, -1)),
        }
        row.update({m: r.data.metrics.get(f"objective.{m}", math.nan) for m in names})
        row[HYPERPARAMETERS] = json.loads(r.data.tags.get("suite.params") or "{}")
        row["run_id"] = r.info.run_id
        rows.append(row)
    first, direction = goals[0]
    frame = pd.DataFrame(rows, columns=["candidate", "trial", *names, HYPERPARAMETERS, "run_id"])
    frame = frame.sort_values(
        ["candidate", first], ascending=[True, direction != "maximize"], kind="stable"
    ).reset_index(drop=True)
    frame.attrs.update(benchmark=benchmark, objectives=goals)
    return frame
