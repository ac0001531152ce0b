"""Regularisation applied by the training recipe: label smoothing and kernel weight penalties.

`SparseSmoothedCrossentropy` is a Keras loss registered as `suite>SparseSmoothedCrossentropy`
(Keras' sparse cross-entropy takes no label smoothing), so a model compiled with it saves to
`.keras` and reloads with `safe_mode=True`. This module imports keras at the top: training
imports it when a recipe needs it, and `suite.blocks.saved.load_model` imports it before loading.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="suite")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against probabilities, with smoothed one-hot targets."""

    def __init__(
        self,
        label_smoothing: float = 0.0,
        name: str = "sparse_smoothed_crossentropy",
        reduction: str | None = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"expected 0 <= label_smoothing < 1. Received: {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        target = ops.one_hot(ops.cast(y_true, "int32"), ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def is_kernel(variable: Any) -> bool:
    """Kernels are the weight matrices (kernel, recurrent_kernel, depthwise_kernel, ...)."""
    return str(variable.name).endswith("kernel")


def penalize_kernels(model: Any, l1: float, l2: float) -> int:
    """Attach an L1/L2 penalty to every kernel of `model` (nested models too); returns how many.

    Keras adds `variable.regularizer(variable)` of every trainable variable to the loss
    (`Layer.losses`), so a frozen kernel starts to count once it is unfrozen. The penalty
    is part of training only: a saved model's layer configs do not carry it.
    """
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    kernels = [v for v in model.weights if is_kernel(v)]
    for v in kernels:
        v.regularizer = reg
    return len(kernels)


def kernel_penalty(model: Any, l1: float, l2: float) -> float:
    """The penalty's value on the model's current trainable kernels (what the loss adds)."""
    total = 0.0
    for v in model.trainable_weights:
        if is_kernel(v):
            w = ops.convert_to_numpy(v)
            total += l1 * float(abs(w).sum()) + l2 * float((w * w).sum())
    return total
