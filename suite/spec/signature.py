"""Turn registered functions into pydantic models: a signature is a schema.

`tagged_union` makes the one-key form `{name: {param: value}}` (or the bare `name`)
used for blocks, optimizers, samplers and pruners. `relation` declares what one parameter's
type and bounds cannot say alone: how it must fit the parameters before it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from suite.registry import Registry
from suite.spec.base import Strict

Substitute = Callable[[Any], Any]
F = TypeVar("F", bound=Callable[..., Any])
Check = Callable[..., str | None]

_RELATIONS = "__suite_relations__"

FAMILY_NAMES: dict[str, tuple[str, ...]] = {}  # family -> registered names, for messages


class Deferred(Strict):
    """A component's model: built within the first spec model that uses it, not on its own
    (a validator per component would double the start-up of the CLI)."""

    model_config = ConfigDict(defer_build=True)


def _identity(ann: Any) -> Any:
    return ann


def relation(param: str, check: Check) -> Callable[[F], F]:
    """Declare that parameter `param` of the decorated component must fit the parameters
    before it. `check` takes `param` and any earlier parameters, by name, and returns what
    is wrong (a message naming `param`) or None. The spec check runs it, so the error points
    at `param`; the component's body may rely on it."""

    def add(fn: F) -> F:
        setattr(fn, _RELATIONS, (*relations(fn), (param, check)))
        return fn

    return add


def relations(fn: Callable[..., Any]) -> tuple[tuple[str, Check], ...]:
    """The (parameter, check) pairs declared on `fn` with `relation`."""
    return getattr(fn, _RELATIONS, ())


def _run_relation(param: str, check: Check) -> Callable[[Any, Any, ValidationInfo], Any]:
    names = tuple(inspect.signature(check).parameters)

    def validate(cls: Any, value: Any, info: ValidationInfo) -> Any:
        given = {**info.data, param: value}
        if any(n not in given for n in names):  # an earlier parameter failed on its own
            return value
        problem = check(**{n: given[n] for n in names})
        if problem:
            raise PydanticCustomError("relation", "{problem}", {"problem": problem})
        return value

    return validate


def relation_validators(fn: Callable[..., Any]) -> dict[str, Any]:
    """Field validators running `fn`'s relations, for `create_model(__validators__=...)`."""
    return {
        f"relation_{i}_{param}": field_validator(param)(_run_relation(param, check))
        for i, (param, check) in enumerate(relations(fn))
    }


def params_model(
    fn: Callable[..., Any],
    model_name: str,
    substitute: Substitute = _identity,
    module: str | None = None,
) -> type[Strict]:
    """A frozen model whose fields are `fn`'s keyword parameters (type hints and defaults);
    forward references in its substituted hints resolve in `module` (default: this one)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    related = {param for param, _ in relations(fn)}
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = substitute(hints.get(p.name, Any))
        default = ... if p.default is inspect.Parameter.empty else p.default
        if p.name in related:  # its default is checked against the others too
            default = Field(default, validate_default=True)
        fields[p.name] = (ann, default)
    doc = (fn.__doc__ or "").strip().splitlines()
    model = create_model(
        model_name,
        __base__=Deferred,
        __module__=module or __name__,
        __validators__=relation_validators(fn),
        **fields,
    )
    model.__doc__ = doc[0] if doc else None
    return model


def _normalize(value: Any) -> Any:
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, dict) and len(value) == 1:
        ((k, v),) = value.items()
        if v is None:
            return {k: {}}
    return value


def tag_of(value: Any) -> str | None:
    """The single key of a one-key mapping (the component's name), else None."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    if isinstance(value, str):
        return value
    if isinstance(value, Strict):
        return next(iter(type(value).model_fields))
    return None


def tagged_union(
    registry: Registry[Any],
    family: str,
    substitute: Substitute = _identity,
    module: str | None = None,
) -> Any:
    """An annotated union over every entry of `registry`, written `{name: {params}}`.

    Its models are built lazily (`defer_build`), on the first validation that needs them,
    with forward references resolved in `module`.
    """
    members = []
    for name, fn in registry.items():
        params = params_model(fn, f"{family}.{name}", substitute, module)
        wrapper = create_model(
            f"{family}:{name}",
            __base__=Deferred,
            __module__=module or __name__,
            **{name: (params, Field(default_factory=params))},
        )
        wrapper.__doc__ = params.__doc__
        members.append(Annotated[wrapper, Tag(name)])
    disc = Discriminator(
        tag_of,
        custom_error_type="unknown_component",
        custom_error_message=f"unknown {family}",
    )
    FAMILY_NAMES[family] = tuple(n for n, _ in registry.items())
    union = Annotated[Union[tuple(members)], disc]  # noqa: UP007
    names = tuple(n for n, _ in registry.items())
    written = Union[Literal[names], union]  # noqa: UP007  (the bare name is allowed too)
    return Annotated[union, BeforeValidator(_normalize, json_schema_input_type=written)]


def unwrap(value: Strict) -> tuple[str, dict[str, Any]]:
    """(name, params) of a validated one-key component."""
    name = next(iter(type(value).model_fields))
    params = getattr(value, name)
    return name, {k: getattr(params, k) for k in type(params).model_fields}
