"""Apply a logged text model to raw text: its tokenizer and model come from the run's model.

A run logged since models are MLflow models holds a pyfunc model `model` whose artifacts are
`model.keras`, `tokenizer/` and `classes.json`; an earlier run holds the artifacts
`model/model.keras`, `model/classes.json` and `tokenizer/`. Both are read.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class PredictError(LookupError):
    """A run without a logged model and tokenizer."""


@dataclass(frozen=True)
class Prediction:
    run_id: str
    classes: tuple[str, ...]
    probabilities: np.ndarray  # (n, classes)

    def labels(self) -> list[str]:
        return [self.classes[i] for i in self.probabilities.argmax(axis=1)]


@dataclass(frozen=True)
class TextModel:
    """A text classifier as logged: its fitted tokenizer, class names and Keras model."""

    tokenizer: Any  # suite.text.fit.Fitted
    classes: tuple[str, ...]
    model: Any  # keras.Model

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        ids, _ = self.tokenizer.encode([str(t) for t in texts])
        return np.asarray(self.model.predict(ids, verbose=0))


def load_text_model(model_file: Path, tokenizer: Path, classes: Path) -> TextModel:
    """The text classifier saved as `model_file` (.keras), `tokenizer` (folder), `classes`."""
    import suite.text.metrics  # noqa: F401  (the saved metrics' classes)
    from suite.blocks.saved import load_model
    from suite.text.fit import load_tokenizer

    names = tuple(json.loads(Path(classes).read_text(encoding="utf-8")))
    return TextModel(load_tokenizer(tokenizer), names, load_model(model_file, compile=False))


def _model_run(client: object, run_id: str) -> str:
    """A trial run with a model; a candidate's parent run points to its best trial."""
    try:
        run = client.get_run(run_id)  # type: ignore[attr-defined]
    except Exception:
        raise PredictError(f"no run {run_id!r} in the tracking store") from None
    best = run.data.tags.get("suite.best_run")
    return best or run_id


def predict(run_id: str, texts: Sequence[str], tracking_uri: str | None = None) -> Prediction:
    """Class probabilities of `texts` by the model and tokenizer logged in run `run_id`."""
    from mlflow.tracking import MlflowClient

    from suite import stores
    from suite.transfer import run_model

    uri = tracking_uri or stores.default_tracking_uri()
    client = MlflowClient(uri)
    run = _model_run(client, run_id)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = run_model(run, uri, Path(tmp) / "model")
            if (folder / "artifacts" / "model.keras").exists():  # a pyfunc text model
                parts = [folder / "artifacts" / n for n in ("model.keras", "tokenizer")]
                parts.append(folder / "artifacts" / "classes.json")
            else:  # logged before models were MLflow models
                tok = Path(client.download_artifacts(run, "tokenizer", tmp))
                parts = [folder / "model.keras", tok, folder / "classes.json"]
            if not all(p.exists() for p in parts):
                raise FileNotFoundError(parts)
        except Exception:
            raise PredictError(
                f"run {run!r} has no logged text model with its tokenizer: give the id of a "
                "text benchmark's best trial, one of its seed runs or its candidate run"
            ) from None
        loaded = load_text_model(*parts)
        probs = loaded.probabilities(texts)
    return Prediction(run, loaded.classes, probs)
