"""Search dimensions and dotted paths (`layers[1].lstm.units`) into a spec document."""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, model_validator

from suite.spec.base import Strict

Scalar = Union[bool, int, float, str, None]  # noqa: UP007

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class PathError(ValueError):
    """A dotted path that does not exist in a document."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """`a.b[2].c` -> ('a', 'b', 2, 'c')."""
    parts: list[str | int] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        gap = path[pos : m.start()]
        if gap not in ("", ".") or (gap == "." and not parts):
            raise PathError(f"malformed path {path!r} near {gap!r}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts or pos != len(path):
        raise PathError(f"malformed path {path!r}")
    return tuple(parts)


def format_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def get_path(doc: Any, parts: tuple[str | int, ...]) -> Any:
    node = doc
    for i, p in enumerate(parts):
        if (isinstance(p, int) and isinstance(node, list) and -len(node) <= p < len(node)) or (
            isinstance(p, str) and isinstance(node, dict) and p in node
        ):
            node = node[p]
        else:
            where = format_path(parts[:i]) or "the top level"
            keys = (
                f"keys {', '.join(map(str, node))}"
                if isinstance(node, dict)
                else f"{len(node)} items"
                if isinstance(node, list)
                else "a value"
            )
            raise PathError(f"{format_path(parts)!r}: {p!r} is not in {where} (which has {keys})")
    return node


def set_path(doc: Any, parts: tuple[str | int, ...], value: Any, *, create: bool = False) -> None:
    """Set `value` at `parts` in place; with `create`, missing mapping keys are created."""
    node = doc
    for i, p in enumerate(parts[:-1]):
        if create and isinstance(node, dict) and p not in node:
            node[p] = {}
        node = get_path(doc, parts[: i + 1])
    last = parts[-1]
    if (isinstance(node, dict) and isinstance(last, str) and (create or last in node)) or (
        isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node)
    ):
        node[last] = value
    else:
        get_path(doc, parts)  # raises with the standard message
        node[last] = value


class IntRange(Strict):
    """An integer in [low, high]."""

    bounds: tuple[int, int] = Field(alias="int")
    log: bool = False
    step: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> IntRange:
        _check_bounds(self.bounds, self.log)
        return self


class FloatRange(Strict):
    """A real number in [low, high]."""

    bounds: tuple[float, float] = Field(alias="float")
    log: bool = False
    step: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> FloatRange:
        _check_bounds(self.bounds, self.log)
        if self.log and self.step is not None:
            raise ValueError("step and log cannot be combined")
        return self


class Choice(Strict):
    """One of the listed values."""

    choice: list[Scalar] = Field(min_length=1)


def _check_bounds(bounds: tuple[float, float], log: bool) -> None:
    low, high = bounds
    if low > high:
        raise ValueError(f"low must be <= high, received [{low}, {high}]")
    if log and low <= 0:
        raise ValueError(f"log scale needs low > 0, received low={low}")


def _kind(value: Any) -> str | None:
    kinds = {IntRange: "int", FloatRange: "float", Choice: "choice"}
    if type(value) in kinds:
        return kinds[type(value)]
    if isinstance(value, dict):
        for k in ("int", "float", "choice"):
            if k in value:
                return k
    return None


Param = Annotated[
    Union[  # noqa: UP007
        Annotated[IntRange, Tag("int")],
        Annotated[FloatRange, Tag("float")],
        Annotated[Choice, Tag("choice")],
    ],
    Discriminator(
        _kind,
        custom_error_type="bad_dimension",
        custom_error_message=(
            "a search dimension is {int: [low, high]}, {float: [low, high]} "
            "or {choice: [a, b, ...]}"
        ),
    ),
]


def suggest(trial: Any, path: str, dim: IntRange | FloatRange | Choice) -> Any:
    """Ask an Optuna trial for the value of one dimension."""
    if isinstance(dim, IntRange):
        return trial.suggest_int(path, *dim.bounds, log=dim.log, step=dim.step)
    if isinstance(dim, FloatRange):
        return trial.suggest_float(path, *dim.bounds, log=dim.log, step=dim.step)
    return trial.suggest_categorical(path, dim.choice)


def contains(dim: IntRange | FloatRange | Choice, value: Any) -> bool:
    """Whether `value` is a point of `dim` (used to enqueue the spec's defaults)."""
    if isinstance(dim, Choice):
        return value in dim.choice
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    low, high = dim.bounds
    return low <= value <= high and (not isinstance(dim, IntRange) or float(value).is_integer())


def corners(dim: IntRange | FloatRange | Choice) -> list[Any]:
    """The extreme values of a dimension: each is checked against the spec at load."""
    if isinstance(dim, Choice):
        return list(dim.choice)
    return list(dim.bounds)
