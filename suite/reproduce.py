"""Re-derive one logged trial or seed run from what MLflow holds, and judge the result.

The run's candidate parent holds the resolved benchmark spec (`spec/benchmark.yaml`); the
run holds its searched values (`suite.params`), its seed, the data fingerprint and the
environment. The new run is a child of the same parent, tagged `suite.reproduces`.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from suite import env, stores, track, transfer

# Metrics that depend on the machine's load, not on the computation.
TIMING = ("train_time_s", "first_epoch_s", "samples_per_s", "latency_ms")
COMPARED = ("suite.backend", *(f"suite.{lib}" for lib in env.LIBRARIES), *env.DEVICE)


@dataclass(frozen=True)
class Reproduction:
    """The original run and its reproduction, side by side, with a verdict."""

    original: str
    run_id: str
    kind: str  # trial or seed
    rows: list[tuple[str, float, float]]  # metric, original, reproduced
    verdict: str  # identical, within the seed spread, outside the seed spread, differs
    key: str  # the metric the spread is taken over
    spread: tuple[float, float] | None  # (low, high) of the candidate's seed runs
    warnings: list[str] = field(default_factory=list)


def _spec(client: Any, parent: str, tmp: str) -> Any:
    """The benchmark as its candidate's parent run logged it (extends already merged)."""
    import os

    from ruamel.yaml import YAML

    from suite.spec.schema import Benchmark

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    path = client.download_artifacts(parent, "spec/benchmark.yaml", tmp)
    with open(path, encoding="utf-8") as f:
        doc = YAML(typ="safe", pure=True).load(f)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "extends"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return Benchmark.model_validate(strip(doc))


def _differences(tags: dict[str, str], now: dict[str, str]) -> list[str]:
    out = []
    for key in COMPARED:
        if tags.get(key, "") != now.get(key, ""):
            what = key.removeprefix("suite.")
            out.append(f"{what} differs: {tags.get(key, '-')} then, {now.get(key, '-')} now")
    return out


def _stop_after(epochs: int) -> Any:
    """A Keras callback ending training after `epochs` (a pruned original's length)."""
    import keras

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch + 1 >= epochs:
                self.model.stop_training = True

    return StopAfter()


def seed_spread(client: Any, run: Any, key: str) -> tuple[float, float] | None:
    """The range of `key` over the completed seed runs of the run's configuration (else of the
    candidate's best one), widened to mean ± 2 std; None without seed runs."""
    tags = run.data.tags
    parent = tags.get("mlflow.parentRunId")
    query = f"tags.`mlflow.parentRunId` = '{parent}' and tags.`{track.KIND}` = 'seed'"
    found = [
        r
        for r in client.search_runs([run.info.experiment_id], filter_string=query)
        if r.data.tags.get(track.STATE) == "COMPLETE" and key in r.data.metrics
    ]
    config = tags.get(track.TRIAL) or tags.get("suite.best_trial")
    same = [r for r in found if r.data.tags.get("suite.best_trial") == config]
    same = same or [r for r in found if r.data.tags.get("suite.rank", "1") == "1"]
    values = [r.data.metrics[key] for r in same]
    if not values:
        return None
    low, high = min(values), max(values)
    if len(values) > 1:
        mean, std = statistics.fmean(values), statistics.stdev(values)
        low, high = min(low, mean - 2 * std), max(high, mean + 2 * std)
    return low, high


def verdict(
    rows: list[tuple[str, float, float]], key: str, spread: tuple[float, float] | None
) -> str:
    same = all(a == b or (math.isnan(a) and math.isnan(b)) for _, a, b in rows)
    if same and rows:
        return "identical"
    new = dict((m, b) for m, _, b in rows).get(key)
    if spread is None or new is None:
        return "differs (no seed runs to compare with)"
    inside = spread[0] <= new <= spread[1]
    return "within the seed spread" if inside else "outside the seed spread"


def reproduce(run_id: str, tracking_uri: str | None = None) -> Reproduction:
    """Train the configuration of trial or seed run `run_id` again with its seed and log it as
    a new run; refuses (RunError) when the dataset's fingerprint no longer matches."""
    import tempfile

    from mlflow.tracking import MlflowClient

    from suite import trial
    from suite.data.prepare import clear_cache
    from suite.runner import RunError
    from suite.spec.candidates import candidates
    from suite.spec.load import spec_hash
    from suite.tasks import TASKS

    uri = tracking_uri or stores.default_tracking_uri()
    client = MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except Exception as e:
        raise RunError(f"no run {run_id!r} in {uri}: {e}") from None
    tags = run.data.tags
    kind = tags.get(track.KIND)
    if kind not in ("trial", "seed"):
        raise RunError(f"run {run_id} is a {kind or 'foreign'} run; give a trial or seed run")
    parent = tags["mlflow.parentRunId"]
    with tempfile.TemporaryDirectory() as tmp:
        bench = _spec(client, parent, tmp)
    clear_cache()  # the data as it is now, not as this process saw it
    data = trial.load_data(bench)
    if data.fingerprint != tags.get(track.FINGERPRINT):
        raise RunError(
            f"the dataset {bench.data.name!r} is not the data run {run_id} trained on: its "
            f"fingerprint is {data.fingerprint} now, {tags.get(track.FINGERPRINT)} then; "
            "restore the data (or its files under the data dir) to reproduce the run"
        )
    warnings = _differences(tags, env.environment())
    root = tags.get("suite.git_root")
    now_commit = env.git_state(root).get("suite.git_commit") if root else None
    if now_commit and now_commit != tags.get("suite.git_commit"):
        warnings.append(
            f"the spec's repository {root} is at {now_commit} now, "
            f"{tags.get('suite.git_commit')} then (the run's spec is read from MLflow)"
        )
    if tags.get("suite.git_dirty") == "true":
        warnings.append(
            f"the spec's repository had uncommitted changes (at {tags.get('suite.git_commit')}) "
            "when the run was made"
        )
    h = spec_hash(bench)
    if tags.get(track.SPEC_HASH) not in (None, h):
        warnings.append(f"spec hash differs: {tags[track.SPEC_HASH]} then, {h} now")
    seed = int(tags.get(track.SEED) or (bench.seed_list[0] if bench.seed_list else 0))
    deterministic = env.deterministic()
    cand = next((c for c in candidates(bench) if c.name == tags.get(track.CANDIDATE)), None)
    if cand is None:
        name = tags.get(track.CANDIDATE)
        raise RunError(f"the spec of run {run_id} has no candidate {name!r}")
    exp = client.get_experiment(run.info.experiment_id)
    tracker = track.Tracker(exp.name, uri)
    task = TASKS.get(bench.task).bind(data)
    keep = ("suite.params", track.CANDIDATE, track.FAMILY, track.STUDY, track.VERSION)
    new = tracker.child_run(
        parent,
        f"{cand.name}/reproduce-{run.info.run_name or run_id}",
        {
            **{k: tags[k] for k in keep if k in tags},
            **env.environment(),
            track.KIND: "reproduction",
            track.REPRODUCES: run_id,
            "suite.reproduces_kind": kind,
            track.SEED: str(seed),
            track.SPEC_HASH: h,
            track.FINGERPRINT: data.fingerprint,
            track.DATASET: data.name,
            env.DETERMINISTIC: str(deterministic).lower(),
        },
    )
    try:
        params = json.loads(tags.get("suite.params") or "{}")
        concrete = cand.concrete(params)
        tracker.log_params(new, track.run_params(concrete.model_dump(mode="json"), params))
        callbacks = []
        epochs = run.data.metrics.get("epochs")
        if tags.get(track.STATE) == "PRUNED" and epochs:
            callbacks.append(_stop_after(int(epochs)))
        callbacks.append(track.epoch_logger(tracker, new))
        with transfer.resolving(uri):
            done = trial.train(
                task,
                data,
                trial.inputs(task, data, concrete),
                cand.name,
                concrete,
                seed,
                monitor=bench.search.metric,
                direction=bench.search.resolved_direction,
                callbacks=callbacks,
                on_built=lambda m: tracker.log_metrics(new, {"params": trial.count_params(m)}),
            )
        for path, text in done.artifacts.items():
            tracker.log_text(new, text, path)
        metrics = trial.summary_metrics(done.fit, bench.search.metric)
        if kind == "seed":
            metrics.update(trial.test_metrics(task, data, done, concrete.train.batch_size))
        tracker.log_metrics(new, metrics)
    except BaseException as e:
        tracker.set_tags(new, {track.STATE: "FAIL", track.ERROR: str(e)[:5000] or "interrupted"})
        tracker.end(new, "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
        raise
    old = client.get_run(run_id).data.metrics
    metrics["params"] = float(client.get_run(new).data.metrics.get("params", math.nan))
    rows = [
        (k, float(old[k]), float(metrics[k]))
        for k in sorted(metrics)
        if k in old and k not in TIMING
    ]
    key = "test_" + bench.search.metric.removeprefix("val_") if kind == "seed" else "objective"
    spread = seed_spread(client, run, key if kind == "seed" else "objective")
    judged = verdict(rows, key, spread)
    tracker.set_tags(new, {track.STATE: "COMPLETE", "suite.verdict": judged})
    tracker.end(new)
    return Reproduction(run_id, new, kind, rows, judged, key, spread, warnings)
