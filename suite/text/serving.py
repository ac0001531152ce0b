"""The pyfunc model of a text classifier: raw strings in, a label and class probabilities out.

Logged by suite.mlmodels.log_text_model with the Keras model, the fitted tokenizer and the
class names as artifacts; applies them as `suite predict` does (suite.text.predict).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd


def texts_of(model_input: Any) -> list[str]:
    """The strings of a pyfunc input: a list, a Series, an array or a DataFrame's first column
    (or its `text` column)."""
    if isinstance(model_input, pd.DataFrame):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


class TextClassifier(mlflow.pyfunc.PythonModel):
    """A text classifier that tokenizes raw strings itself."""

    def load_context(self, context: Any) -> None:
        from suite.text.predict import load_text_model

        art = context.artifacts
        self.text_model = load_text_model(
            Path(art["model"]), Path(art["tokenizer"]), Path(art["classes"])
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """A DataFrame: the label, then one probability column per class. (MLflow hands
        `predict` a DataFrame of the logged signature's one string column; a DataFrame hint
        is one it reads no schema from, so the logged signature stays the one that counts.)"""
        probs = self.text_model.probabilities(texts_of(model_input))
        classes = self.text_model.classes
        frame = pd.DataFrame(probs.astype("float64"), columns=list(classes))
        frame.insert(0, "label", [classes[i] for i in probs.argmax(axis=1)])
        return frame
