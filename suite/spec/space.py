"""Search dimensions and dotted paths (`layers[1].lstm.units`) into a spec document."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
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
    values: list[float] | None = Field(
        None, min_length=1, description="the points a grid search tries (each within bounds)"
    )

    @model_validator(mode="after")
    def _check(self) -> FloatRange:
        _check_bounds(self.bounds, self.log)
        if self.log and self.step is not None:
            raise ValueError("step and log cannot be combined")
        low, high = self.bounds
        outside = [v for v in self.values or () if not low <= v <= high]
        if outside:
            raise ValueError(f"values {outside} lie outside the bounds [{low}, {high}]")
        return self


class Choice(Strict):
    """One of the listed values, or one of named branches, each with its own dimensions.

    Branches (`{choice: {gru: {units: {int: [8, 64]}, reset_after: {choice: [true, false]}},
    lstm: {units: {int: [8, 64]}}}}`) set the value at the path to `{branch: {...}}`; a branch's
    keys are paths inside it, each a search dimension or a fixed value, and only the chosen
    branch's dimensions are searched.
    """

    choice: Annotated[
        Union[  # noqa: UP007
            Annotated[list[Scalar], Field(min_length=1), Tag("values")],
            Annotated[dict[str, dict[str, Branched] | None], Field(min_length=1), Tag("branches")],
        ],
        Discriminator(
            lambda v: "branches" if isinstance(v, dict) else "values",
            custom_error_type="bad_choice",
            custom_error_message="a choice is a list of values or a mapping of named branches",
        ),
    ]

    @property
    def branches(self) -> dict[str, dict[str, Any]] | None:
        """name -> {key: dimension or fixed value}, for a conditional choice; else None."""
        if isinstance(self.choice, list):
            return None
        return {k: dict(v or {}) for k, v in self.choice.items()}

    @property
    def options(self) -> list[Any]:
        """What Optuna chooses among: the values, or the branch names."""
        return list(self.choice)


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


def _branch_kind(value: Any) -> str:
    return "dim" if _kind(value) else "fixed"


Branched = Annotated[
    Union[Annotated[Param, Tag("dim")], Annotated[Any, Tag("fixed")]],  # noqa: UP007
    Discriminator(_branch_kind),
]
Choice.model_rebuild()

Dim = IntRange | FloatRange | Choice


def _is_dim(value: Any) -> bool:
    return isinstance(value, IntRange | FloatRange | Choice)


def suggest(trial: Any, path: str, dim: Dim) -> dict[str, Any]:
    """Ask an Optuna trial for one dimension: {optuna name: value}, with a chosen branch's own.

    A branch's dimension `k` of the choice at `p` is named `p.<branch>.k`: the very path the
    value takes in the spec, so every name is unique and branches never share one.
    """
    if isinstance(dim, IntRange):
        return {path: trial.suggest_int(path, *dim.bounds, log=dim.log, step=dim.step)}
    if isinstance(dim, FloatRange):
        return {path: trial.suggest_float(path, *dim.bounds, log=dim.log, step=dim.step)}
    picked = trial.suggest_categorical(path, dim.options)
    out = {path: picked}
    branches = dim.branches
    if branches is not None:
        for key, sub in branches[picked].items():
            if _is_dim(sub):
                out.update(suggest(trial, f"{path}.{picked}.{key}", sub))
    return out


def suggest_all(trial: Any, space: Mapping[str, Dim]) -> dict[str, Any]:
    """Every dimension of `space` asked of the trial (define-by-run: only chosen branches)."""
    out: dict[str, Any] = {}
    for path, dim in space.items():
        out.update(suggest(trial, path, dim))
    return out


def _branch_value(path: str, dim: Choice, branch: str, params: Mapping[str, Any]) -> Any:
    """The value {branch: {...}} at `path`: the branch's fixed values and its chosen ones."""
    body: dict[str, Any] = {}
    for key, sub in (dim.branches or {})[branch].items():
        name = f"{path}.{branch}.{key}"
        if _is_dim(sub):
            if name not in params:
                raise KeyError(f"no value for {name!r} (branch {branch!r} of {path!r})")
            value = params[name]
            if isinstance(sub, Choice) and sub.branches is not None:
                value = _branch_value(name, sub, value, params)
        else:
            value = copy.deepcopy(sub)
        set_path(body, parse_path(key), value, create=True)
    return {branch: body}


def assign(space: Mapping[str, Dim], params: Mapping[str, Any]) -> dict[str, Any]:
    """{path in the spec: value} for a trial's `params` (Optuna names); branches expanded.

    A conditional choice given as a branch name becomes `{branch: {...}}`; given as a
    whole value (a mapping), it is set as is.
    """
    out: dict[str, Any] = {}
    inner: set[str] = set()
    for path, dim in space.items():
        if path not in params:
            continue
        value = params[path]
        if isinstance(dim, Choice) and dim.branches is not None and isinstance(value, str):
            value = _branch_value(path, dim, value, params)
            inner |= {k for k in params if k.startswith(f"{path}.")}
        out[path] = value
    for name, value in params.items():
        if name not in out and name not in inner:
            out[name] = value
    return out


def default_params(space: Mapping[str, Dim], doc: Any) -> dict[str, Any]:
    """The spec's own value of each dimension, where it is a point of it (Optuna names)."""
    out: dict[str, Any] = {}
    for path, dim in space.items():
        try:
            value = get_path(doc, parse_path(path))
        except PathError:
            continue
        out.update(_default(path, dim, value))
    return out


def _default(path: str, dim: Dim, value: Any) -> dict[str, Any]:
    branches = dim.branches if isinstance(dim, Choice) else None
    if branches is None:
        return {path: value} if contains(dim, value) else {}
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in branches):
        return {}
    branch = next(iter(value))
    out: dict[str, Any] = {path: branch}
    for key, sub in branches[branch].items():
        if _is_dim(sub):
            try:
                inner = get_path(value[branch], parse_path(key))
            except PathError:
                continue
            out.update(_default(f"{path}.{branch}.{key}", sub, inner))
    return out


def contains(dim: Dim, value: Any) -> bool:
    """Whether `value` is a point of `dim` (used to enqueue the spec's defaults)."""
    if isinstance(dim, Choice):
        return value in dim.options
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    low, high = dim.bounds
    return low <= value <= high and (not isinstance(dim, IntRange) or float(value).is_integer())


def corners(dim: Dim) -> list[Any]:
    """The extreme values of a dimension: each is checked against the spec at load.

    For a conditional choice: each branch whole, once with every dimension at its first
    corner and once at its last.
    """
    if isinstance(dim, Choice):
        if dim.branches is None:
            return dim.options
        out = []
        for branch, body in dim.branches.items():
            for end in (0, -1):
                inner: dict[str, Any] = {}
                for key, sub in body.items():
                    value = corners(sub)[end] if _is_dim(sub) else copy.deepcopy(sub)
                    set_path(inner, parse_path(key), value, create=True)
                out.append({branch: inner})
        return out
    return list(dim.bounds)


def grid(space: Mapping[str, Dim]) -> dict[str, list[Any]]:
    """Every dimension's grid points for a grid search; refuses what has no finite grid."""
    out: dict[str, list[Any]] = {}
    for path, dim in space.items():
        if isinstance(dim, Choice):
            if dim.branches is not None:
                raise ValueError(
                    f"{path!r}: a grid search cannot search a conditional choice "
                    "(its branches have their own dimensions); use another sampler"
                )
            out[path] = dim.options
        elif isinstance(dim, IntRange):
            low, high = dim.bounds
            out[path] = list(range(low, high + 1, dim.step))
        elif dim.values is not None:
            out[path] = list(dim.values)
        elif dim.step is not None:
            low, high = dim.bounds
            n = math.floor((high - low) / dim.step + 1e-9)
            out[path] = [low + i * dim.step for i in range(n + 1)]
        else:
            raise ValueError(
                f"{path!r}: a grid search needs the points of a continuous float: "
                "give them with `values: [...]` (or a `step`)"
            )
    return out
