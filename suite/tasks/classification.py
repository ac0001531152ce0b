"""Single-label classification: softmax head, sparse cross-entropy, accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suite.tasks.base import TASKS, Task, require_vector

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Classification(Task):
    """One label per example: softmax head, sparse cross-entropy, accuracy."""

    def head(self, x: Any, num_outputs: int) -> Any:
        from keras import layers

        require_vector(self.name, x)
        return layers.Dense(num_outputs, activation="softmax", name="head", dtype="float32")(x)

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return np.arange(n, dtype=np.int64) % num_outputs


TASKS.register("classification")(
    Classification(
        name="classification",
        description="single-label classification: softmax head, cross-entropy, accuracy",
        loss="sparse_categorical_crossentropy",
        metric_names=("accuracy",),
        default_metric="val_accuracy",
        lower_is_better=frozenset(),
        target="class",
        split="stratified",
        outputs="classes",
    )
)
