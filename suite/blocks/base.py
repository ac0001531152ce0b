"""Block registry and the two markers that let a block hold other blocks.

A block is a function of its typed keyword parameters that returns a callable on a tensor
(a Keras layer, or a small function composing several). Its signature is its schema.
Heavy imports (keras) happen inside the function, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from suite.registry import Registry

BLOCKS: Registry[Callable[..., Any]] = Registry("block")


class Stack:
    """Marker: a parameter that is a list of layers; at build time, a function x -> y."""


class One:
    """Marker: a parameter that is one layer; at build time, a factory `make(**overrides)`."""


Pos = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
Padding = Literal["same", "valid"]
Activation = (
    Literal[
        "relu",
        "gelu",
        "tanh",
        "sigmoid",
        "swish",
        "silu",
        "elu",
        "selu",
        "leaky_relu",
        "relu6",
        "softplus",
        "mish",
        "hard_sigmoid",
        "linear",
    ]
    | None
)

# Blocks whose input is a sequence (batch, steps, features): an RNN before them
# returns sequences unless its spec says otherwise.
SEQUENCE_CONSUMERS: set[str] = set()

# An input shape (without the batch axis) and a small stack that uses the block: the
# contract test builds, trains and round-trips every example, and the docs show it.
Example = tuple[tuple[int, ...], list[Any]]
EXAMPLES: dict[str, Example] = {}

SEQ: tuple[int, ...] = (12, 3)
IMG: tuple[int, ...] = (8, 8, 2)


def block(name: str, *, example: Example, consumes_sequence: bool = False) -> Callable[[Any], Any]:
    """Register a block under `name` with a small `example` of its use."""

    def add(fn: Any) -> Any:
        if consumes_sequence:
            SEQUENCE_CONSUMERS.add(name)
        EXAMPLES[name] = example
        return BLOCKS.register(name)(fn)

    return add
