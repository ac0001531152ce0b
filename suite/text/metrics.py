"""Macro-F1 and Matthews correlation as Keras metrics (a confusion matrix kept in a variable).

Written with keras.ops only, so they run on every backend; registered serializable so a saved
model reloads without custom_objects.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


class _Confusion(keras.metrics.Metric):
    """Accumulates the confusion matrix of sparse labels vs. the argmax of probabilities."""

    def __init__(self, num_classes: int, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.matrix = self.add_variable(
            shape=(self.num_classes, self.num_classes), initializer="zeros", name="matrix"
        )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        k = self.num_classes
        t = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), k)
        p = ops.one_hot(ops.argmax(ops.reshape(y_pred, (-1, k)), axis=-1), k)
        if sample_weight is not None:
            t = t * ops.reshape(ops.cast(sample_weight, t.dtype), (-1, 1))
        self.matrix.assign_add(ops.cast(ops.matmul(ops.transpose(t), p), self.matrix.dtype))

    def reset_state(self) -> None:
        self.matrix.assign(ops.zeros((self.num_classes, self.num_classes)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="suite")
class MacroF1(_Confusion):
    """The mean over classes of F1 (a class never predicted nor present counts 0)."""

    def __init__(self, num_classes: int, name: str = "macro_f1", **kwargs: Any) -> None:
        super().__init__(num_classes, name, **kwargs)

    def result(self) -> Any:
        m = self.matrix
        tp = ops.diagonal(m)
        precision_den = ops.sum(m, axis=0)
        recall_den = ops.sum(m, axis=1)
        f1 = ops.divide_no_nan(2 * tp, precision_den + recall_den)
        return ops.mean(f1)


@keras.saving.register_keras_serializable(package="suite")
class MCC(_Confusion):
    """Matthews correlation coefficient (multi-class form, Gorodkin 2004)."""

    def __init__(self, num_classes: int, name: str = "mcc", **kwargs: Any) -> None:
        super().__init__(num_classes, name, **kwargs)

    def result(self) -> Any:
        m = self.matrix
        n = ops.sum(m)
        c = ops.sum(ops.diagonal(m))
        t = ops.sum(m, axis=1)
        p = ops.sum(m, axis=0)
        num = c * n - ops.sum(t * p)
        den = ops.sqrt((n * n - ops.sum(p * p)) * (n * n - ops.sum(t * t)))
        return ops.divide_no_nan(num, den)
