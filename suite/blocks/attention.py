"""Custom Keras layers for attention over recurrent states, registered as `suite>Name`.

Keras has no Luong "general" score and its AdditiveAttention lacks Bahdanau's projections, so
these are written here: `LuongAttention` (dot, general), `BahdanauAttention` (additive) and
`LastStep` (the last unmasked step of a sequence, the usual query). Each implements
`get_config`, so a model using them saves to `.keras` and reloads with `safe_mode=True`.

This module imports keras at the top, so only block functions import it (at build time) and
`import suite` stays light. Keras finds a registered class only once its module has been
imported: in the process that built the model that is always the case; a fresh process loads a
saved model with `suite.blocks.saved.load_model(path)`, which imports every suite.blocks module
first (or imports this module before calling `keras.saving.load_model`).
"""

from __future__ import annotations

from typing import Any, Literal

import keras
from keras import ops

PACKAGE = "suite"


def _mask_value(dtype: Any) -> float:
    """A large negative score that stays finite in the compute dtype."""
    return -65000.0 if "float16" in str(dtype) else -1e9


def _weights(scores: Any, values_mask: Any) -> Any:
    """Softmax over the value steps (last axis), with masked steps given zero weight."""
    if values_mask is not None:
        keep = ops.expand_dims(ops.cast(values_mask, "bool"), axis=-2)  # (b, 1, Tv)
        scores = ops.where(keep, scores, ops.cast(_mask_value(scores.dtype), scores.dtype))
    return ops.softmax(scores, axis=-1)


class _Attention(keras.layers.Layer):
    """Shared call: scores (b, Tq, Tv) -> weights -> context; a 2-D query gives 2-D outputs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def _scores(self, query: Any, values: Any) -> Any:  # (b, Tq, dq), (b, Tv, dv) -> (b, Tq, Tv)
        raise NotImplementedError

    def call(
        self,
        query: Any,
        values: Any,
        values_mask: Any = None,
        return_attention_scores: bool = False,
    ) -> Any:
        """Context (b, dv) for a query (b, dq), or (b, Tq, dv) for (b, Tq, dq)."""
        single = len(query.shape) == 2
        q = ops.expand_dims(query, axis=1) if single else query
        weights = _weights(self._scores(q, values), values_mask)
        context = ops.matmul(weights, values)
        if single:
            context, weights = ops.squeeze(context, axis=1), ops.squeeze(weights, axis=1)
        return (context, weights) if return_attention_scores else context

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        return None

    def compute_output_shape(self, query_shape: Any, values_shape: Any) -> Any:
        return (*query_shape[:-1], values_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class LuongAttention(_Attention):
    """Luong et al. (2015) global attention: score q.v (dot) or q.W.v (general)."""

    def __init__(self, score: Literal["dot", "general"] = "general", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score not in ("dot", "general"):
            raise ValueError(f"LuongAttention: score must be 'dot' or 'general', got {score!r}")
        self.score = score

    def build(self, query_shape: Any, values_shape: Any) -> None:
        dq, dv = query_shape[-1], values_shape[-1]
        if self.score == "dot" and dq != dv:
            raise ValueError(
                f"dot attention needs queries and values of one width; got {dq} and {dv} "
                "(use score 'general' or 'additive')"
            )
        if self.score == "general":
            self.kernel = self.add_weight(
                name="kernel", shape=(dv, dq), initializer="glorot_uniform"
            )

    def _scores(self, query: Any, values: Any) -> Any:
        keys = values if self.score == "dot" else ops.matmul(values, self.kernel)
        return ops.matmul(query, ops.transpose(keys, (0, 2, 1)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "score": self.score}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BahdanauAttention(_Attention):
    """Bahdanau et al. (2015) additive score: v . tanh(W1 q + W2 v_s), `units` wide."""

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"BahdanauAttention: units must be >= 1, got {units}")
        self.units = units

    def build(self, query_shape: Any, values_shape: Any) -> None:
        u = self.units
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query_shape[-1], u), initializer="glorot_uniform"
        )
        self.values_kernel = self.add_weight(
            name="values_kernel", shape=(values_shape[-1], u), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(u,), initializer="zeros")
        self.score_vector = self.add_weight(
            name="score_vector", shape=(u,), initializer="glorot_uniform"
        )

    def _scores(self, query: Any, values: Any) -> Any:
        q = ops.expand_dims(ops.matmul(query, self.query_kernel), axis=2)  # (b, Tq, 1, u)
        k = ops.expand_dims(ops.matmul(values, self.values_kernel), axis=1)  # (b, 1, Tv, u)
        return ops.sum(ops.tanh(q + k + self.bias) * self.score_vector, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LastStep(keras.layers.Layer):
    """The last unmasked step of a sequence (b, T, d) -> (b, d); the last step without a mask."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return inputs[:, -1]
        steps = ops.shape(inputs)[1]
        from_end = ops.argmax(ops.flip(ops.cast(mask, "int32"), axis=1), axis=1)
        pick = ops.one_hot(steps - 1 - from_end, steps, dtype=inputs.dtype)  # (b, T)
        return ops.sum(inputs * ops.expand_dims(pick, -1), axis=1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[-1])


def attention(score: Literal["dot", "general", "additive"], units: int | None, width: int) -> Any:
    """An attention layer for `score`; additive uses `units` (default: the state `width`)."""
    if score == "additive":
        return BahdanauAttention(units or width)
    return LuongAttention(score)
