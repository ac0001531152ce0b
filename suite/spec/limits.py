"""Limits on spec input, checked before anything is built from a file: its size, and, from
the parser's event stream (which never expands aliases), its nesting depth, its aliases and
the nodes it would hold once every alias is expanded.

Each limit is an environment variable; a refusal is a spec error that names the file, the
limit and how to raise it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.spec.errors import Problem, SpecError


@dataclass(frozen=True)
class Limit:
    """One limit: its environment variable, default and what it counts."""

    env: str
    default: int
    what: str

    def value(self) -> int:
        """The limit in force: the environment's value when it is a positive integer."""
        raw = os.environ.get(self.env, "").strip().replace("_", "")
        try:
            n = int(raw)
        except ValueError:
            return self.default
        return n if n > 0 else self.default

    def refuse(
        self, path: Path, found: str, line: int | None = None, col: int | None = None
    ) -> SpecError:
        """The spec error for a file past this limit."""
        limit = self.value()
        return SpecError(
            [
                Problem(
                    (),
                    f"{found}; a spec may hold at most {limit:,} {self.what} (a guard "
                    f"against hostile input: to raise the limit, set {self.env}, e.g. "
                    f"{self.env}={limit * 10})",
                    file=path,
                    line=line,
                    col=col,
                )
            ]
        )


MAX_BYTES = Limit("SUITE_SPEC_MAX_BYTES", 1_000_000, "bytes")
MAX_DEPTH = Limit("SUITE_SPEC_MAX_DEPTH", 64, "levels of nesting")
MAX_ALIASES = Limit("SUITE_SPEC_MAX_ALIASES", 1_000, "aliases (*name)")
MAX_NODES = Limit("SUITE_SPEC_MAX_NODES", 100_000, "values (aliases expanded)")
LIMITS = (MAX_BYTES, MAX_DEPTH, MAX_ALIASES, MAX_NODES)


def read_text(path: Path) -> str:
    """The file's text, refused past MAX_BYTES before more than the limit is read (a pipe or
    device that never ends included)."""
    limit = MAX_BYTES.value()
    with path.open("rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        try:
            found = f"the file holds {path.stat().st_size:,} bytes"
        except OSError:
            found = f"the file holds more than {limit:,} bytes"
        raise MAX_BYTES.refuse(path, found)
    return raw.decode("utf-8")


def _where(event: Any) -> tuple[int | None, int | None]:
    mark = getattr(event, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def check_events(path: Path, events: Any) -> int:
    """Walk a YAML event stream and refuse it past MAX_DEPTH, MAX_ALIASES or MAX_NODES (the
    values it holds once aliases are expanded), or for an alias inside its own anchor.
    Returns the number of values. Stops at the first limit crossed, so a refusal is fast."""
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    max_depth, max_aliases, max_nodes = MAX_DEPTH.value(), MAX_ALIASES.value(), MAX_NODES.value()
    open_: list[list[Any]] = []  # [expanded size, anchor] of each open collection
    sizes: dict[str, int] = {}  # expanded size of each finished anchored node
    total = aliases = 0

    def add(n: int, event: Any) -> None:
        nonlocal total
        total += n
        if open_:
            open_[-1][0] += n
        if total > max_nodes:
            raise MAX_NODES.refuse(
                path, f"{total:,} values or more once aliases are expanded", *_where(event)
            )

    for event in events:
        if isinstance(event, ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            add(1, event)
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > max_aliases:
                raise MAX_ALIASES.refuse(path, f"more than {max_aliases:,} aliases", *_where(event))
            if any(anchor == event.anchor for _, anchor in open_):
                line, col = _where(event)
                raise SpecError(
                    [
                        Problem(
                            (),
                            f"the alias *{event.anchor} stands inside its own anchor "
                            f"&{event.anchor}: a recursive structure, which a spec cannot hold",
                            file=path,
                            line=line,
                            col=col,
                        )
                    ]
                )
            add(sizes.get(event.anchor, 1), event)
        elif isinstance(event, CollectionStartEvent):
            if len(open_) + 1 > max_depth:
                raise MAX_DEPTH.refuse(
                    path, f"nested more than {max_depth} levels deep", *_where(event)
                )
            add(1, event)
            open_.append([1, event.anchor])
        elif isinstance(event, CollectionEndEvent) and open_:
            size, anchor = open_.pop()
            if anchor:
                sizes[anchor] = size
    return total


def check_total(path: Path, total: int) -> None:
    """Refuse a spec whose files (itself and those it extends) hold more than MAX_NODES."""
    if total > MAX_NODES.value():
        raise MAX_NODES.refuse(path, f"with the files it extends, the spec holds {total:,} values")


def check_data(path: Path, data: Any) -> int:
    """Refuse plain data (parsed JSON) past MAX_DEPTH or MAX_NODES; the number of values."""
    max_depth, max_nodes = MAX_DEPTH.value(), MAX_NODES.value()
    total, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        total += 1
        if total > max_nodes:
            raise MAX_NODES.refuse(path, f"{total:,} values or more")
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise MAX_DEPTH.refuse(path, f"nested more than {max_depth} levels deep")
        total += len(node) if isinstance(node, dict) else 0  # the keys
        stack.extend((c, depth + 1) for c in (node.values() if isinstance(node, dict) else node))
    return total
