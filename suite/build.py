"""Spec -> keras.Model: blocks composed into a functional graph, then the task's head."""

from __future__ import annotations

import functools
import re
import typing
import warnings
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, get_args, get_origin

from suite.blocks import BLOCKS, SEQUENCE_CONSUMERS, One, Stack
from suite.spec.signature import tag_of, unwrap
from suite.spec.space import parse_path
from suite.tasks import Task


class BuildError(ValueError):
    """A model that cannot be built from its spec (e.g. shapes that do not fit).

    `loc` is the failing layer's path in the model spec (e.g. ("layers", 2, "fcn")), and
    `detail` what went wrong there; the message says both.
    """

    def __init__(self, message: str, loc: tuple[str | int, ...] = (), detail: str = "") -> None:
        super().__init__(message)
        self.loc = loc
        self.detail = detail or message


# The vocabulary size of the data (or tokenizer) a model is being built for; blocks with an
# embedding read it when their own vocab_size is null (suite.blocks.seq2seq.vocabulary_size).
VOCAB_SIZE: ContextVar[int | None] = ContextVar("suite_vocab_size", default=None)

# Keras' warning, at build and at every trace, that a layer (a convolution) drops the mask of
# padded steps: what it does with them is documented instead (README, padded sequences).
DROPS_MASK = r"Layer '.*' \(of type \w+\) was passed an input with a mask attached"


@functools.cache
def _hints(name: str) -> dict[str, Any]:
    return typing.get_type_hints(BLOCKS.get(name))


def _bind(value: Any, ann: Any, where: str, after: Any = None) -> Any:
    if ann is Stack:
        return lambda x: apply_stack(x, value, where, after)
    if get_origin(ann) is list and get_args(ann) == (Stack,):
        return [_bind(v, Stack, f"{where}[{i}]", after) for i, v in enumerate(value)]
    if ann is One:

        def make(**overrides: Any) -> Any:
            name, params = unwrap(value)
            for k, v in overrides.items():
                if k in params and params[k] is None:
                    params[k] = v
            return BLOCKS.get(name)(**_kwargs(name, params, where, after))

        return make
    return value


def _kwargs(name: str, params: dict[str, Any], where: str, after: Any) -> dict[str, Any]:
    hints = _hints(name)
    return {k: _bind(v, hints.get(k), f"{where}.{name}.{k}", after) for k, v in params.items()}


def apply_layer(x: Any, layer: Any, where: str, next_layer: Any = None) -> Any:
    """Apply one layer spec to tensor `x`."""
    name, params = unwrap(layer)
    if params.get("return_sequences", False) is None:
        params["return_sequences"] = tag_of(next_layer) in SEQUENCE_CONSUMERS
    try:
        return BLOCKS.get(name)(**_kwargs(name, params, where, next_layer))(x)
    except BuildError:
        raise
    except (ValueError, TypeError) as e:
        shape = tuple(getattr(x, "shape", ()))
        detail = f"on input of shape {shape}: {e}"
        loc = (*parse_path(where)[1:], name)  # where: model.layers[i]...
        raise BuildError(f"{where} ({name}) {detail}", loc, detail) from None


def apply_stack(
    x: Any, layers: Sequence[Any], where: str = "model.layers", after: Any = None
) -> Any:
    """Apply a list of layer specs in order; `after` is the layer that follows the stack."""
    for i, layer in enumerate(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else after
        x = apply_layer(x, layer, f"{where}[{i}]", nxt)
    return x


def build_model(
    layers: Sequence[Any],
    input_shape: tuple[int, ...],
    task: Task,
    num_outputs: int,
    name: str = "model",
    vocab_size: int | None = None,
    mask_value: float | None = None,
) -> Any:
    """A functional keras.Model: inputs -> layers -> task head (`vocab_size`: see VOCAB_SIZE).

    `mask_value` (padded sequences, a Dataset's meta["mask_value"]) puts a Masking layer first:
    steps whose features all equal it are zeroed and masked; layers that read masks (recurrent
    layers, global pooling, attention) skip them, the others (convolutions, flatten) read zeros
    and drop the mask, as the README says; Keras' warning that they drop it is then not shown.
    """
    import keras

    token = VOCAB_SIZE.set(vocab_size) if vocab_size is not None else None
    try:
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = inputs
        if mask_value is not None:
            warnings.filterwarnings("ignore", message=DROPS_MASK, category=UserWarning)
            x = keras.layers.Masking(mask_value=mask_value, name="padding")(inputs)
        features = apply_stack(x, layers)
        try:
            outputs = task.head(features, num_outputs)
        except ValueError as e:
            raise BuildError(str(e)) from None
    finally:
        if token is not None:
            VOCAB_SIZE.reset(token)
    return keras.Model(inputs, outputs, name=re.sub(r"[^A-Za-z0-9_.-]", "_", name))


def trainable_params(model: Any) -> int:
    """Number of trainable weights (the figure papers report)."""
    import math

    return int(sum(math.prod(w.shape) for w in model.trainable_weights))
