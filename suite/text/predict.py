"""Apply a logged text model to raw text: its tokenizer and model come from the run's artifacts."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
    from suite.text.fit import load_tokenizer
    from suite.transfer import load_model

    client = MlflowClient(tracking_uri or stores.default_tracking_uri())
    run = _model_run(client, run_id)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model_dir = Path(client.download_artifacts(run, "model", tmp))
            tok_dir = Path(client.download_artifacts(run, "tokenizer", tmp))
        except Exception:
            raise PredictError(
                f"run {run!r} has no logged model and tokenizer (artifacts model/ and "
                "tokenizer/): give the id of a text benchmark's best trial or its candidate run"
            ) from None
        tok = load_tokenizer(tok_dir)
        classes = tuple(json.loads((model_dir / "classes.json").read_text(encoding="utf-8")))
        import suite.text.metrics  # noqa: F401  (the saved metrics' classes)

        model = load_model(model_dir / "model.keras", compile=False)
        ids, _ = tok.encode(list(texts))
        probs = np.asarray(model.predict(ids, verbose=0))
    return Prediction(run, classes, probs)
