"""The leaderboard and its head-to-head tables as text: Markdown, CSV and JSON, and the rows
the terminal, LaTeX and the report share. The leaderboard's columns come from
`suite.compare.columns`; numbers shown count trials from 1."""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Sequence
from typing import Any

from suite.compare import columns as cols
from suite.compare.columns import Column, cell, is_number, shown_number, test_text
from suite.track import HYPERPARAMETERS

BASELINES = "baseline:* = naive forecasts scored on the same val/test windows, nothing trained"


def _cell(value: Any, digits: int = 4) -> str:
    return cell(value, digits)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def display_rows(
    frame: Any, output: str = cols.MARKDOWN, columns: Sequence[Column] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and string cells of the leaderboard as `output` shows it."""
    return cols.rows(frame, cols.shown(frame, output, columns))


def legend(frame: Any, output: str, columns: Sequence[Column] | None = None) -> str:
    """What the shown columns' abbreviations and figures mean."""
    return cols.legend(frame, cols.shown(frame, output, columns))


def pairwise_rows(pairs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["a", "b", "n", "mean a-b", "t p (Holm)", "Wilcoxon p (Holm)", "verdict"]
    rows = [
        [
            str(p["a"]),
            str(p["b"]),
            str(p["n"]),
            _cell(p["mean_diff"]),
            f"{_cell(p['t_p'], 3)} ({_cell(p['t_p_holm'], 3)})",
            f"{_cell(p['wilcoxon_p'], 3)} ({_cell(p['wilcoxon_p_holm'], 3)})",
            str(p["verdict"]),
        ]
        for p in pairs
    ]
    return header, rows


def robust_rows(frame: Any) -> tuple[list[str], list[list[str]]]:
    header = ["candidate", "IQM [95 % bootstrap]", "P(better than the others) [95 %]"]
    poi = frame.attrs.get("improvement", [])
    order = {c: i for i, c in enumerate(frame["candidate"])} if "candidate" in frame else {}
    ranked = sorted(frame.attrs.get("iqm", []), key=lambda r: order.get(r["candidate"], len(order)))
    rows = []
    for r in ranked:
        mine = [p for p in poi if p["a"] == r["candidate"]]
        probs = "; ".join(
            f"vs {p['b']}: {_cell(p['poi'], 2)} [{_cell(p['low'], 2)}, {_cell(p['high'], 2)}]"
            for p in mine
        )
        iqm = f"{_cell(r['iqm'])} [{_cell(r['low'])}, {_cell(r['high'])}]"
        rows.append([str(r["candidate"]), iqm, probs or "-"])
    return header, rows


def reference_rows(frame: Any) -> tuple[list[str], list[list[str]]]:
    """Published figures for the dataset and metric, then this benchmark's own beside them,
    with the verdict of each candidate whose model names a published row."""
    header = ["model", frame.attrs.get("test_metric", "test"), "source", "note", "verdict"]
    rows = [
        [
            str(r["model"]),
            _cell(r["value"], 3) + (f" ± {_cell(r['std'], 3)}" if is_number(r["std"]) else ""),
            str(r["citation"]),
            str(r["note"]),
            "",
        ]
        for r in frame.attrs.get("references", [])
    ]
    said = {v["candidate"]: v for v in frame.attrs.get("reproduction", [])}
    if rows:
        rows += [
            [
                str(r["candidate"]),
                test_text(r),
                f"this suite: {frame.attrs.get('benchmark', '')}",
                "",
                _reproduced(said[r["candidate"]]) if r["candidate"] in said else "",
            ]
            for _, r in frame.iterrows()
            if is_number(r["test_mean"])
        ]
    return header, rows


def _reproduced(v: dict[str, Any]) -> str:
    word = "reproduced" if v["reproduced"] else "not reproduced"
    return f"{word}: {v['model']} {v['published']:.3f}, ours {v['difference']:+.3f}"


def reproduction_rows(frame: Any) -> tuple[list[str], list[list[str]]]:
    """One row per candidate whose model names a published row: that figure, ours, the
    difference and the verdict (within the row's tolerance or not)."""
    header = ["candidate", "reproduces", "published", "ours [95 % CI] (seeds)", "verdict"]
    rows = []
    for v in frame.attrs.get("reproduction", []):
        ours = _cell(v["ours"])
        if is_number(v.get("ci_low")) and is_number(v.get("ci_high")):
            ours += f" [{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
        if is_number(v.get("seeds")):
            ours += f" ({int(v['seeds'])})"
        rows.append(
            [
                str(v["candidate"]),
                str(v["model"]),
                f"{v['published']:.4f} ({v['citation'].split(',')[0]})",
                ours,
                str(v["verdict"]),
            ]
        )
    return header, rows


def tuning_lines(frame: Any) -> list[str]:
    """One line per candidate: where in its budget the best trial was found (counted from 1)."""
    out = []
    for t in frame.attrs.get("tuning", []):
        late = " (in the last quarter: more budget may help)" if t["late"] else ""
        out.append(
            f"{t['candidate']}: best at trial {t['best_trial']} of {t['trials']}, "
            f"after {t['epochs_at_best']:g} of {t['epochs']:g} epochs{late}"
        )
    return out


def budget_lines(frame: Any) -> list[str]:
    """One line per budget-limited candidate: its figures show the budget, not the model."""
    return [
        f"{b['note']}; its figures reflect the training budget, not its architecture"
        for b in frame.attrs.get("budget", [])
        if b.get("budget_limited")
    ]


def _numeric(cells: list[str]) -> bool:
    """Every cell that says something starts with a number."""
    said = [c for c in cells if c not in ("", "-")]
    return bool(said) and all(re.match(r"[-+]?\d", c) for c in said)


def _md(header: list[str], rows: list[list[str]], align: Sequence[str] = ()) -> list[str]:
    """A Markdown table; without `align`, columns of numbers are right-aligned."""
    if not align:
        align = ["right" if _numeric([r[i] for r in rows]) else "left" for i in range(len(header))]
    rule = {"right": "---:", "left": ":---"}
    marks = [rule.get(a, "---") for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]


def to_markdown(frame: Any, columns: Sequence[Column] | None = None) -> str:
    """The leaderboard (numbers right-aligned, then its legend), head-to-head tests, robust
    aggregates and published references."""
    shown = cols.shown(frame, cols.MARKDOWN, columns)
    lines = _md(*cols.rows(frame, shown), [c.align for c in shown])
    lines += ["", cols.legend(frame, shown) + "."]
    if frame.attrs.get("baselines"):
        lines += ["", BASELINES + "."]
    sections = [
        (
            "Head-to-head (paired by seed, Holm-corrected)",
            pairwise_rows(frame.attrs.get("pairwise", [])),
        ),
        ("Robust aggregates (rliable), by rank", robust_rows(frame)),
        ("Published results", reference_rows(frame)),
        ("Reproduction of published results", reproduction_rows(frame)),
    ]
    for title, (header, rows) in sections:
        if rows:
            lines += ["", f"**{title}**", "", *_md(header, rows)]
    tuning = tuning_lines(frame)
    if tuning:
        lines += ["", "**Tuning**", "", *(f"- {t}" for t in tuning)]
    limited = budget_lines(frame)
    if limited:
        lines += ["", "**Budget-limited candidates**", "", *(f"- {b}" for b in limited)]
    for w in frame.attrs.get("warnings", []):
        lines += ["", f"**WARNING**: {w}"]
    return "\n".join(lines) + "\n"


def clean(value: Any) -> Any:
    """`value` with NaN and infinities as None, so that it is strict JSON."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, numbers.Real) and not isinstance(value, bool | int):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


def data_frame(frame: Any, output: str, columns: Sequence[Column] | None = None) -> Any:
    """The leaderboard's fields that `output` (CSV or JSON) carries, derived ones included."""
    shown = cols.shown(frame, output, columns)
    names = list(dict.fromkeys(f for c in shown for f in c.fields()))
    return cols.derived(frame, shown).reindex(columns=names)


def to_json(frame: Any, columns: Sequence[Column] | None = None) -> str:
    """The leaderboard and its attributes as strict JSON (NaN and infinity as null)."""
    records = json.loads(data_frame(frame, cols.JSON, columns).to_json(orient="records"))
    doc = clean({**frame.attrs, "rows": records})
    return json.dumps(doc, indent=2, default=str, allow_nan=False) + "\n"


def to_csv(frame: Any, columns: Sequence[Column] | None = None) -> str:
    """The leaderboard's fields, one row per candidate; best params as JSON."""
    out = data_frame(frame, cols.CSV, columns)
    if "best_params" in out:
        out["best_params"] = out["best_params"].map(
            lambda d: json.dumps(d) if isinstance(d, dict) else ""
        )
    return out.to_csv(index=False)


def pareto_rows(front: Any) -> tuple[list[str], list[list[str]]]:
    names = [m for m, _ in front.attrs.get("objectives", [])]
    header = ["candidate", "trial", *(f"{m} ({d[:3]})" for m, d in front.attrs["objectives"])]
    k = len(names)
    rows = [
        [
            str(r.iloc[0]),
            str(shown_number(r.iloc[1])),
            *(_cell(_num(v)) for v in r.iloc[2 : 2 + k]),
            _cell(r.iloc[2 + k]),
        ]
        for _, r in front.iterrows()
    ]
    return [*header, HYPERPARAMETERS], rows


def pareto_text(front: Any, fmt: str) -> str:
    """The Pareto fronts as csv, markdown or json (trials counted from 1)."""
    if fmt in ("csv", "json"):
        out = front.copy()
        out["trial"] = [shown_number(t) for t in out["trial"]]
        if fmt == "json":
            records = json.loads(out.to_json(orient="records"))
            return json.dumps({**front.attrs, "rows": records}, indent=2) + "\n"
        out[HYPERPARAMETERS] = out[HYPERPARAMETERS].map(json.dumps)
        return out.to_csv(index=False)
    return "\n".join(_md(*pareto_rows(front))) + "\n"
