"""MLflow layout: experiment = benchmark, parent run = candidate, child run = trial or seed run.

Everything `suite compare` shows is read back from here; the tag and metric names below
are the contract between writing and reading.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from suite import settings
from suite.stores import default_tracking_uri, tracking_client

KIND, CANDIDATE, FAMILY, TRIAL, STATE, SEED = (
    "suite.kind",
    "suite.candidate",
    "suite.family",
    "suite.trial",
    "suite.state",
    "suite.seed",
)
ERROR, SPEC_HASH, FINGERPRINT, DATASET = (
    "suite.error",
    "suite.spec_hash",
    "suite.data_fingerprint",
    "suite.dataset",
)
METRIC, DIRECTION, STUDY = "suite.metric", "suite.direction", "suite.study"
VERSION, REPRODUCES = "suite.study_version", "suite.reproduces"
TOKENIZER, BEST_TRIAL = "suite.tokenizer", "suite.best_trial"
EXPERIMENT_KIND = "mlflow.experimentKind"  # model training (the view: suite.ui)
MODEL_TRAINING = "custom_model_development"
# MLflow's asynchronous logging waits this many seconds (a whole number) to batch writes, and
# stops waiting the moment a run ends; without it, ending a run waits for the logging
# thread's idle poll to time out (up to 1 s per run). Our default; the user's value wins.
ASYNC_BUFFER_ENV = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"
# a Pareto front's configuration column (front.json/.csv, `suite compare --pareto`), named
# apart from the objectives, one of which may be `params`
HYPERPARAMETERS = "hyperparameters"
CONFUSION = "confusion/test.json"  # seed runs of classification: the test confusion matrix


def tokenizer_label(tokenizer: Any) -> str | None:
    """A short name for a candidate's tokenizer (a name, or a one-key `{kind: {...}}`)."""
    if tokenizer is None:
        return None
    if isinstance(tokenizer, str):
        return tokenizer
    for attr in ("name", "kind"):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, str):
            return value
    fields = getattr(type(tokenizer), "model_fields", None)
    return next(iter(fields)) if fields else str(tokenizer)[:100]


def mark_experiments(uri: str) -> int:
    """Tag the suite's experiments that predate the tag as model training (MLflow's experiment
    kind; the UI's view is chosen by suite.ui); returns how many it tagged. Best effort."""
    client = tracking_client(uri)
    done = 0
    try:
        for exp in client.search_experiments():
            if METRIC in exp.tags and EXPERIMENT_KIND not in exp.tags:
                client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)
                done += 1
    except Exception:  # a read-only or unreachable store: the UI still starts
        return done
    return done


def flatten(doc: Any, prefix: str = "") -> dict[str, str]:
    """Nested spec -> {'model.layers.0.conv1d.filters': '32', ...} (MLflow params are strings)."""
    out: dict[str, str] = {}
    if isinstance(doc, Mapping):
        for k, v in doc.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(doc, list) and doc and any(isinstance(v, Mapping | list) for v in doc):
        for i, v in enumerate(doc):
            out.update(flatten(v, f"{prefix}.{i}"))
    else:
        out[prefix] = json.dumps(doc) if isinstance(doc, list | type(None)) else str(doc)
    return out


def _key(name: str) -> str:
    """An MLflow-safe name: `layers[0]` -> `layers.0`, other odd characters -> `_`."""
    name = re.sub(r"\[(\d+)\]", r".\1", name)
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", name)[:250]


# Spec fields kept out of run params (they stay in the parent's spec/benchmark.yaml).
NOISE = ("model.reference", "model.space", "model.description")


def spec_params(doc: Mapping[str, Any], searched: Sequence[str] = ()) -> dict[str, str]:
    """A spec document flattened as params, without `NOISE` and the `searched` spec paths
    (a parent run's defaults there are not what its trials used)."""
    drop = NOISE + tuple(_key(p) for p in searched)
    return {
        k: v
        for k, v in flatten(doc).items()
        if not any(k == d or k.startswith(d + ".") for d in drop)
    }


def run_params(doc: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, str]:
    """A trial's or seed run's params: its concrete spec flattened (without `NOISE`) and its
    searched values under stable names (`hp.learning_rate`, `hp.gru.units`; suite.spec.hparams)."""
    from suite.spec.hparams import stable_params

    out = spec_params(doc)
    out.update({k: _text(v) for k, v in stable_params(params, doc).items()})
    return out


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict | type(None)) else str(value)


SPLIT_CONTEXTS = {"train": "training", "val": "validation", "test": "test"}
DATASET_CONTEXT = "mlflow.data.context"  # the input tag MLflow's UI and search read


def dataset_inputs(data: Any, label: str, splits: Sequence[str]) -> list[Any]:
    """A Dataset's `splits` ("train", "val", "test") as MLflow dataset inputs, described
    not copied: name `<label>/<split>`, digest the data fingerprint, the source it was read
    from, a tensor schema and the split's size as profile, context training/validation/test."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    source_type, source = _source(str(getattr(data, "source", "") or ""))
    out = []
    for split in splits:
        part = getattr(data, split)
        entity = Dataset(
            name=f"{label}/{split}"[:500],
            digest=str(data.fingerprint)[:36],
            source_type=source_type,
            source=source,
            schema=_schema(part.x, part.y),
            profile=json.dumps(
                {
                    "num_rows": len(part.y),
                    "features_shape": list(part.x.shape),
                    "targets_shape": list(part.y.shape),
                }
            ),
        )
        out.append(DatasetInput(entity, [InputTag(DATASET_CONTEXT, SPLIT_CONTEXTS[split])]))
    return out


def _source(text: str) -> tuple[str, str]:
    """(source type, source JSON) as MLflow's own sources write them: a URL, a local file or
    folder that exists, else code (a loader or citation, kept as a tag)."""
    if text.startswith(("http://", "https://")):
        return "http", json.dumps({"url": text})
    path = Path(text) if text and len(text) < 4096 and "\n" not in text else None
    try:
        if path is not None and path.is_absolute() and path.exists():
            return "local", json.dumps({"uri": path.resolve().as_uri()})
    except OSError:
        pass
    return "code", json.dumps({"tags": {"suite.source": text[:1000]}})


def _schema(x: Any, y: Any) -> str | None:
    """MLflow's tensor dataset schema of one split (dtypes and shapes, batch axis -1)."""
    import numpy as np
    from mlflow.data.schema import TensorDatasetSchema
    from mlflow.types import Schema, TensorSpec

    try:
        features = Schema([TensorSpec(np.dtype(x.dtype), (-1, *x.shape[1:]), "x")])
        targets = Schema([TensorSpec(np.dtype(y.dtype), (-1, *y.shape[1:]), "y")])
        return json.dumps(TensorDatasetSchema(features, targets).to_dict())
    except Exception:  # a dtype MLflow cannot describe: the input goes without a schema
        return None


class Tracker:
    """Writes one benchmark's runs through an MlflowClient (no global MLflow state)."""

    def __init__(self, experiment: str, tracking_uri: str | None = None) -> None:
        self.uri = tracking_uri or default_tracking_uri()
        self.client = tracking_client(self.uri)  # a SQLite store is created whole
        self.pending: dict[str, list[Any]] = {}  # run id -> its asynchronous writes
        os.environ.setdefault(ASYNC_BUFFER_ENV, "1")
        exp = self._experiment(experiment)
        if exp is None:
            location = None
            if self.uri.startswith("sqlite:"):
                location = (settings.results_dir().resolve() / "artifacts" / experiment).as_uri()
            try:
                self.experiment_id = self.client.create_experiment(
                    experiment, artifact_location=location
                )
            except Exception:  # another worker created it at the same moment
                exp = self.client.get_experiment_by_name(experiment)
                if exp is None:
                    raise
                self.experiment_id = exp.experiment_id
        else:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            self.experiment_id = exp.experiment_id

    def _experiment(self, name: str, attempts: int = 5) -> Any:
        """The experiment by name; retried while another process creates a new store."""
        import time

        for attempt in range(attempts):
            try:
                return self.client.get_experiment_by_name(name)
            except Exception:
                if attempt == attempts - 1:
                    raise
                time.sleep(1 + attempt)
        return None

    def set_experiment_tags(self, tags: Mapping[str, str]) -> None:
        """Set the tags that differ; a worker racing another to set the same tag is not an error."""
        from mlflow.exceptions import MlflowException

        have = self.client.get_experiment(self.experiment_id).tags
        for k, v in tags.items():
            if have.get(k) == v:
                continue
            try:
                self.client.set_experiment_tag(self.experiment_id, k, v)
            except MlflowException:
                # two workers inserting one tag at once: the store keeps one; check it is ours
                if self.client.get_experiment(self.experiment_id).tags.get(k) != v:
                    raise

    def candidate_run(self, candidate: str, tags: Mapping[str, str]) -> str:
        """The candidate's parent run: reopened when it exists (resume), else created."""
        query = f"tags.`{KIND}` = 'candidate' and tags.`{CANDIDATE}` = '{candidate}'"
        if tags.get(VERSION, "1") != "1":  # a later study version has a parent run of its own
            query += f" and tags.`{VERSION}` = '{tags[VERSION]}'"
        found = [
            r
            for r in self.client.search_runs([self.experiment_id], filter_string=query)
            if r.data.tags.get(VERSION, "1") == tags.get(VERSION, "1")
        ]
        if found:
            run_id = found[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
        else:
            run = self.client.create_run(
                self.experiment_id,
                run_name=candidate,
                tags={KIND: "candidate", CANDIDATE: candidate, **tags},
            )
            run_id = run.info.run_id
        return run_id

    def child_run(self, parent: str, name: str, tags: Mapping[str, str]) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={"mlflow.parentRunId": parent, **tags},
        )
        return run.info.run_id

    def reopen(self, run_id: str) -> bool:
        """Mark an existing run RUNNING again (a worker joins or resumes); False if it is gone."""
        try:
            run = self.client.get_run(run_id)
        except Exception:
            return False
        if run.info.lifecycle_stage != "active" or run.info.experiment_id != self.experiment_id:
            return False
        self.client.update_run(run_id, status="RUNNING")
        return True

    def running_children(self, parent: str) -> list[Any]:
        """Child runs of `parent` whose status is RUNNING."""
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`mlflow.parentRunId` = '{parent}' and attributes.status = 'RUNNING'"
            ),
        )

    def end_stale(self, run_id: str) -> bool:
        """End a run its process left RUNNING as KILLED (read again first); True if it did.

        Several workers may find the same dead run at once; each ends it without an error.
        """
        if self.client.get_run(run_id).info.status != "RUNNING":
            return False
        self.set_tags(run_id, {STATE: "FAIL", ERROR: "interrupted: its process ended mid-run"})
        self.client.set_terminated(run_id, status="KILLED")
        return True

    def end_stale_children(self, parent: str) -> int:
        """Children left RUNNING by a killed process are ended as KILLED; returns how many.

        Only for a single process: with several workers, end each run whose trial is known
        to have ended with `end_stale`.
        """
        return sum(self.end_stale(r.info.run_id) for r in self.running_children(parent))

    def log_params(self, run_id: str, params: Mapping[str, str], wait: bool = True) -> None:
        """Log `params`; with `wait=False` asynchronously, as `log_metrics` does."""
        from mlflow.entities import Param

        items = [Param(_key(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            done = self.client.log_batch(run_id, params=items[i : i + 100], synchronous=wait)
            self._queued(run_id, done)

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int = 0,
        wait: bool = True,
        model_id: str | None = None,
    ) -> None:
        """Log `metrics` at `step`; with `wait=False` through MLflow's asynchronous logging
        (a background queue), written by the time `flush` or `end` of the run returns. With
        `model_id`, they are also the metrics of that logged model."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step, model_id=model_id) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            done = _shared_write(
                self.client.log_batch, run_id, metrics=items[i : i + 1000], synchronous=wait
            )
            self._queued(run_id, done)

    def _queued(self, run_id: str, done: Any) -> None:
        """Keep an asynchronous write's future (None for a synchronous one) for `flush`."""
        if done is not None:
            self.pending.setdefault(run_id, []).append(done)

    def flush(self, run_id: str | None = None) -> None:
        """Wait until the asynchronous writes of `run_id` (None: of every run) are stored."""
        for key in [run_id] if run_id is not None else list(self.pending):
            for done in self.pending.pop(key, []):
                done.wait()

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for k, v in tags.items():
            _shared_write(self.client.set_tag, run_id, k, v)

    def tag_batch(self, run_id: str, tags: Mapping[str, str], wait: bool = True) -> None:
        """Set many tags in one call; with `wait=False` asynchronously, as `log_metrics` does."""
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        self._queued(
            run_id, _shared_write(self.client.log_batch, run_id, tags=items, synchronous=wait)
        )

    def log_inputs(self, run_id: str, inputs: Sequence[Any]) -> None:
        """Dataset inputs (see `dataset_inputs`) in one call."""
        if inputs:
            self.client.log_inputs(run_id, datasets=list(inputs))

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_confusion(self, run_id: str, y_true: Any, y_pred: Any, classes: Sequence[str]) -> None:
        """The confusion matrix (rows: true class, columns: predicted) as `CONFUSION`."""
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
        doc = {"split": "test", "labels": [str(c) for c in classes], "matrix": matrix.tolist()}
        self.log_text(run_id, json.dumps(doc), CONFUSION)

    def log_model(self, run_id: str, model: Any, example: Any = None) -> str:
        """Log `model` as the run's MLflow model (keras flavor, see suite.mlmodels); its id."""
        from suite import mlmodels

        uri, exp = self.uri, self.experiment_id
        model_id = mlmodels.log_model(self.client, uri, exp, run_id, model, example)
        self.client.set_tag(run_id, mlmodels.MODEL_ID, model_id)
        return model_id

    def log_text_model(
        self, run_id: str, model: Any, tokenizer: Path, classes: Sequence[str], texts: Sequence[str]
    ) -> str:
        """Log a text classifier as the run's MLflow model taking raw strings; its id."""
        from suite import mlmodels

        model_id = mlmodels.log_text_model(
            self.client, self.uri, self.experiment_id, run_id, model, tokenizer, classes, texts
        )
        self.client.set_tag(run_id, mlmodels.MODEL_ID, model_id)
        return model_id

    def register_champion(
        self, parent: str, name: str, metric: str, direction: str
    ) -> tuple[str, str] | None:
        """Register the candidate's champion as the `champion` of registered model `name`: of
        the completed seed runs of its best configuration, the best by `metric` (without seed
        runs: its best trial). (run id, version) when the alias moved, else None."""
        from suite import mlmodels

        tags = self.client.get_run(parent).data.tags
        query = (
            f"tags.`mlflow.parentRunId` = '{parent}' and tags.`{KIND}` = 'seed' "
            f"and tags.`{STATE}` = 'COMPLETE'"
        )
        found = self.client.search_runs([self.experiment_id], filter_string=query)
        runs = [r for r in found if r.data.tags.get(BEST_TRIAL) == tags.get(BEST_TRIAL)]
        if not runs and tags.get("suite.best_run"):
            runs = [self.client.get_run(tags["suite.best_run"])]
        best = mlmodels.champion(runs, metric, direction)
        if best is None:
            return None
        keep = (KIND, CANDIDATE, SEED, TRIAL, BEST_TRIAL, VERSION)
        version = mlmodels.register(
            self.client,
            self.uri,
            name,
            best,
            {k: best.data.tags[k] for k in keep if k in best.data.tags}
            | {metric: str(best.data.metrics[metric])},
        )
        return None if version is None else (best.info.run_id, version)

    def log_dir(self, run_id: str, folder: Path, path: str) -> None:
        """Every file of `folder` under `path` in the run's artifacts."""
        self.client.log_artifacts(run_id, str(folder), path)

    def rename(self, run_id: str, name: str) -> None:
        self.client.update_run(run_id, name=name[:250])

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        """End the run; its asynchronous writes are stored first (MLflow drains its queue when
        a run ends) and any that failed is raised."""
        self.client.set_terminated(run_id, status=status)
        self.flush(run_id)


def current_key(candidate: str) -> str:
    """The experiment tag naming the study version a candidate's latest run used."""
    return _key(f"{VERSION}.{candidate}")


def _current(candidate: Any, versions: dict[str, int], exp_tags: Mapping[str, str]) -> int:
    given = exp_tags.get(current_key(str(candidate)), "")
    return int(given) if given.isdigit() else versions.get(candidate, 1)


def latest_versions(runs: Any, exp_tags: Mapping[str, str] | None = None) -> Any:
    """The rows of an `mlflow.search_runs` frame that belong to each candidate's current study
    version (the one its latest run used, else the highest; untagged runs are version 1):
    other versions are never mixed in."""
    tag, cand = f"tags.{VERSION}", f"tags.{CANDIDATE}"
    if runs.empty or tag not in runs or cand not in runs:
        return runs
    version = runs[tag].fillna("1").astype(int)
    highest = version.groupby(runs[cand]).max().to_dict()
    current = runs[cand].map(lambda c: _current(c, highest, exp_tags or {}))
    return runs[(version == current) | runs[cand].isna()]


def latest_run_list(runs: list[Any], exp_tags: Mapping[str, str] | None = None) -> list[Any]:
    """The MLflow runs (entities) of each candidate's current study version."""
    highest: dict[str, int] = {}
    for r in runs:
        cand, v = r.data.tags.get(CANDIDATE, ""), int(r.data.tags.get(VERSION, "1"))
        highest[cand] = max(highest.get(cand, v), v)
    return [
        r
        for r in runs
        if int(r.data.tags.get(VERSION, "1"))
        == _current(r.data.tags.get(CANDIDATE, ""), highest, exp_tags or {})
    ]


def epoch_logger(tracker: Tracker, run_id: str) -> Any:
    """A Keras callback that logs every epoch's metrics (one asynchronous batch per epoch, off
    the training loop), all stored by `tracker.end` of the run."""
    import keras

    class EpochMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            if logs:
                values = {k: float(v) for k, v in logs.items()}
                tracker.log_metrics(run_id, values, step=epoch, wait=False)

    return EpochMetrics()


def _shared_write(write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`write(*args, **kwargs)`, written again if another worker wrote the same key first.

    A SQL tracking store writes a new tag or latest metric with an insert; of two workers
    inserting the same key of a shared run (the candidate's parent, a dead worker's run) at
    once, one is refused by the unique key. Written again, the row is there and the write
    becomes an update.
    """
    for attempt in range(3):
        try:
            return write(*args, **kwargs)
        except Exception as e:
            if attempt == 2 or not _lost_race(e):
                raise
    return None


def _lost_race(e: BaseException) -> bool:
    """Whether a store refused a write for a key another writer inserted first: SQLAlchemy's
    IntegrityError behind MLflow's exception, or its text from a tracking server (SQLite,
    PostgreSQL, MySQL wording)."""
    seen: BaseException | None = e
    while seen is not None:
        if type(seen).__name__ == "IntegrityError":
            return True
        seen = seen.__cause__
    text = str(e).lower()
    return any(w in text for w in ("integrityerror", "unique constraint", "duplicate entry"))
