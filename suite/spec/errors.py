"""User errors in specs: where (file, line, path) and what (expected versus received)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.spec.space import format_path

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a spec."""

    loc: Loc
    message: str
    file: Path | None = None
    line: int | None = None  # 1-based
    col: int | None = None  # 1-based

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}:{self.col or 1}"
            where += ": "
        path = format_path(self.loc)
        return f"{where}{path + ': ' if path else ''}{self.message}"


class SpecError(Exception):
    """A spec that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the spec:"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


# Errors whose message is enough; any other kind is named in front of its message.
_PLAIN = (ValueError, TypeError, KeyError, OSError)


def _named(message: str, params: Iterable[str]) -> str | None:
    """The one parameter of `params` that `message` names (`param=` first), else None."""
    for pattern in (r"\b{}=", r"\b{}\b"):
        found = {p for p in params if re.search(pattern.format(re.escape(p)), message)}
        if len(found) == 1:
            return found.pop()
    return None


@contextmanager
def reported_at(loc: Loc, params: Iterable[str] = ()) -> Iterator[None]:
    """Report an error raised inside as a spec problem at `loc` (e.g. ("data",)): at the
    parameter among `params` its message names, or at an error's own `loc` under `loc` (a
    BuildError's layer). For what goes wrong before training starts (loading the data,
    building a model): the user sees where and what, not a traceback. A SpecError passes."""
    try:
        yield
    except SpecError:
        raise
    except Exception as e:
        text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        if not isinstance(e, _PLAIN) and not type(e).__module__.startswith("suite."):
            text = f"{type(e).__name__}: {text}"
        inner = getattr(e, "loc", None)
        if isinstance(inner, tuple) and inner:
            where: Loc = (*loc, *inner)
            text = str(getattr(e, "detail", None) or text)
        else:
            param = _named(text, params)
            where = (*loc, param) if param else loc
        raise SpecError([Problem(where, text)]) from e


def doc_loc(data: Any, loc: Loc) -> Loc:
    """Drop the parts of a validation loc that are not in the document (union tags)."""
    if data is None or not loc:
        return loc
    node, out = data, []
    for part in loc[:-1]:
        in_map = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            node = node[part]
            out.append(part)
    return (*out, loc[-1])


def _received(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(err: dict[str, Any]) -> tuple[Loc, str]:
    """Turn one pydantic error into (loc, 'expected ..., received ...')."""
    loc: Loc = tuple(err["loc"])
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "unknown_key":
        return (*loc, ctx["field"]), err["msg"]
    if kind == "unknown_component":
        from suite.spec.signature import FAMILY_NAMES

        family = str(err["msg"]).removeprefix("unknown ")
        if family not in FAMILY_NAMES:  # raised by a field validator with its own message
            return loc, err["msg"]
        names = ", ".join(FAMILY_NAMES[family])
        if isinstance(value, dict) and len(value) != 1:
            keys = ", ".join(map(str, value)) or "none"
            return loc, (
                f"expected exactly one {family} name as the key, like "
                f"{{{names.split(', ')[0]}: {{...}}}}; received keys: {keys}"
            )
        if not isinstance(value, dict | str):
            return (
                loc,
                f"expected a {family} name or {{name: {{options}}}}, received {_received(value)}",
            )
        name = value if isinstance(value, str) else next(iter(value))
        near = difflib.get_close_matches(str(name), names.split(", "), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        return loc, f"unknown {family} {name!r}.{hint} Expected one of: {names}"
    if kind == "union_tag_invalid":
        tags = [t.strip("'") for t in ctx["expected_tags"].split(", ")]
        near = difflib.get_close_matches(str(ctx["tag"]), tags, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        what = ctx["discriminator"].strip("'")
        return (*loc, what), (
            f"unknown {what} {ctx['tag']!r}.{hint} Expected one of: {', '.join(tags)}"
        )
    if kind == "union_tag_not_found":
        return loc, f"missing the key {ctx['discriminator']}"
    if kind == "missing":
        return loc, "required, but missing"
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(", ")]
        near = difflib.get_close_matches(str(value), options, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        return loc, f"expected {expected}, received {_received(value)}.{hint}"
    msg = str(err["msg"])
    for prefix in ("Input should be ", "Value error, "):
        if msg.startswith(prefix):
            msg = ("expected " if prefix.startswith("Input") else "") + msg[len(prefix) :]
    if (
        kind.endswith("_type")
        or kind.endswith("_parsing")
        or kind.startswith(("greater", "less", "too_", "string_"))
    ):
        msg += f", received {_received(value)}"
    return loc, msg
