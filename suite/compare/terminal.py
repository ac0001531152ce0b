"""The leaderboard in the terminal (rich): tables that fit the console's width.

No cell is cropped: a column's cells wrap between words and fold long words, and when even
the longest word of every column cannot fit, the columns of the highest `priority` (see
`suite.compare.columns`) are left out and a note names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suite.compare import columns as cols
from suite.compare.columns import Column, cell
from suite.compare.tables import (
    BASELINES,
    budget_lines,
    pairwise_rows,
    pareto_rows,
    reference_rows,
    reproduction_rows,
    robust_rows,
    tuning_lines,
)


def rich_table(
    title: str,
    header: list[str],
    rows: list[list[str]],
    align: Sequence[str] = (),
    width: int | None = None,
) -> Any:
    """A rich table whose columns share `width` (when given) so that no word is broken."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for i, h in enumerate(header):
        justify = align[i] if i < len(align) else "left"
        table.add_column(escape(h), overflow="fold", justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    if width is not None:
        widths = _widths(header, rows, width - _overhead(len(header)))
        if widths:
            for column, w in zip(table.columns, widths, strict=True):
                column.width = w
    return table


def _words(header: list[str], rows: list[list[str]]) -> tuple[list[int], list[int]]:
    """Per column: its longest word and its longest line (the narrowest and widest it needs)."""
    from rich.cells import cell_len

    texts = [[h, *(r[i] for r in rows)] for i, h in enumerate(header)]
    least = [max([cell_len(w) for t in col for w in t.split()] or [1]) for col in texts]
    most = [max(cell_len(line) for t in col for line in t.splitlines() or [""]) for col in texts]
    return least, [max(a, b) for a, b in zip(least, most, strict=True)]


def _overhead(columns: int) -> int:
    """The borders and padding of a table of `columns` columns, as `rich_table` draws it."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    probe = Table()
    for _ in range(columns):
        probe.add_column("x")
    console = Console(width=100_000)
    return Measurement.get(console, console.options, probe).minimum - columns


def _widths(header: list[str], rows: list[list[str]], room: int) -> list[int] | None:
    """Each column's width: its longest word, and of the room left the share it can use
    (wider columns fill first); None when even the longest words do not fit."""
    least, most = _words(header, rows)
    spare = room - sum(least)
    if spare < 0:
        return None
    widths = list(least)
    for _ in range(spare):  # one character at a time to the column that lacks the most
        lack = [m - w for m, w in zip(most, widths, strict=True)]
        i = max(range(len(lack)), key=lambda k: lack[k])
        if lack[i] <= 0:
            break
        widths[i] += 1
    return widths


def fitted(console: Any, title: str, frame: Any, shown: list[Column]) -> tuple[Any, list[Column]]:
    """The leaderboard's table of `shown` columns, and those left out so that every word of
    a cell fits at the console's width (highest priority first, rightmost first)."""
    shown, dropped = list(shown), []
    while True:
        header, rows = cols.rows(frame, shown)
        table = rich_table(title, header, rows, [c.align for c in shown], console.width)
        droppable = [c for c in shown if c.priority > 0]
        fits = all(c.width is not None for c in table.columns)
        if fits or not droppable:
            return table, dropped
        worst = max(reversed(droppable), key=lambda c: c.priority)
        shown.remove(worst)
        dropped.append(worst)


def _print_fitted(console: Any, title: str, frame: Any, shown: list[Column]) -> None:
    from rich.markup import escape

    table, dropped = fitted(console, title, frame, shown)
    console.print(table)
    if dropped:
        names = ", ".join(c.title(frame.attrs) for c in shown if c in dropped)
        console.print(
            f"  left out at {console.width} columns: {escape(names)} (a wider terminal, "
            "COLUMNS=..., or --format markdown shows them)",
            style="dim",
            highlight=False,
        )


def render(frame: Any, console: Any, columns: Sequence[Column] | None = None) -> None:
    """Print the leaderboard and its head-to-head tables with rich, fitted to the console."""
    from rich.markup import escape

    for w in frame.attrs.get("warnings", []):
        console.print(f"WARNING: {escape(w)}", style="bold red", highlight=False)
    title = (
        f"{frame.attrs.get('benchmark', '')} ({frame.attrs.get('dataset', '')}): ranked by best "
        f"{frame.attrs.get('metric')} ({frame.attrs.get('direction')})"
    )
    main = cols.shown(frame, cols.TERMINAL, columns)
    _print_fitted(console, title, frame, main)
    spent = cols.shown(frame, cols.BUDGET, columns)
    if len(spent) > 1:
        _print_fitted(console, "budget consumed", frame, spent)
    for _, r in frame.iterrows():
        if isinstance(r.get("best_params"), dict) and r["best_params"]:
            console.print(
                f"  {escape(str(r['candidate']))}: {escape(cell(r['best_params']))}",
                highlight=False,
            )
    note = cols.legend(frame, [*main, *(c for c in spent if c not in main)])
    console.print("  " + escape(note), style="dim", highlight=False)
    if frame.attrs.get("baselines"):
        console.print("  " + BASELINES, style="dim", highlight=False)
    pairs = frame.attrs.get("pairwise", [])
    if pairs:
        console.print(
            rich_table(
                "head-to-head on test, paired by seed", *pairwise_rows(pairs), width=console.width
            )
        )
    robust = robust_rows(frame)
    if robust[1]:
        console.print(
            rich_table("robust aggregates (rliable), by rank", *robust, width=console.width)
        )
    refs = reference_rows(frame)
    if refs[1]:
        console.print(
            rich_table("published results on this dataset, and ours", *refs, width=console.width)
        )
    again = reproduction_rows(frame)
    if again[1]:
        console.print(rich_table("reproduction of published results", *again, width=console.width))
    for line in tuning_lines(frame):
        console.print(f"  {escape(line)}", highlight=False)
    for line in budget_lines(frame):
        console.print(f"  {escape(line)}", style="bold yellow", highlight=False)


def render_pareto(front: Any, console: Any) -> None:
    """Print each candidate's Pareto front as a rich table (trials counted from 1)."""
    header, rows = pareto_rows(front)
    title = f"{front.attrs.get('benchmark', '')}: Pareto fronts"
    console.print(rich_table(title, header, rows, width=console.width))
    console.print(
        "  a trial is on its candidate's front when no other trial is at least as good on "
        "every objective and better on one (validation split)",
        style="dim",
    )
