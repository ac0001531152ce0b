"""Macro-F1 and Matthews correlation: computed once per epoch on the validation split from
a confusion matrix (`scores`, `epoch_scores`), and as Keras metrics.

Training computes them once per epoch (a callback), not per batch: per batch they cost about
8 % of a TextCNN's step. The Keras metrics (keras.ops only, every backend) stay registered
serializable so models saved with them reload without custom_objects.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


def confusion(y_true: Any, y_pred: Any, k: int) -> np.ndarray:
    """The k x k confusion matrix (rows: true class) of labels vs. argmax of probabilities."""
    t = np.asarray(y_true).reshape(-1).astype(np.int64)
    p = np.asarray(y_pred).reshape(-1, k).argmax(-1)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.float64)


def scores(m: np.ndarray) -> dict[str, float]:
    """macro_f1 (a class never predicted nor present counts 0) and mcc (Gorodkin 2004)."""
    tp, pred, true = np.diagonal(m), m.sum(0), m.sum(1)
    den = pred + true
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)
    n, c = m.sum(), tp.sum()
    mcc_den = np.sqrt((n * n - (pred * pred).sum()) * (n * n - (true * true).sum()))
    mcc = (c * n - (true * pred).sum()) / mcc_den if mcc_den > 0 else 0.0
    return {"macro_f1": float(f1.mean()), "mcc": float(mcc)}


def epoch_scores(x: Any, y: Any, k: int, batch_size: int = 512) -> Any:
    """A Keras callback adding val_macro_f1 and val_mcc to each epoch's logs (one prediction
    pass over the validation split)."""

    class EpochScores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None:
                pred = self.model.predict(x, batch_size=batch_size, verbose=0)
                logs.update({f"val_{n}": v for n, v in scores(confusion(y, pred, k)).items()})

    return EpochScores()


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
