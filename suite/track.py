"""MLflow layout: experiment = benchmark, parent run = candidate, child run = trial or seed run.

Everything `suite compare` shows is read back from here; the tag and metric names below
are the contract between writing and reading.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
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
EXPERIMENT_KIND = "mlflow.experimentKind"  # MLflow UI: model training, not GenAI traces
MODEL_TRAINING = "custom_model_development"
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
    """Tag the suite's experiments that predate it as model training for the MLflow UI
    (else it opens them on GenAI traces); returns how many it tagged. Best effort."""
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


class Tracker:
    """Writes one benchmark's runs through an MlflowClient (no global MLflow state)."""

    def __init__(self, experiment: str, tracking_uri: str | None = None) -> None:
        self.uri = tracking_uri or default_tracking_uri()
        self.client = tracking_client(self.uri)  # a SQLite store is created whole
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
        """End a run its process left RUNNING as KILLED (read again first); True if it did."""
        if self.client.get_run(run_id).info.status != "RUNNING":
            return False
        self.client.set_tag(run_id, STATE, "FAIL")
        self.client.set_tag(run_id, ERROR, "interrupted: its process ended mid-run")
        self.client.set_terminated(run_id, status="KILLED")
        return True

    def end_stale_children(self, parent: str) -> int:
        """Children left RUNNING by a killed process are ended as KILLED; returns how many.

        Only for a single process: with several workers, end each run whose trial is known
        to have ended with `end_stale`.
        """
        return sum(self.end_stale(r.info.run_id) for r in self.running_children(parent))

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(_key(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i : i + 1000])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for k, v in tags.items():
            self.client.set_tag(run_id, k, v)

    def tag_batch(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set many tags in one call."""
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_confusion(self, run_id: str, y_true: Any, y_pred: Any, classes: Sequence[str]) -> None:
        """The confusion matrix (rows: true class, columns: predicted) as `CONFUSION`."""
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
        doc = {"split": "test", "labels": [str(c) for c in classes], "matrix": matrix.tolist()}
        self.log_text(run_id, json.dumps(doc), CONFUSION)

    def log_model(self, run_id: str, model: Any) -> None:
        """Save `model` as model/model.keras in the run's artifacts."""
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / "model.keras"
            model.save(file)
            self.client.log_artifact(run_id, str(file), "model")

    def log_dir(self, run_id: str, folder: Path, path: str) -> None:
        """Every file of `folder` under `path` in the run's artifacts."""
        self.client.log_artifacts(run_id, str(folder), path)

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)


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
    """A Keras callback that logs every epoch's metrics (one batch call per epoch)."""
    import keras

    class EpochMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            if logs:
                tracker.log_metrics(run_id, {k: float(v) for k, v in logs.items()}, step=epoch)

    return EpochMetrics()
