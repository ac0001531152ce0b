"""Keras objects of the tagging task, registered as `suite>Name`.

`TokenAccuracy` is the accuracy over labelled tokens only: a target of -1 (padding, and the
sub-tokens after a word's first) is left out, and the mean is over every labelled token of
an epoch, not a mean of per-batch values. Like suite.blocks.attention this module imports
keras at the top; the task imports it at build time, `suite.blocks.saved.load_model` before loading.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

IGNORE = -1  # the target of a position that is not scored
CHARS = 256  # character ids: 0 padding, 1 unknown, 2 + code point for code points below 254


@keras.saving.register_keras_serializable(package="suite")
class TokenAccuracy(keras.metrics.Metric):
    """Share of labelled positions (target != -1) whose most probable tag is the target."""

    def __init__(self, name: str = "token_accuracy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), initializer="zeros", name="correct", dtype="float32")
        self.count = self.add_variable((), initializer="zeros", name="count", dtype="float32")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, -1)
        valid = ops.cast(ops.not_equal(y_true, IGNORE), "float32")
        if sample_weight is not None:
            valid = valid * ops.broadcast_to(ops.cast(sample_weight, "float32"), ops.shape(valid))
        hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
        self.correct.assign_add(ops.sum(hit * valid))
        self.count.assign_add(ops.sum(valid))

    def result(self) -> Any:
        return ops.divide_no_nan(self.correct, self.count)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}


def masked_loss() -> Any:
    """Sparse cross-entropy over labelled positions only (mean over them in each batch)."""
    return keras.losses.SparseCategoricalCrossentropy(ignore_class=IGNORE)


def in_vocabulary(ids: Any, size: int) -> Any:
    """int32 ids with any id outside 0..size-1 read as the unknown id 1."""
    ids = ops.cast(ids, "int32")
    return ops.where(ops.logical_and(ids >= 0, ids < size), ids, ops.ones_like(ids))


def word_chars(
    x: Any,
    *,
    vocab_size: int,
    dim: int,
    char_vocab_size: int,
    char_dim: int,
    char_filters: int,
    char_kernel: int,
) -> Any:
    """(batch, steps, 1 + chars) ids -> word embeddings (+ char-CNN features), padding masked."""
    from keras import layers

    words = in_vocabulary(x[..., 0] if len(x.shape) == 3 else x, vocab_size)
    out = layers.Embedding(vocab_size, dim, mask_zero=True)(words)
    if char_filters and len(x.shape) == 3 and x.shape[-1] > 1:
        chars = in_vocabulary(x[..., 1:], char_vocab_size)
        c = layers.Embedding(char_vocab_size, char_dim)(chars)  # (batch, steps, chars, dim)
        c = layers.Conv2D(char_filters, (1, char_kernel), padding="same", activation="relu")(c)
        out = layers.Concatenate()([out, ops.max(c, axis=2)])  # max over each word's chars
    return out
