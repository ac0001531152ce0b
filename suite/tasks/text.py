"""Text classification: a class per text; the candidate's tokenizer turns texts into ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suite.tasks.base import TASKS
from suite.tasks.classification import Classification

if TYPE_CHECKING:
    from suite.data.base import Dataset
    from suite.text.cache import Prepared


class TextError(ValueError):
    """A text task that cannot run as set up (no tokenizer, a dataset without texts)."""


def encode_texts(task: str, data: Dataset, tokenizer: Any) -> Prepared:
    """The dataset's texts as cached token ids of `tokenizer` (fitted on train)."""
    from suite.text.cache import encode_dataset

    if data.modality != "text":
        raise TextError(
            f"task {task!r} needs a text dataset; {data.name!r} gives {data.modality} examples"
        )
    if tokenizer is None:
        raise TextError(
            f"task {task!r} on {data.name!r}: the candidate has no tokenizer; add a "
            "`tokenizer` axis to candidates.matrix (or `tokenizer:` to a named candidate)"
        )
    return encode_dataset(data, tokenizer)


@dataclass(frozen=True)
class TextClassification(Classification):
    """One label per text: ids from the tokenizer, softmax head, accuracy per batch;
    macro-F1 and MCC once per epoch on validation, and on test after the seed runs."""

    @property
    def metrics(self) -> list[Any]:
        return ["accuracy"]

    def callbacks(self, data: Dataset) -> list[Any]:
        from suite.text.metrics import epoch_scores

        return [epoch_scores(data.val.x, data.val.y, self._bound())]

    def extra_test_metrics(self, model: Any, data: Dataset, batch_size: int) -> dict[str, float]:
        from suite.text.metrics import confusion, scores

        pred = model.predict(data.test.x, batch_size=max(batch_size, 512), verbose=0)
        return scores(confusion(data.test.y, pred, self._bound()))

    def inputs(self, data: Dataset, tokenizer: Any) -> Prepared:
        return encode_texts(self.name, data, tokenizer)


TASKS.register("text_classification")(
    TextClassification(
        name="text_classification",
        description="text classification: a candidate's tokenizer makes ids (cached), softmax "
        "head, cross-entropy, accuracy, macro-F1 and MCC",
        loss="sparse_categorical_crossentropy",
        metric_names=("accuracy", "macro_f1", "mcc"),
        default_metric="val_accuracy",
        lower_is_better=frozenset(),
        target="class",
        split="stratified",
        outputs="classes",
    )
)
