"""Custom Keras objects for models over token ids, registered as `suite>Name`.

`TokenCrossEntropy` reports the mean cross-entropy per token as bits per character (`bits`)
or perplexity (`perplexity`), accumulated over every token of an epoch; `PairRow` picks the
source or the decoder-input row of a stacked (batch, 2, steps) seq2seq input. Like
suite.blocks.attention, this module imports keras at the top: blocks and tasks import it at
build time only, and `suite.blocks.saved.load_model` imports it before loading a saved model.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import keras
from keras import ops

PACKAGE = "suite"


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenCrossEntropy(keras.metrics.Metric):
    """Mean cross-entropy per token over all tokens seen, as bits or as perplexity.

    bits: mean / ln 2 (bits per character for a character model); perplexity: exp(mean).
    The mean is over every (weighted, unmasked) token, not a mean of per-batch values.
    """

    def __init__(
        self, unit: Literal["bits", "perplexity"] = "bits", name: str = "bpc", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        if unit not in ("bits", "perplexity"):
            raise ValueError(f"TokenCrossEntropy: unit must be bits or perplexity, got {unit!r}")
        self.unit = unit
        self.total = self.add_variable((), initializer="zeros", name="total", dtype="float32")
        self.count = self.add_variable((), initializer="zeros", name="count", dtype="float32")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = ops.cast(y_pred, "float32")
        ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        if sample_weight is None:
            weight = ops.ones_like(ce)
        else:
            weight = ops.broadcast_to(ops.cast(sample_weight, "float32"), ops.shape(ce))
        self.total.assign_add(ops.sum(ce * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self) -> Any:
        mean = ops.divide_no_nan(self.total, self.count)
        return mean / math.log(2.0) if self.unit == "bits" else ops.exp(mean)

    def get_config(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PairRow(keras.layers.Layer):
    """Row `index` of a stacked input (batch, 2, steps) as int32 ids (batch, steps); an id
    outside 0..vocab_size-1 reads as the unknown id 1."""

    def __init__(self, index: int = 0, vocab_size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if index not in (0, 1):
            raise ValueError(f"PairRow: index must be 0 (source) or 1 (decoder input), got {index}")
        self.index = index
        self.vocab_size = vocab_size

    def call(self, inputs: Any) -> Any:
        ids = ops.cast(inputs[:, self.index], "int32")
        inside = ops.logical_and(ids >= 0, ids < self.vocab_size)
        return ops.where(inside, ids, ops.ones_like(ids))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[2])

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor((inputs.shape[0], inputs.shape[2]), dtype="int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "index": self.index, "vocab_size": self.vocab_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NotPadding(keras.layers.Layer):
    """True where an id (batch, steps) is not the padding id 0: the mask of a source."""

    def call(self, inputs: Any) -> Any:
        return ops.not_equal(inputs, 0)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(inputs.shape, dtype="bool")
