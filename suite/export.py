"""One tidy table of a benchmark's trial and seed runs, from MLflow and the Optuna storage.

A row per run (or per run and epoch with `curves`): identifiers, hyperparameters as typed
columns (`hp.<path>`), metrics, budget consumed, tags (`tag.<name>`) and the environment
(`env.<name>`), ready for pandas, as Parquet or CSV. `trial`, `epoch` and `best_epoch` count
from 1, as every output shows them (the run names keep Optuna's trial numbers, from 0).
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path
from typing import Any

from suite import stores, track

ENV = (
    "version",
    "backend",
    "python",
    "platform",
    "cpu",
    "cpu_count",
    "keras",
    "tensorflow",
    "jax",
    "torch",
    "optuna",
    "mlflow",
    "numpy",
    "gpu",
    "gpu_count",
    "gpu_driver",
    "backend_gpus",
    "cuda",
    "cudnn",
    "git_commit",
    "git_dirty",
    "git_root",
    "deterministic",
)
# Metrics logged once per run; the others are logged per epoch (curves).
SUMMARY = ("objective", "epochs", "best_epoch", "train_time_s", "first_epoch_s")
SUMMARY += ("samples_per_s", "params", "latency_ms")
KINDS = ("trial", "seed")


def _summary(name: str) -> bool:
    return name in SUMMARY or name.startswith(("best_", "test_", "objective."))


def _typed(values: list[Any]) -> list[Any]:
    """A hyperparameter column: numbers stay numbers; a column mixing numbers and text is text."""
    present = [v for v in values if v is not None]
    kinds = {bool if isinstance(v, bool) else numbers.Number if isinstance(v, numbers.Number)
             else str for v in present}  # fmt: skip
    if len(kinds) <= 1 and not any(isinstance(v, list | dict) for v in present):
        return values
    return [None if v is None else json.dumps(v) if not isinstance(v, str) else v for v in values]


def _studies(storage: str | None, benchmark: str) -> dict[str, Any]:
    """The benchmark's candidate studies (seed queues excluded) by name, if the storage has them."""
    import optuna

    out: dict[str, Any] = {}
    for url in [storage] if storage else stores.local_storages():
        try:
            store = stores.make_storage(url)
            names = optuna.get_all_study_names(store)
        except Exception:
            continue
        for name in names:
            if name.startswith(f"{benchmark}/") and not name.endswith(":seeds"):
                out.setdefault(name, optuna.load_study(study_name=name, storage=store))
    return out


def _optuna_params(studies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each trial's parameters as Optuna holds them (typed by their distributions), by run id."""
    out = {}
    for study in studies.values():
        for t in study.get_trials(deepcopy=False):
            run_id = t.user_attrs.get("mlflow_run_id")
            if run_id:
                out[run_id] = dict(t.params)
    return out


def _budget(studies: dict[str, Any]) -> dict[str, dict[str, float]]:
    from suite.search import tally

    out = {}
    for name, study in studies.items():
        now = tally(study)
        out[name] = {
            "study_trials_counted": now.counted,
            "study_trials_failed": now.failed,
            "study_epochs_used": now.epochs,
        }
    return out


def table(
    benchmark: str,
    tracking_uri: str | None = None,
    storage: str | None = None,
    curves: bool = False,
) -> Any:
    """The benchmark's trial and seed runs as a pandas DataFrame (per epoch with `curves`)."""
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from suite.compare import NotFound

    uri = tracking_uri or stores.default_tracking_uri()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(benchmark)
    if exp is None or exp.lifecycle_stage == "deleted":
        raise NotFound(f"no benchmark {benchmark!r} in {uri}")
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_ids=[exp.experiment_id], output_format="pandas")
    kind_col = f"tags.{track.KIND}"
    if runs.empty or kind_col not in runs:
        return pd.DataFrame()
    parents = runs[runs[kind_col] == "candidate"]
    budgets = {
        r["run_id"]: json.loads(r.get("tags.suite.budget") or "{}") for _, r in parents.iterrows()
    }
    runs = runs[runs[kind_col].isin(KINDS)]
    studies = _studies(storage, benchmark)
    typed = _optuna_params(studies)
    consumed = _budget(studies)
    rows = []
    for _, r in runs.iterrows():
        tags = {c[5:]: v for c, v in r.items() if c.startswith("tags.") and isinstance(v, str)}
        row: dict[str, Any] = {
            "benchmark": benchmark,
            "run_id": r["run_id"],
            "run_name": tags.get("mlflow.runName"),
            "candidate": tags.get(track.CANDIDATE),
            "family": tags.get(track.FAMILY),
            "kind": tags.get(track.KIND),
            "state": tags.get(track.STATE),
            "status": r["status"],
            "trial": _shown(_int(tags.get(track.TRIAL) or tags.get("suite.best_trial"))),
            "seed": _int(tags.get(track.SEED)),
            "study": tags.get(track.STUDY),
            "study_version": _int(tags.get(track.VERSION)) or 1,
            "start_time": r.get("start_time"),
            "end_time": r.get("end_time"),
        }
        params = typed.get(r["run_id"]) or json.loads(tags.get("suite.params") or "{}")
        row.update({f"hp.{k}": v for k, v in params.items()})
        row.update({c[len("metrics.") :]: v for c, v in r.items() if c.startswith("metrics.")})
        if "best_epoch" in row:  # a 0-based index when logged
            row["best_epoch"] = _shown(row["best_epoch"])
        budget = budgets.get(tags.get("mlflow.parentRunId"), {})
        row.update({f"budget_{k}": v for k, v in budget.items()})
        row.update(consumed.get(tags.get(track.STUDY) or "", {}))
        for k, v in tags.items():
            if k.startswith("suite.") and k not in COLUMNS:
                short = k[len("suite.") :]
                row[f"env.{short}" if short in ENV else f"tag.{short}"] = v
        rows.append(row)
    frame = pd.DataFrame(rows)
    for c in [c for c in frame.columns if c.startswith("hp.")]:
        frame[c] = _typed(frame[c].tolist())
    for c in ("trial", "seed", "study_version"):
        if c in frame:
            frame[c] = frame[c].astype("Int64")
    frame = frame.dropna(axis=1, how="all")
    frame = frame[sorted(frame.columns, key=_order)]
    frame = frame.sort_values(["candidate", "kind", "trial", "seed"], kind="stable")
    frame = frame.reset_index(drop=True)
    return _curves(client, frame) if curves else frame


FIXED = ("benchmark", "run_id", "run_name", "candidate", "family", "kind", "state", "status")
FIXED += ("trial", "seed", "study", "study_version", "start_time", "end_time")
# Tags already given a column of their own.
COLUMNS = {"suite.params", track.CANDIDATE, track.FAMILY, track.KIND, track.STATE, track.TRIAL}
COLUMNS |= {track.SEED, track.STUDY, track.VERSION}


def _order(column: str) -> tuple[int, int, str]:
    """Identifiers, hyperparameters, metrics, budget, environment, tags."""
    if column in FIXED:
        return (0, FIXED.index(column), "")
    groups = ("hp.", "", "budget_", "study_", "env.", "tag.")
    rank = next((i for i, g in enumerate(groups) if g and column.startswith(g)), 1)
    return (rank + 1, 0, column)


def _shown(number: Any) -> Any:
    """A trial or epoch counted from 1, as every output shows it (stored ones count from 0)."""
    from suite.compare.columns import is_number, shown_number

    return shown_number(number) if is_number(number) else number


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else None


def _curves(client: Any, frame: Any) -> Any:
    """One row per run and epoch: the run's columns without summary metrics, and each
    per-epoch metric at that epoch."""
    import pandas as pd

    keep = [c for c in frame.columns if c not in _metric_columns(frame)]
    out = []
    for _, r in frame.iterrows():
        run = client.get_run(r["run_id"])
        series: dict[int, dict[str, float]] = {}
        for name in run.data.metrics:
            if _summary(name):
                continue
            for m in client.get_metric_history(r["run_id"], name):
                series.setdefault(m.step, {})[name] = m.value
        for step in sorted(series):
            out.append({**{c: r[c] for c in keep}, "epoch": _shown(step), **series[step]})
    return pd.DataFrame(out)


def _metric_columns(frame: Any) -> list[str]:
    return [c for c in frame.columns if _order(c)[0] == 2]


def write(frame: Any, fmt: str, output: Path) -> Path:
    """Write `frame` as parquet or csv to `output` (folders made); returns the path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    return output
