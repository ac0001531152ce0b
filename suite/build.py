"""Spec -> keras.Model: blocks composed into a functional graph, then the task's head."""

from __future__ import annotations

import functools
import re
import typing
import warnings
from collections.abc import Sequence
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


# Keras' warning, at build and at every trace, that a layer (a convolution) drops the mask of
# padded steps: what it does with them is documented instead (README, padded sequences).
DROPS_MASK = r"Layer '.*' \(of type \w+\) was passed an input with a mask attached"


@functools.cache
def _hints(name: str) -> dict[str, Any]:
    return typing.get_type_hints(BLOCKS.get(name))


def _bind(value: Any, ann: Any, where: str, after: Any, vocab: int | None) -> Any:
    if ann is Stack:
        return lambda x: apply_stack(x, value, where, after, vocab)
    if get_origin(ann) is list and get_args(ann) == (Stack,):
        return [_bind(v, Stack, f"{where}[{i}]", after, vocab) for i, v in enumerate(value)]
    if ann is One:

        def make(**overrides: Any) -> Any:
            name, params = unwrap(value)
            for k, v in overrides.items():
                if k in params and params[k] is None:
                    params[k] = v
            return BLOCKS.get(name)(**_kwargs(name, params, where, after, vocab))

        return make
    return value


def _kwargs(
    name: str, params: dict[str, Any], where: str, after: Any, vocab: int | None
) -> dict[str, Any]:
    """The block's arguments; a `vocab_size` left null is the data's vocabulary size."""
    hints = _hints(name)
    if "vocab_size" in hints and params.get("vocab_size") is None and vocab is not None:
        params = {**params, "vocab_size": vocab}
    return {
        k: _bind(v, hints.get(k), f"{where}.{name}.{k}", after, vocab) for k, v in params.items()
    }


def apply_layer(
    x: Any, layer: Any, where: str, next_layer: Any = None, vocab: int | None = None
) -> Any:
    """Apply one layer spec to tensor `x` (`vocab`: the data's vocabulary size, if any)."""
    name, params = unwrap(layer)
    if params.get("return_sequences", False) is None:
        params["return_sequences"] = tag_of(next_layer) in SEQUENCE_CONSUMERS
    try:
        return BLOCKS.get(name)(**_kwargs(name, params, where, next_layer, vocab))(x)
    except BuildError:
        raise
    except (ValueError, TypeError) as e:
        shape = tuple(getattr(x, "shape", ()))
        detail = f"on input of shape {shape}: {e}"
        loc = (*parse_path(where)[1:], name)  # where: model.layers[i]...
        raise BuildError(f"{where} ({name}) {detail}", loc, detail) from None


def apply_stack(
    x: Any,
    layers: Sequence[Any],
    where: str = "model.layers",
    after: Any = None,
    vocab: int | None = None,
) -> Any:
    """Apply a list of layer specs in order; `after` is the layer that follows the stack."""
    for i, layer in enumerate(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else after
        x = apply_layer(x, layer, f"{where}[{i}]", nxt, vocab)
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
    """A functional keras.Model: inputs -> layers -> task head. `vocab_size` (the data's or
    its tokenizer's) fills every block's `vocab_size` that the spec leaves null.

    `mask_value` (padded sequences, a Dataset's meta["mask_value"]) puts a Masking layer first:
    steps whose features all equal it are zeroed and masked; layers that read masks (recurrent
    layers, global pooling, attention) skip them, the others (convolutions, flatten) read zeros
    and drop the mask, as the README says; Keras' warning that they drop it is then not shown.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = inputs
    if mask_value is not None:
        warnings.filterwarnings("ignore", message=DROPS_MASK, category=UserWarning)
        x = keras.layers.Masking(mask_value=mask_value, name="padding")(inputs)
    features = apply_stack(x, layers, vocab=vocab_size)
    try:
        outputs = task.head(features, num_outputs)
    except ValueError as e:
        raise BuildError(str(e)) from None
    return keras.Model(inputs, outputs, name=re.sub(r"[^A-Za-z0-9_.-]", "_", name))


def trainable_params(model: Any) -> int:
    """Number of trainable weights (the figure papers report)."""
    import math

    return int(sum(math.prod(w.shape) for w in model.trainable_weights))
