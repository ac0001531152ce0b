"""Task registry: what a task adds on top of a candidate's layers, and how it is scored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from suite.registry import Registry


@dataclass(frozen=True)
class Task:
    """Loss, metrics and the output head of one kind of problem."""

    name: str
    loss: str
    metrics: tuple[str, ...]
    description: str

    def head(self, x: Any, num_outputs: int) -> Any:
        """The output layer applied to the last features `x`."""
        from keras import layers

        if len(x.shape) != 2:
            raise ValueError(
                f"task {self.name!r} needs one feature vector per example, but the last layer "
                f"outputs shape {tuple(x.shape)}; end the model with 'flatten', "
                "'global_avg_pool' or a recurrent layer that does not return sequences"
            )
        return layers.Dense(num_outputs, activation="softmax", name="head", dtype="float32")(x)


TASKS: Registry[Task] = Registry("task")

TASKS.register("classification")(
    Task(
        name="classification",
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        description="single-label classification: softmax head, cross-entropy, accuracy",
    )
)
