"""Compare candidates from what MLflow holds: never re-run training, never read its state.

`readback` reads a benchmark's runs; `board` makes the leaderboard whose columns are declared
once in `columns`; `headtohead` pairs candidates over seeds; `across_datasets` ranks them over
several benchmarks; `stats` holds the statistics; `tables`, `terminal` and `latex` write the
leaderboard as Markdown, CSV, JSON, rich tables and LaTeX.
"""

from __future__ import annotations

from suite.compare.across_datasets import Across, across
from suite.compare.board import COLUMNS, leaderboard, pareto, references
from suite.compare.headtohead import ALPHA, pairwise, robust
from suite.compare.latex import to_latex
from suite.compare.readback import (
    MixedResults,
    NotFound,
    Runs,
    read,
    seed_scores,
    sensitivity,
    tuning_curves,
)
from suite.compare.tables import display_rows, pareto_text, to_csv, to_json, to_markdown
from suite.compare.terminal import render, render_pareto

__all__ = [
    "ALPHA",
    "COLUMNS",
    "Across",
    "MixedResults",
    "NotFound",
    "Runs",
    "across",
    "display_rows",
    "leaderboard",
    "pairwise",
    "pareto",
    "pareto_text",
    "read",
    "references",
    "render",
    "render_pareto",
    "robust",
    "seed_scores",
    "sensitivity",
    "to_csv",
    "to_json",
    "to_latex",
    "to_markdown",
    "tuning_curves",
]
