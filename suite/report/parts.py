"""What sections are made of: the registry of sections and the parts of a page."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from suite.registry import Registry
from suite.report.data import Bench
from suite.report.figures import palette

SECTIONS: Registry[Callable[..., Any]] = Registry("section")


@dataclass(frozen=True)
class Figure:
    key: str  # a file-safe name, unique in the report
    fig: Any  # a plotly figure
    benchmark: str | None = None
    candidate: str | None = None  # the candidate it belongs to (None: the whole benchmark)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Part:
    title: str
    note: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    svg: str | None = None


Build = Callable[[list[Bench]], list[Part]]


def title_of(title: str, bench: Bench, benches: Sequence[Bench]) -> str:
    return f"{bench.name}: {title}" if len(benches) > 1 else title


def num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def count(v: Any) -> str:
    return f"{int(v):,}" if isinstance(v, int | float) and not math.isnan(v) else "-"


def key(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))


def colours(benches: Sequence[Bench]) -> dict[str, str]:
    """One colour per candidate (baselines included) for every chart of the report."""
    return palette([str(c) for b in benches for c in b.board["candidate"]])


AXES = (
    "score axes span at least 5 points (10 % for losses) or the widest 95 % seed interval, "
    "so that differences within seed noise do not look like cliffs"
)
