"""The `pretrained` block: a tracked run's saved model up to a layer, as one nested model,
frozen unless `trainable`; and unfreezing for the fine-tuning phase of a recipe.

Blocks know nothing of the tracking store: whoever builds models (the runner, the dry run,
`suite reproduce`) passes a resolver, run -> its loaded Keras model, with `use_resolver`
(suite.transfer.resolving gives MLflow's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from suite.blocks.base import IMG, block

ARTIFACT = "model/model.keras"

Resolver = Callable[[str, "str | None", str], Any]  # (run, tracking_uri, artifact) -> model
RESOLVER: ContextVar[Resolver | None] = ContextVar("suite_pretrained_resolver", default=None)


@contextmanager
def use_resolver(resolve: Resolver) -> Iterator[None]:
    """`pretrained` blocks built inside fetch their models with `resolve`."""
    token = RESOLVER.set(resolve)
    try:
        yield
    finally:
        RESOLVER.reset(token)


def cut(model: Any, until: str | int | None, name: str) -> Any:
    """The part of `model` from its inputs to the output of layer `until` (None: all but the
    last layer, i.e. without the task head), as a model named `name`."""
    import keras

    if until is None:
        end = model.layers[-1].input
    else:
        try:
            layer = model.get_layer(until) if isinstance(until, str) else model.layers[until]
        except (ValueError, IndexError):
            names = ", ".join(f"{i}: {lay.name}" for i, lay in enumerate(model.layers))
            raise ValueError(
                f"until={until!r} is not a layer of the saved model; its layers are {names}"
            ) from None
        end = layer.output
    return keras.Model(model.inputs, end, name=name)


@block("pretrained", example=(IMG, [{"pretrained": {"run": "RUN_ID"}}, "flatten"]))
def pretrained(
    run: str,
    until: str | int | None = None,
    trainable: bool = False,
    artifact: str = ARTIFACT,
    tracking_uri: str | None = None,
) -> Any:
    """A tracked run's saved model up to layer `until` (default: without its head), frozen."""

    def apply(x: Any) -> Any:
        resolve = RESOLVER.get()
        if resolve is None:
            raise ValueError(
                "pretrained: no model resolver is set; build inside "
                "suite.transfer.resolving() (the runner, the dry run and reproduce do)"
            )
        source = resolve(run, tracking_uri, artifact)
        want, got = tuple(source.inputs[0].shape[1:]), tuple(x.shape[1:])
        fits = len(want) == len(got) and all(
            w in (None, g) for w, g in zip(want, got, strict=False)
        )
        if len(source.inputs) != 1 or not fits:
            raise ValueError(
                f"run {run!r}'s model takes inputs of shape {want}; this input is {got}"
            )
        part = cut(source, until, f"pretrained_{run[:8]}")
        part.trainable = trainable
        return part(x)

    return apply


def flat_layers(model: Any) -> list[Any]:
    """The model's layers in order, nested models replaced by their own layers (no inputs)."""
    import keras

    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(flat_layers(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            out.append(layer)
    return out


def _all_trainable(model: Any) -> None:
    # Setting `trainable` to the value it already has may not reach the sublayers (with the
    # TensorFlow backend an unchanged attribute is not set again), so go through False.
    model.trainable = False
    model.trainable = True


def unfreeze(model: Any, start: str | int = "all") -> None:
    """Make layers trainable: all of them, or layer `start` (a name or an index into
    `flat_layers`) and every layer after it; earlier layers keep their state."""
    layers = flat_layers(model)
    if start == "all":
        _all_trainable(model)
        return
    names = [layer.name for layer in layers]
    if isinstance(start, str):
        if start not in names:
            raise ValueError(
                f"train.fine_tune.unfreeze: no layer named {start!r}; "
                f"the layers are {', '.join(names)}"
            )
        first = names.index(start)
    elif -len(layers) <= start < len(layers):
        first = start % len(layers)
    else:
        raise ValueError(
            f"train.fine_tune.unfreeze: index {start} is out of range for {len(layers)} layers"
        )
    before = [layer.trainable for layer in layers]
    _all_trainable(model)  # containers too, so their inner layers can train
    for i, layer in enumerate(layers):
        layer.trainable = before[i] or i >= first
