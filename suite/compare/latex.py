"""LaTeX tables for papers that compile with pdflatex as written.

Every caption, header and cell is escaped; numbers sit right-aligned in `r` columns; the
best value of each ranked column is bold and the second underlined; the tabular shrinks to
the line width when wider (`\\resizebox`, in a `table`, or a page-wide `table*`); the
packages it needs are named in a comment at the top.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from suite.compare import columns as cols
from suite.compare.columns import Column
from suite.compare.tables import reproduction_rows

PACKAGES = ("booktabs", "graphicx")  # \toprule and friends; \resizebox
ENVS = ("table", "table*")
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "[": "{[}",  # a row starting with [ would be read as \\'s optional argument
    "]": "{]}",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "×": r"$\times$",
}
WRAP = 28  # a left-aligned column with a longer cell becomes a paragraph column


def escape(text: str) -> str:
    """`text` with LaTeX's special characters written so that they print as themselves."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _label(name: str) -> str:
    return "tab:" + re.sub(r"[^A-Za-z0-9:._-]+", "-", name)


def tabular(
    header: list[str],
    rows: list[list[str]],
    align: Sequence[str],
    *,
    caption: str,
    label: str,
    env: Literal["table", "table*"] = "table",
    places: Sequence[Sequence[int | None]] = (),
) -> str:
    """One float: escaped `header` and `rows`, `align` per column (right: `r`), the cells
    whose place (per column, per row) is 0 in bold and 1 underlined."""
    if env not in ENVS:
        raise ValueError(f"LaTeX environment {env!r}: expected one of {', '.join(ENVS)}")
    spec = []
    for i, a in enumerate(align):
        if a == "right":
            spec.append("r")
        elif any(len(r[i]) > WRAP for r in rows):
            spec.append(r"p{12em}")
        else:
            spec.append("l")
    marks = {0: r"\textbf{%s}", 1: r"\underline{%s}"}
    body = []
    for j, row in enumerate(rows):
        out = []
        for i, c in enumerate(row):
            place = places[i][j] if i < len(places) else None
            out.append(marks[place] % escape(c) if place in marks else escape(c))
        body.append(" & ".join(out) + r" \\")
    return "\n".join(
        [
            rf"\begin{{{env}}}[htbp]",
            r"\centering",
            rf"\caption{{{escape(caption)}}}",
            rf"\label{{{_label(label)}}}",
            r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
            rf"\begin{{tabular}}{{{''.join(spec)}}}",
            r"\toprule",
            " & ".join(escape(h) for h in header) + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}%",
            "}",
            rf"\end{{{env}}}",
            "",
        ]
    )


def preamble(what: str) -> str:
    """The comment that opens every LaTeX output: what it is and the packages it needs."""
    needs = " ".join(rf"\usepackage{{{p}}}" for p in PACKAGES)
    return f"% {what} (suite compare --format latex)\n% Needs in the preamble: {needs}\n"


def to_latex(
    frame: Any,
    columns: Sequence[Column] | None = None,
    env: Literal["table", "table*"] = "table",
) -> str:
    """The leaderboard for a paper, and the reproduction of published results when any;
    `env="table*"` spans both columns of a two-column paper."""
    name = str(frame.attrs.get("benchmark", ""))
    shown = cols.shown(frame, cols.LATEX, columns)
    header, rows = cols.rows(frame, shown)
    caption = (
        f"{name}, ranked by the best trial on validation; the best of each column in bold, "
        f"the second underlined. {cols.legend(frame, shown)}."
    )
    text = preamble(f"{name}: leaderboard")
    text += tabular(
        header,
        rows,
        [c.align for c in shown],
        caption=caption,
        label=name,
        env=env,
        places=[cols.ranks(frame, c) for c in shown],
    )
    header, rows = reproduction_rows(frame)
    if rows:
        text += tabular(
            header,
            rows,
            ["left"] * len(header),
            caption=f"{name}: reproduction of published results",
            label=f"{name}-reproduction",
            env=env,
        )
    return text
