"""The leaderboard's outputs on the shared tiny benchmark: one column table read by every
format, terminal tables that never crop, LaTeX that compiles, Markdown with its legend, and
trials and epochs counted from 1 wherever they are shown."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import TinyStore

from suite.compare import columns as cols
from suite.compare.latex import escape

pytestmark = pytest.mark.slow

BOX_LEFT, BOX_RIGHT = "┏┃┡│└", "┓┃┩│┘"


@pytest.fixture
def board(tiny: TinyStore) -> Any:
    from suite.compare import leaderboard

    return leaderboard(tiny.name, tiny.tracking_uri)


def _wide(board: Any) -> Any:
    """The tiny leaderboard as a text benchmark with a target shows: more columns."""
    frame = board.copy()
    frame["tok_kind"] = "wordpiece_with_a_long_name"
    frame["tok_vocab_size"] = 8000.0
    frame["tok_tokens_mean"], frame["tok_tokens_p95"] = 41.5, 87.0
    frame["tok_val_unk_rate"], frame["tok_truncated"] = 0.0123, 0.05
    frame["epochs_to_target"], frame["time_to_target_s"] = 2.0, 3.25
    frame.attrs["target"] = 0.5
    return frame


def _printed(frame: Any, width: int) -> str:
    from rich.console import Console

    from suite.compare import render

    out = io.StringIO()
    render(frame, Console(file=out, width=width, color_system=None, legacy_windows=False))
    return out.getvalue()


def test_a_column_added_to_the_table_shows_in_every_output(
    tiny: TinyStore, board: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from suite.compare import to_csv, to_json, to_latex, to_markdown
    from suite.report.data import Bench
    from suite.report.parts import SECTIONS
    from suite.report.sections import leaderboard as registered  # noqa: F401

    extra = cols.Column(
        "ci_width",
        "CI width",
        ("test_ci_low", "test_ci_high"),
        derive=lambda r: r["test_ci_high"] - r["test_ci_low"],
        better="lower",
        legend="CI width = high - low",
    )
    monkeypatch.setattr(cols, "TABLE", (*cols.TABLE, extra))
    widths = [r["test_ci_high"] - r["test_ci_low"] for r in board.to_dict("records")]
    texts = [f"{w:.4f}" for w in widths]

    csv = pd.read_csv(io.StringIO(to_csv(board)))
    assert csv["ci_width"].tolist() == pytest.approx(widths)
    doc = json.loads(to_json(board))
    assert [r["ci_width"] for r in doc["rows"]] == pytest.approx(widths)
    md = to_markdown(board)
    assert "| CI width |" in md and all(f"| {t} |" in md for t in texts)
    assert "CI width = high - low" in md
    latex = to_latex(board)
    assert "CI width" in latex and all(t in latex for t in texts)
    printed = _printed(board, 200)
    assert "CI width" in printed and all(t in printed for t in texts)
    part = SECTIONS.get("leaderboard")(pairwise=False, robust=False)(
        [Bench(tiny.name, tiny.tracking_uri)]
    )
    header, rows = part[0].tables[0].header, part[0].tables[0].rows
    at = header.index("CI width")
    assert [r[at] for r in rows] == texts


def test_the_frame_fields_are_what_the_columns_read(board: Any) -> None:
    from suite.compare import COLUMNS

    assert list(board.columns) == COLUMNS == cols.fields()
    assert len(set(COLUMNS)) == len(COLUMNS)
    for c in cols.TABLE:  # a column shown to people has a header; CSV carries its fields
        assert set(c.show) <= set(cols.OUTPUTS) and (c.header or not c.show - cols.DATA)
    csv = pd.read_csv(io.StringIO(__import__("suite.compare", fromlist=["to_csv"]).to_csv(board)))
    assert list(csv.columns) == COLUMNS  # every field, whatever the benchmark


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_terminal_leaderboard_never_crops(board: Any, width: int) -> None:
    from rich.cells import cell_len
    from rich.console import Console

    from suite.compare.terminal import fitted

    frame = _wide(board)
    text = _printed(frame, width)
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    for line in lines:  # every table line keeps its right border
        if line[:1] in BOX_LEFT:
            assert line.rstrip()[-1] in BOX_RIGHT, line
    console = Console(file=io.StringIO(), width=width)
    main = cols.shown(frame, cols.TERMINAL)
    _, dropped = fitted(console, "", frame, main)
    kept = [c for c in main if c not in dropped]
    flat = " ".join(text.split())
    for c in kept:  # no word of a shown cell is broken across lines
        for r in cols.records(frame):
            for word in c.cell(r).split():
                assert word in text, (c.name, word)
    if dropped:
        note = next(line for line in lines if "left out at" in line)
        assert all(c.title(frame.attrs) in flat for c in dropped), note
        assert all(c.priority > 0 for c in dropped)
        top = max(c.priority for c in kept if c.priority > 0) if kept else 0
        assert min(c.priority for c in dropped) >= top  # the least important go first
    if width == 200:
        assert not dropped
    if width == 80:
        assert dropped  # 15 columns do not fit in 80 without breaking words


def test_piped_output_honours_columns(tiny: TinyStore) -> None:
    from click.testing import CliRunner

    from suite.cli import main

    for width in (80, 120):
        out = CliRunner().invoke(
            main,
            ["compare", tiny.name, "--tracking-uri", tiny.tracking_uri],
            env={"COLUMNS": str(width)},
        )
        assert out.exit_code == 0, out.output
        assert max(len(line) for line in out.output.splitlines()) <= width
        assert "cnn" in out.output and "mlp" in out.output


def test_markdown_right_aligns_numbers_and_carries_the_legend(board: Any) -> None:
    from suite.compare import to_markdown

    md = to_markdown(_wide(board))
    header, rule = md.splitlines()[:2]
    names = [h.strip() for h in header.strip("|").split("|")]
    marks = [m.strip() for m in rule.strip("|").split("|")]
    assert len(names) == len(marks)
    assert marks[names.index("candidate")] == ":---"
    for numeric in ("params", "train s", "latency ms", "val accuracy"):
        assert marks[names.index(numeric)] == "---:"
    assert "c/p/f = completed/pruned/failed trials" in md
    assert "p50/p95" in md and "tok/ex = tokens per example" in md


def _compile(tmp_path: Path, body: str, documentclass: str = "{article}") -> str:
    pdflatex = shutil.which("pdflatex")
    head = body.split("\\begin{", 1)[0]
    packages = re.findall(r"\\usepackage\{[^}]+\}", head)  # as the comment says
    assert {"\\usepackage{booktabs}", "\\usepackage{graphicx}"} <= set(packages)
    doc = "\n".join(
        [
            f"\\documentclass{documentclass}",
            *packages,
            "\\begin{document}",
            body,
            "\\end{document}",
        ]
    )
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    run = subprocess.run(
        [str(pdflatex), "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "t.log").read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0
    return log


def test_latex_marks_the_best_and_is_escaped(board: Any) -> None:
    from suite.compare import to_latex

    frame = board.copy()
    frame.loc[0, "candidate"] = "cnn_gru & 50% {x}"
    frame.attrs["benchmark"] = "sst2_tokenizers"
    text = to_latex(frame)
    assert text.startswith("% ") and "\\usepackage{booktabs}" in text.splitlines()[1]
    assert r"cnn\_gru \& 50\% \{x\}" in text and r"\caption{sst2\_tokenizers," in text
    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", text).group(1)
    assert "r" in spec and spec.startswith("l")
    params = frame["params"].astype(float)
    best = f"{int(params.min()):,}"
    assert rf"\textbf{{{best}}}" in text  # fewer parameters are better
    if params.nunique() > 1:
        assert rf"\underline{{{int(params.max()):,}}}" in text
    assert escape("a_b [c] ±") == r"a\_b {[}c{]} $\pm$"


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed")
@pytest.mark.parametrize("env", ["table", "table*"])
def test_latex_compiles_with_pdflatex(tiny: TinyStore, tmp_path: Path, env: str) -> None:
    from click.testing import CliRunner

    from suite.cli import main

    args = ["compare", tiny.name, "--tracking-uri", tiny.tracking_uri, "--format", "latex"]
    out = CliRunner().invoke(main, [*args, "--latex-float", env])
    assert out.exit_code == 0, out.output
    assert f"\\begin{{{env}}}" in out.output
    log = _compile(tmp_path, out.output, "{article}" if env == "table" else "[twocolumn]{article}")
    assert "Overfull \\hbox" not in log  # it fits the line


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed")
def test_wide_latex_with_awkward_names_compiles(board: Any, tmp_path: Path) -> None:
    from suite.compare import to_latex

    frame = _wide(board)
    frame.loc[0, "candidate"] = "[cnn_gru] & 50% #1 ~x^2 \\ {y}"
    frame.attrs["benchmark"] = "sst2_tokenizers #2"
    log = _compile(tmp_path, to_latex(frame))
    assert "Overfull \\hbox" not in log


def test_trials_and_epochs_are_counted_from_one(tiny: TinyStore, board: Any) -> None:
    from suite.compare import read, tuning_curves
    from suite.compare.tables import tuning_lines
    from suite.export import table

    curves = tuning_curves(read(tiny.name, tiny.tracking_uri))
    assert sorted(curves["trial"].unique()) == [0, 1]  # stored: Optuna's numbers
    for t in board.attrs["tuning"]:
        mine = curves[curves["candidate"] == t["candidate"]]
        best = mine[mine["best_so_far"] == mine["best_so_far"].iloc[-1]]["trial"].iloc[0]
        assert t["best_trial"] == best + 1 and 1 <= t["best_trial"] <= t["trials"] == 2
    lines = tuning_lines(board)
    assert lines and all(re.search(r"best at trial [12] of 2,", line) for line in lines)
    runs = table(tiny.name, tiny.tracking_uri, tiny.storage)
    trials = runs[runs["kind"] == "trial"]
    assert sorted(trials["trial"].unique()) == [1, 2]
    assert all(
        n.endswith(f"trial-{t - 1}")
        for n, t in zip(trials["run_name"], trials["trial"], strict=True)
    )  # run names keep the stored number
    assert (runs["best_epoch"].dropna().between(1, 2)).all()
    per_epoch = table(tiny.name, tiny.tracking_uri, tiny.storage, curves=True)
    assert sorted(per_epoch["epoch"].unique()) == [1, 2]


def test_robust_aggregates_follow_the_ranking(board: Any) -> None:
    from suite.compare.tables import robust_rows

    assert [r["candidate"] for r in board.attrs["iqm"]] == list(board["candidate"])
    flipped = board.iloc[::-1].reset_index(drop=True)
    flipped.attrs = board.attrs
    assert [r[0] for r in robust_rows(flipped)[1]] == list(flipped["candidate"])
    assert not math.isnan(board.attrs["iqm"][0]["iqm"])
