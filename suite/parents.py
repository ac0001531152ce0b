"""A candidate's MLflow parent run, shared by its workers: made once, its trial and seed
runs left RUNNING by dead workers ended, its budget metrics and its Pareto front."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from suite import budget, track
from suite.search import seeds as seed_queue
from suite.search.studies import tally
from suite.track import HYPERPARAMETERS

PARETO = "suite.pareto"  # tag of trial runs: on the candidate's Pareto front or not


def parent_run(
    tracker: track.Tracker,
    study: Any,
    storage: str,
    candidate: str,
    tags: dict[str, str],
    enqueue: dict[str, Any] | None,
) -> tuple[str, Any]:
    """The candidate's MLflow parent run and seed queue, made once however many workers
    start together.

    The worker that creates the seed queue finds or creates the parent run, queues the
    spec's own values as the first trial, and records the run's id on the queue; the others
    wait for that id (up to a minute: its creator may have died before recording it).
    """
    queue, creator = seed_queue.open_queue(study, storage)
    parent = None if creator else seed_queue.recorded_parent(queue, wait_s=60)
    if parent is not None and tracker.reopen(parent):
        return parent, queue
    parent = tracker.candidate_run(candidate, tags)
    if enqueue and not study.trials:
        study.enqueue_trial(dict(enqueue), skip_if_exists=True)
    seed_queue.record_parent(queue, parent)
    return parent, queue


def end_dead_runs(tracker: track.Tracker, parent: str, study: Any, seeds: Any) -> int:
    """End the child runs left RUNNING whose trial (or seed run) is no longer running.

    A worker ends its MLflow run before it tells Optuna how the trial ended, so a run still
    RUNNING after its trial left that state belongs to a dead worker. Runs of trials that
    another worker is running are left alone.
    """
    from optuna.trial import TrialState

    candidates_ = tracker.running_children(parent)  # read before the trials' states
    if not candidates_:
        return 0
    running = {
        "trial": {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))},
        "seed": {t.number for t in seeds.get_trials(deepcopy=False, states=(TrialState.RUNNING,))},
    }
    ended = 0
    for run in candidates_:
        kind = run.data.tags.get(track.KIND, "")
        number = run.data.tags.get(track.TRIAL if kind == "trial" else "suite.seed_trial")
        alive = number is not None and number.isdigit() and int(number) in running.get(kind, ())
        if not alive:
            ended += tracker.end_stale(run.info.run_id)
    return ended


def parent_metrics(tracker: track.Tracker, parent: str, study: Any) -> None:
    from optuna.trial import TrialState

    now = tally(study)
    metrics: dict[str, float] = {
        "trials_complete": now.complete,
        "trials_pruned": now.pruned,
        "trials_failed": now.failed,
        "epochs_used": now.epochs,
    }
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if done:
        up = study.directions[0].name == "MAXIMIZE"
        values = [t.values[0] for t in done]
        metrics["best_objective"] = max(values) if up else min(values)
    tracker.log_metrics(parent, metrics)


def log_pareto(tracker: track.Tracker, parent: str, study: Any, goals: Sequence[Any]) -> None:
    """The Pareto front: pareto/front.json and .csv on the parent, a tag on every trial run."""
    import csv
    import io

    from optuna.trial import TrialState

    front = sorted(study.best_trials, key=lambda t: t.number)
    names = [m for m, _ in goals]
    rows = [
        {
            "trial": t.number,
            "run_id": t.user_attrs.get("mlflow_run_id", ""),
            **dict(zip(names, t.values, strict=True)),
            HYPERPARAMETERS: t.params,  # apart from the objectives (one may be `params`)
        }
        for t in front
    ]
    tracker.log_text(
        parent, json.dumps({"objectives": goals, "front": rows}, indent=2), "pareto/front.json"
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["trial", "run_id", *names, HYPERPARAMETERS])
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, HYPERPARAMETERS: json.dumps(r[HYPERPARAMETERS])})
    tracker.log_text(parent, buf.getvalue(), "pareto/front.csv")
    on = {t.number for t in front}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        run_id = t.user_attrs.get("mlflow_run_id")
        if run_id:
            tracker.set_tags(run_id, {PARETO: "true" if t.number in on else "false"})


def tag_budget(tracker: Any, parent: str, direction: str) -> budget.Assessment | None:
    """Judge the candidate's runs and tag them: its best configuration's seed runs (children
    of `parent` tagged with its `suite.best_trial`) give the parent `suite.budget_limited` =
    the fraction still improving; each judged seed run and completed trial gets
    `suite.still_improving`, trials against the seed runs' noise (0 without seed runs).
    Returns the seed runs' Assessment, None without any."""
    best = tracker.client.get_run(parent).data.tags.get(track.BEST_TRIAL)
    found = tracker.client.search_runs(
        [tracker.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent}' "
        f"and tags.`{track.STATE}` = 'COMPLETE'",
        max_results=50000,
    )
    seeds, trials = [], []
    for r in found:
        c = budget.curve(r.data.metrics)
        kind = r.data.tags.get(track.KIND)
        if c is None:
            continue
        if kind == "seed" and (best is None or r.data.tags.get(track.BEST_TRIAL) == best):
            seeds.append((r.info.run_id, c))
        elif kind == "trial":
            trials.append((r.info.run_id, c))
    sd = budget.noise([c for _, c in seeds])
    said = budget.decisions([c for _, c in seeds], direction)
    said += [
        budget.still_improving(c.slope, c.window, sd, direction, c.stopped_early) for _, c in trials
    ]
    for (run_id, _), d in zip(seeds + trials, said, strict=True):
        if d is not None:
            tracker.set_tags(run_id, {budget.IMPROVING: str(d).lower()})
    if not seeds:
        return None
    result = budget.assess([c for _, c in seeds], direction)
    if result.judged:
        tracker.set_tags(parent, {budget.LIMITED: f"{result.fraction:.4g}"})
    return result


VERDICT = "suite.verdict"  # the parent's verdict against the leaderboard's leader


def result_metrics(row: Any, metric: str, test_metric: str) -> dict[str, float]:
    """A leaderboard row as parent-run metrics: `best_<metric>` (what the leaderboard ranks
    by), `<test_metric>_mean`, `_std`, `_ci_low`, `_ci_high` (95 %), `seeds` and `params`;
    missing figures are left out."""
    import math

    names = {
        "best_val": f"best_{metric}",
        "test_mean": f"{test_metric}_mean",
        "test_std": f"{test_metric}_std",
        "test_ci_low": f"{test_metric}_ci_low",
        "test_ci_high": f"{test_metric}_ci_high",
        "seeds": "seeds",
        "params": "params",
    }
    out = {}
    for column, name in names.items():
        try:
            value = float(row.get(column))
        except (TypeError, ValueError):
            continue
        if not math.isnan(value):
            out[name] = value
    return out


def publish(benchmark: str, tracking_uri: str | None = None, board: Any = None) -> Any:
    """Write the leaderboard (suite.compare's, `board` when given, else made with its
    defaults) onto each candidate's parent run of its current study version:
    `result_metrics`, its rank among the candidates as `leaderboard_rank`, `suite.verdict`
    against the leader, and the winning configuration's searched values (the `hp.*` params
    of the trial its seed runs re-trained) as `hp.*` tags. Returns the leaderboard."""
    from suite.compare import leaderboard
    from suite.compare.readback import read

    runs = read(benchmark, tracking_uri)
    if board is None:
        board = leaderboard(runs, allow_mixed=True)
    if board.empty:
        return board
    rows = board[board["family"] != "baseline"].reset_index(drop=True)
    parents = runs.kind("candidate")
    trials = runs.kind("trial")
    client = runs.client
    for rank, row in rows.iterrows():
        name = row["candidate"]
        mine = parents[parents[f"tags.{track.CANDIDATE}"] == name]
        if mine.empty:
            continue
        parent = mine.iloc[0]
        metrics = result_metrics(row, runs.metric, runs.test_metric)
        metrics["leaderboard_rank"] = float(rank + 1)
        tags = _winner(parent, trials, row)
        verdict = row.get("verdict")
        if isinstance(verdict, str) and verdict:
            tags[VERDICT] = verdict
        run_id = parent["run_id"]
        _log(client, run_id, metrics, tags)
        stale = [
            c[len("tags.") :]
            for c in parent.index
            if c.startswith("tags.hp.") and isinstance(parent[c], str)
        ]
        for key in stale:
            if key not in tags:
                client.delete_tag(run_id, key)
    return board


def _winner(parent: Any, trials: Any, row: Any) -> dict[str, str]:
    """The `hp.*` params of the candidate's winning trial run: the one its seed runs
    re-trained (`suite.best_trial`), else the best completed one."""
    name = parent[f"tags.{track.CANDIDATE}"]
    mine = trials[trials[f"tags.{track.CANDIDATE}"] == name]
    best = parent.get(f"tags.{track.BEST_TRIAL}")
    pick = mine[mine[f"tags.{track.TRIAL}"] == best] if isinstance(best, str) else mine.iloc[:0]
    if pick.empty and "metrics.objective" in mine:
        done = mine[mine.get(f"tags.{track.STATE}") == "COMPLETE"]
        pick = done[done["metrics.objective"] == row.get("best_val")]
    if pick.empty:
        return {}
    first = pick.iloc[0]
    return {
        c[len("params.") :]: v
        for c, v in first.items()
        if c.startswith("params.hp.") and isinstance(v, str)
    }


def _log(client: Any, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
    """Metrics (step 0, now) and tags on one run in one batch."""
    import time

    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
        tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()],
    )
