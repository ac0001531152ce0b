"""One tidy table of a benchmark's trial and seed runs, from MLflow and the Optuna storage.

A row per run (or per run and epoch with `curves`): identifiers, hyperparameters as typed
columns (`hp.<path>`), metrics, budget consumed, tags (`tag.<name>`) and the environment
(`env.<name>`), ready for pandas, as Parquet or CSV. `trial`, `epoch` and `best_epoch` count
from 1, as every output shows them (the run names keep Optuna's trial numbers, from 0).

Types are the same in both formats: counts are integers (`Int64`, empty where missing),
times are UTC datetimes (CSV: ISO 8601 strings, e.g. `2026-12-07T06:54:12.345Z`), text is
text. A CSV gets a sidecar `<file>.dtypes.json` naming each column's pandas dtype; `read`
reads either format back with those types.

`seed` is the seed of a seed run and empty on trial rows: a trial trains with the
benchmark's search seed, given as `search_seed`. `config_rank` (a seed run's configuration:
1 = its candidate's best trial, 2 = the next with `seeds_top_k`) is not the candidate's
place among the candidates: that is `leaderboard_rank` (1 = best, as `suite compare`).
"""

from __future__ import annotations

import json
import math
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
# Metrics logged once per run (speed, size, the fit's summary, test scores); the others are
# logged per epoch and are the curves (`--curves`). Per-run figures stay in the per-run table.
SUMMARY = ("objective", "epochs", "best_epoch", "train_time_s", "first_epoch_s")
SUMMARY += ("samples_per_s", "inference_samples_per_s", "params", "stopped_early")
SUMMARY += ("latency_batch", "latency_p50_ms", "latency_p95_ms")
SUMMARY_PREFIXES = ("best_", "test_", "objective.", "tail_", "tok.", "latency_")
# Counts: integers (nullable Int64) in both formats.
INTEGERS = ("trial", "seed", "search_seed", "study_version", "config_rank", "leaderboard_rank")
INTEGERS += ("epoch", "epochs", "best_epoch", "params", "stopped_early", "latency_batch")
INTEGERS += ("tail_epochs", "study_trials_counted", "study_trials_failed", "study_epochs_used")
TIMES = ("start_time", "end_time")
KINDS = ("trial", "seed")


def _summary(name: str) -> bool:
    return name in SUMMARY or name.startswith(SUMMARY_PREFIXES)


def _typed(values: list[Any]) -> Any:
    """A hyperparameter column: integers stay integers (Int64), other numbers floats, flags
    booleans; a column mixing kinds (or holding lists) is text, non-strings as JSON."""
    import pandas as pd

    values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
    present = [v for v in values if v is not None]
    kinds = {bool if isinstance(v, bool) else int if isinstance(v, numbers.Integral)
             else float if isinstance(v, numbers.Number) else str for v in present}  # fmt: skip
    if kinds == {int}:
        return pd.array(values, dtype="Int64")
    if kinds <= {int, float}:
        return pd.array([math.nan if v is None else float(v) for v in values], dtype="float64")
    if kinds == {bool}:
        return pd.array(values, dtype="boolean")
    if kinds == {str}:
        return pd.array(values, dtype="str")
    return pd.array(
        [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
        dtype="str",
    )


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
    with stores.use_tracking_uri(uri):  # mlflow.search_runs reads the global URI only
        runs = mlflow.search_runs(experiment_ids=[exp.experiment_id], output_format="pandas")
    kind_col = f"tags.{track.KIND}"
    if runs.empty or kind_col not in runs:
        return pd.DataFrame()
    parents = runs[runs[kind_col] == "candidate"]
    budgets = {
        r["run_id"]: json.loads(r.get("tags.suite.budget") or "{}") for _, r in parents.iterrows()
    }
    ranks = dict(zip(parents["run_id"], parents.get("metrics.leaderboard_rank", []), strict=False))
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
            "seed": _int(tags.get(track.SEED)) if tags.get(track.KIND) == "seed" else None,
            "search_seed": _int(tags.get(track.SEED)) if tags.get(track.KIND) == "trial" else None,
            "config_rank": _int(tags.get(RANK)),
            "leaderboard_rank": _rank(ranks.get(tags.get("mlflow.parentRunId"))),
            "study": tags.get(track.STUDY),
            "study_version": _int(tags.get(track.VERSION)) or 1,
            "start_time": r.get("start_time"),
            "end_time": r.get("end_time"),
        }
        params = typed.get(r["run_id"]) or json.loads(tags.get("suite.params") or "{}")
        row.update({f"hp.{k}": v for k, v in params.items()})
        metrics = {c[len("metrics.") :]: v for c, v in r.items() if c.startswith("metrics.")}
        row.update({k: v for k, v in metrics.items() if k not in row})  # not the parents' rank
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
        frame[c] = _typed([row.get(c) for row in rows])  # Python's values, not pandas' floats
    frame = frame.dropna(axis=1, how="all")
    frame = _types(frame)
    frame = frame[sorted(frame.columns, key=_order)]
    frame = frame.sort_values(["candidate", "kind", "trial", "seed"], kind="stable")
    frame = frame.reset_index(drop=True)
    return _curves(client, frame) if curves else frame


FIXED = ("benchmark", "run_id", "run_name", "candidate", "family", "kind", "state", "status")
FIXED += ("trial", "seed", "search_seed", "config_rank", "leaderboard_rank", "study")
FIXED += ("study_version", "start_time", "end_time", "epoch")
# A seed run's configuration rank among its candidate's re-trained trials (1 = the best).
RANK = "suite.rank"
# Tags already given a column of their own.
COLUMNS = {"suite.params", track.CANDIDATE, track.FAMILY, track.KIND, track.STATE, track.TRIAL}
COLUMNS |= {track.SEED, track.STUDY, track.VERSION, RANK}


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


def _rank(value: Any) -> int | None:
    return int(value) if isinstance(value, numbers.Real) and not math.isnan(value) else None


def _integer(column: str) -> bool:
    return column in INTEGERS or column.startswith("budget_")


def _types(frame: Any) -> Any:
    """Counts as Int64 (where their values are whole), times as UTC datetimes (ms), text as
    `str`: the dtypes Parquet keeps and the CSV sidecar restores."""
    import pandas as pd

    for c in frame.columns:
        col = frame[c]
        if c in TIMES:
            frame[c] = pd.to_datetime(col, utc=True).astype("datetime64[ms, UTC]")
        elif _integer(c) and pd.api.types.is_numeric_dtype(col):
            whole = col.dropna()
            if (whole == whole.round()).all():
                frame[c] = col.astype("Int64")
        elif col.dtype == object and all(isinstance(v, str) for v in col.dropna()):
            frame[c] = col.astype("str")
    return frame


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
    if not out:
        return pd.DataFrame(columns=[*keep, "epoch"])
    curves = pd.DataFrame(out)
    for c in keep:  # the run's columns keep their types
        curves[c] = curves[c].astype(frame[c].dtype)
    curves = _types(curves)
    return curves[sorted(curves.columns, key=_order)]


def _metric_columns(frame: Any) -> list[str]:
    return [c for c in frame.columns if _order(c)[0] == 2]


def sidecar(path: Path) -> Path:
    """The dtype file of a CSV export: `<file>.dtypes.json`."""
    return path.with_name(path.name + ".dtypes.json")


def write(frame: Any, fmt: str, output: Path) -> Path:
    """Write `frame` as parquet or csv to `output` (folders made); returns the path. A CSV
    gets its times as ISO 8601 UTC strings and a dtype sidecar (`sidecar`)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(output, index=False)
        return output
    text = frame.copy()
    for c in text.columns:
        if str(text[c].dtype).startswith("datetime64"):
            text[c] = text[c].map(_iso)
    text.to_csv(output, index=False)
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    sidecar(output).write_text(json.dumps(dtypes, indent=1) + "\n", encoding="utf-8")
    return output


def _iso(value: Any) -> str | None:
    """A UTC time as ISO 8601 with milliseconds and Z, e.g. 2026-12-07T06:54:12.345Z."""
    if value is None or value != value:  # NaT
        return None
    return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read(path: str | Path) -> Any:
    """An export read back with its types: Parquet as written; CSV with its sidecar's dtypes
    (times parsed as UTC datetimes). A CSV without a sidecar is read as pandas guesses."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    side = sidecar(path)
    if not side.is_file():
        return pd.read_csv(path)
    dtypes = json.loads(side.read_text(encoding="utf-8"))
    times = [c for c, t in dtypes.items() if t.startswith("datetime64")]
    rest = {c: t for c, t in dtypes.items() if c not in times}
    frame = pd.read_csv(path, dtype={**rest, **{c: "str" for c in times}})
    for c in times:
        frame[c] = pd.to_datetime(frame[c], utc=True, format="ISO8601").astype(dtypes[c])
    return frame
