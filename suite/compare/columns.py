"""The leaderboard's columns, each declared once.

A `Column` says what it reads from the leaderboard frame (`reads`; a `derive`d column computes
its own field from a row), its header, how a row's cell reads (`text`), its alignment, which
outputs show it (the terminal's main and budget tables, CSV, Markdown, LaTeX, JSON and the
HTML report) and how soon the terminal drops it when narrow (`priority`: 0 never, the
highest first). The leaderboard's fields, `suite compare`'s every format and the report's
leaderboard all read `TABLE`, so a column is added in one place.

Numbers shown to a person count trials and epochs from 1 (`shown_number`); stored run names,
Optuna trial numbers and MLflow steps keep counting from 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

TERMINAL, BUDGET, CSV, MARKDOWN, LATEX, JSON, REPORT = (
    "terminal",  # the main rich table
    "budget",  # the terminal's second table: the budget consumed
    "csv",
    "markdown",
    "latex",
    "json",
    "report",
)
OUTPUTS = (TERMINAL, BUDGET, CSV, MARKDOWN, LATEX, JSON, REPORT)
EVERY = frozenset({TERMINAL, CSV, MARKDOWN, LATEX, JSON, REPORT})
DATA = frozenset({CSV, JSON})  # machine-readable outputs: they carry a column's fields

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One leaderboard column; `header` may name {metric}, {test} and {target}."""

    name: str
    header: str
    reads: tuple[str, ...] = ()
    text: Callable[[Row], str] | None = None  # the cell; default: the field `name`, as is
    align: Literal["left", "right"] = "right"
    show: frozenset[str] = EVERY
    priority: int = 1
    when: Callable[[Any], bool] | None = None  # shown for this frame only when true
    better: Literal["metric", "higher", "lower"] | None = None  # LaTeX marks best, second
    derive: Callable[[Row], Any] | None = None  # a field named `name` computed from a row
    legend: str = ""  # a line of the table's legend; may name {batch}

    def fields(self) -> tuple[str, ...]:
        """The frame fields CSV and JSON carry for this column."""
        return (*self.reads, self.name) if self.derive else self.reads

    def cell(self, row: Row) -> str:
        return self.text(row) if self.text else cell(row.get(self.name))

    def title(self, attrs: Mapping[str, Any]) -> str:
        target = attrs.get("target")
        return self.header.format(
            metric=str(attrs.get("metric", "val")).replace("_", " "),
            test=str(attrs.get("test_metric", "test")).replace("_", " "),
            target=f"{target:g}" if is_number(target) else "",
        )

    def value(self, row: Row) -> float:
        """The number LaTeX ranks by: the derived value or the first field read."""
        v = self.derive(row) if self.derive else row.get(self.reads[0]) if self.reads else None
        return float(v) if is_number(v) and not math.isinf(float(v)) else math.nan


def is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)


def shown_number(stored: Any) -> int:
    """A trial or epoch as displayed (1 = the first) from its stored number or step (0 = first)."""
    return int(stored) + 1


def cell(value: Any, digits: int = 4) -> str:
    """A value as text: `-` for none, `never` for infinity, dicts as `k=v, ...`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return "never" if math.isinf(value) else f"{value:.{digits}f}"
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={f'{v:.3g}' if isinstance(v, float) else v}" for k, v in value.items()
        )
    return str(value)


def fixed(name: str, digits: int) -> Callable[[Row], str]:
    return lambda r: cell(r.get(name), digits)


def count(name: str) -> Callable[[Row], str]:
    """An integer with thousands separators."""

    def text(r: Row) -> str:
        v = r.get(name)
        return f"{int(v):,}" if is_number(v) and not math.isinf(v) else "-"

    return text


def test_text(r: Row) -> str:
    """The test mean over seeds with its interval and the number of seeds."""
    if not is_number(r.get("test_mean")):
        return "-"
    text = f"{r['test_mean']:.4f}"
    if is_number(r.get("test_ci_low")):
        text += f" [{r['test_ci_low']:.4f}, {r['test_ci_high']:.4f}]"
    if is_number(r.get("seeds")):
        text += f" ({int(r['seeds'])})"
    return text


def _latency(r: Row) -> str:
    if not is_number(r.get("latency_p50_ms")):
        return "-"
    return f"{r['latency_p50_ms']:.1f}/{r['latency_p95_ms']:.1f}"


def _target(r: Row) -> str:
    e, s = r.get("epochs_to_target"), r.get("time_to_target_s")
    if not is_number(e):
        return "-"
    return "never" if math.isinf(e) else f"{e:g} ep / {s:.1f} s"


def _cpf(r: Row) -> str:
    keys = ("trials_complete", "trials_pruned", "trials_failed")
    return "/".join(str(int(r[k])) if is_number(r.get(k)) else "-" for k in keys)


def _tokens(r: Row) -> str:
    return f"{cell(r.get('tok_tokens_mean'), 1)} ({cell(r.get('tok_tokens_p95'), 0)})"


def _flags(r: Row) -> str:
    limited = r.get("budget_limited")
    if limited is None or (isinstance(limited, float) and math.isnan(limited)):
        return "-"
    return f"{'yes' if limited else 'no'} ({cell(r.get('still_improving'), 2)})"


def _has_target(frame: Any) -> bool:
    return frame.attrs.get("target") is not None


def _has_tokens(frame: Any) -> bool:
    return "tok_kind" in frame and bool(frame["tok_kind"].notna().any())


TOKENS = frozenset({TERMINAL, CSV, MARKDOWN, LATEX, JSON})

TABLE: tuple[Column, ...] = (
    Column("#", "#", text=lambda r: str(r["rank"]), show=EVERY - DATA - {LATEX}, priority=0),
    Column(
        "candidate", "candidate", ("candidate",), align="left", show=EVERY | {BUDGET}, priority=0
    ),
    Column("family", "family", ("family",), align="left", show=EVERY - {TERMINAL}),
    Column("tok_kind", "tokenizer", ("tok_kind",), align="left", show=TOKENS, when=_has_tokens),
    Column(
        "tok_vocab_size",
        "vocab",
        ("tok_vocab_size",),
        count("tok_vocab_size"),
        show=TOKENS,
        priority=3,
        when=_has_tokens,
    ),
    Column(
        "tok_tokens",
        "tok/ex (p95)",
        ("tok_tokens_mean", "tok_tokens_p95"),
        _tokens,
        show=TOKENS,
        priority=3,
        when=_has_tokens,
        legend="tok/ex = tokens per example, mean (p95)",
    ),
    Column(
        "tok_val_unk_rate",
        "unk val",
        ("tok_val_unk_rate",),
        fixed("tok_val_unk_rate", 3),
        show=TOKENS,
        priority=4,
        when=_has_tokens,
        legend="unk val = unknown-token rate on the validation split",
    ),
    Column(
        "tok_truncated",
        "cut",
        ("tok_truncated",),
        fixed("tok_truncated", 3),
        show=TOKENS,
        priority=4,
        when=_has_tokens,
        legend="cut = share of examples truncated",
    ),
    Column(
        "best_val",
        "{metric}",
        ("best_val",),
        fixed("best_val", 4),
        better="metric",
        legend="{metric} = the best trial on validation (the search's selection)",
    ),
    Column(
        "test",
        "{test} [95 % CI] (n)",
        ("test_mean", "test_std", "test_ci_low", "test_ci_high", "seeds"),
        test_text,
        priority=0,
        better="metric",
        legend="{test} = the best configuration re-trained on each seed, mean [95 % t interval]"
        " (seeds)",
    ),
    Column("verdict", "verdict", ("verdict",), align="left", priority=0),
    Column("params", "params", ("params",), count("params"), priority=2, better="lower"),
    Column(
        "epochs",
        "epochs (best trial)",
        ("epochs",),
        count("epochs"),
        show=(EVERY | {BUDGET}) - {TERMINAL, REPORT},
        priority=3,
    ),
    Column(
        "train_time_s",
        "train s",
        ("train_time_s",),
        fixed("train_time_s", 1),
        priority=3,
        better="lower",
    ),
    Column(
        "samples_per_s",
        "samples/s",
        ("samples_per_s",),
        count("samples_per_s"),
        show=EVERY - {REPORT},
        priority=4,
        better="higher",
    ),
    Column(
        "latency",
        "latency ms",
        ("latency_p50_ms", "latency_p95_ms"),
        _latency,
        show=EVERY - {REPORT},
        priority=3,
        better="lower",
        legend="latency = one batch of {batch} at inference, p50/p95 ms",
    ),
    Column(
        "to_target",
        "to {metric} {target}",
        ("epochs_to_target", "time_to_target_s"),
        _target,
        show=EVERY - {REPORT},
        priority=2,
        when=_has_target,
        better="lower",
        legend="to target = epochs / seconds until validation first reached the target",
    ),
    Column(
        "trials",
        "c/p/f",
        ("trials_complete", "trials_pruned", "trials_failed"),
        _cpf,
        show=(EVERY | {BUDGET}) - {TERMINAL, LATEX, REPORT},
        legend="c/p/f = completed/pruned/failed trials",
    ),
    Column(
        "epochs_total",
        "epochs used",
        ("epochs_total",),
        count("epochs_total"),
        show=(EVERY | {BUDGET}) - {TERMINAL, LATEX, REPORT},
        priority=2,
        legend="epochs used and wall s = the budget consumed (all trials, all workers)",
    ),
    Column(
        "wall_s",
        "wall s",
        ("wall_s",),
        fixed("wall_s", 0),
        show=(EVERY | {BUDGET}) - {TERMINAL, LATEX, REPORT},
        priority=2,
    ),
    Column(
        "budget",
        "budget-limited (still improving)",
        ("still_improving", "budget_limited"),
        _flags,
        show=DATA,
    ),
    Column(
        "best_params",
        "best params",
        ("best_params",),
        align="left",
        show=frozenset({MARKDOWN, CSV, JSON}),
        priority=5,
    ),
)


def table(columns: Sequence[Column] | None = None) -> tuple[Column, ...]:
    """`columns`, or the leaderboard's own `TABLE` as this module holds it now."""
    return tuple(columns) if columns is not None else TABLE


def fields(columns: Sequence[Column] | None = None) -> list[str]:
    """The leaderboard frame's fields, in column order (each once)."""
    return list(dict.fromkeys(f for c in table(columns) for f in c.reads))


def shown(frame: Any, output: str, columns: Sequence[Column] | None = None) -> list[Column]:
    """The columns `output` shows for this leaderboard (CSV and JSON: every one they carry,
    so their schema does not depend on the benchmark)."""
    return [
        c
        for c in table(columns)
        if output in c.show and (output in DATA or c.when is None or c.when(frame))
    ]


def records(frame: Any) -> list[dict[str, Any]]:
    """The frame's rows as dicts, each with its 1-based `rank`."""
    return [{**r, "rank": i} for i, r in enumerate(frame.to_dict("records"), 1)]


def derived(frame: Any, columns: Sequence[Column] | None = None) -> Any:
    """A copy of `frame` with each derived column's field filled in."""
    out = frame.copy()
    rows = records(frame)
    for c in table(columns):
        if c.derive is not None and c.name not in out:
            out[c.name] = [c.derive(r) for r in rows]
    return out


def rows(frame: Any, cols: Iterable[Column]) -> tuple[list[str], list[list[str]]]:
    """Header and string cells of `cols` for the leaderboard `frame`."""
    cols = list(cols)
    header = [c.title(frame.attrs) for c in cols]
    return header, [[c.cell(r) for c in cols] for r in records(derived(frame, cols))]


def legend(frame: Any, cols: Iterable[Column]) -> str:
    """The legend lines of `cols`, joined."""
    batch = frame.attrs.get("latency_batch")
    names = {
        "metric": str(frame.attrs.get("metric", "val")).replace("_", " "),
        "test": str(frame.attrs.get("test_metric", "test")).replace("_", " "),
        "batch": int(batch) if is_number(batch) else 32,
    }
    return "; ".join(c.legend.format(**names) for c in cols if c.legend)


def ranks(frame: Any, col: Column) -> list[int | None]:
    """Each row's place on `col` (0 = best, 1 = second; None otherwise or without a number)."""
    if col.better is None:
        return [None] * len(frame)
    up = col.better == "higher" or (
        col.better == "metric" and frame.attrs.get("direction", "maximize") == "maximize"
    )
    values = [col.value(r) for r in records(derived(frame, [col]))]
    distinct = sorted({v for v in values if not math.isnan(v)}, reverse=up)[:2]
    return [distinct.index(v) if v in distinct else None for v in values]
