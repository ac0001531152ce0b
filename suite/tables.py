"""The leaderboard and its head-to-head tables as text: rich, Markdown, CSV, JSON, LaTeX."""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

NOTE = (
    "best = validation (the search's selection); test = the best configuration re-trained on "
    "each seed, mean [95 % t interval]; c/p/f = completed/pruned/failed trials; epochs used and "
    "wall s = the budget consumed (all trials, all workers); latency = one batch of "
    "{batch} at inference, p50/p95"
)


def _cell(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return "never" if math.isinf(value) else f"{value:.{digits}f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    return str(value)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not math.isnan(v)


def _count(v: Any) -> str:
    return f"{int(v):,}" if _is_number(v) and not math.isinf(v) else "-"


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _test(r: Any) -> str:
    if not _is_number(r["test_mean"]):
        return "-"
    text = f"{r['test_mean']:.4f}"
    if _is_number(r.get("test_ci_low")):
        text += f" [{r['test_ci_low']:.4f}, {r['test_ci_high']:.4f}]"
    if _is_number(r["seeds"]):
        text += f" ({int(r['seeds'])})"
    return text


def _target(r: Any) -> str:
    e, s = r.get("epochs_to_target"), r.get("time_to_target_s")
    if not _is_number(e):
        return "-"
    if math.isinf(e):
        return "never"
    return f"{e:g} ep / {s:.1f} s"


def display_rows(frame: Any, wide: bool = True) -> tuple[list[str], list[list[str]]]:
    """Header and string cells for a human-readable table (best params only when wide)."""
    m, t = frame.attrs.get("metric", "val"), frame.attrs.get("test_metric", "test")
    target = frame.attrs.get("target")
    header = ["#", "candidate", "family", m.replace("_", " "), t.replace("_", " ") + " (n)"]
    header += ["params", "epochs", "train s", "samples/s", "latency ms"]
    if target is not None:
        header.append(f"to {m.replace('_', ' ')} {target:g}")
    header += ["c/p/f", "epochs used", "wall s", "verdict"]
    tokens = "tok_kind" in frame and frame["tok_kind"].notna().any()
    if tokens:
        header[3:3] = ["tokenizer", "vocab", "tok/ex (p95)", "unk val", "cut"]
    if wide:
        header.append("best params")
    rows = []
    for i, r in frame.iterrows():
        lat = "-"
        if _is_number(r.get("latency_p50_ms")):
            lat = f"{r['latency_p50_ms']:.1f}/{r['latency_p95_ms']:.1f}"
        row = [str(i + 1), str(r["candidate"]), _cell(r["family"]), _cell(r["best_val"])]
        row += [_test(r), _count(r["params"]), _count(r["epochs"]), _cell(r["train_time_s"], 1)]
        row += [_count(r.get("samples_per_s")), lat]
        if target is not None:
            row.append(_target(r))
        row += [
            "/".join(
                str(int(r[k])) if _is_number(r[k]) else "-"
                for k in ("trials_complete", "trials_pruned", "trials_failed")
            ),
            _count(r["epochs_total"]),
            _cell(r["wall_s"], 0),
            _cell(r.get("verdict")),
        ]
        if tokens:
            row[3:3] = [
                _cell(r["tok_kind"]),
                _count(r["tok_vocab_size"]),
                f"{_cell(r['tok_tokens_mean'], 1)} ({_cell(r['tok_tokens_p95'], 0)})",
                _cell(r["tok_val_unk_rate"], 3),
                _cell(r["tok_truncated"], 3),
            ]
        if wide:
            row.append(_cell(r["best_params"]))
        rows.append(row)
    return header, rows


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
    rows = []
    for r in frame.attrs.get("iqm", []):
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
            _cell(r["value"], 3) + (f" ± {_cell(r['std'], 3)}" if _is_number(r["std"]) else ""),
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
                _test(r),
                f"this suite: {frame.attrs.get('benchmark', '')}",
                "",
                _reproduced(said[r["candidate"]]) if r["candidate"] in said else "",
            ]
            for _, r in frame.iterrows()
            if _is_number(r["test_mean"])
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
        if _is_number(v.get("ci_low")) and _is_number(v.get("ci_high")):
            ours += f" [{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
        if _is_number(v.get("seeds")):
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
    """One line per candidate: where in its budget the best trial was found."""
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


def _md(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]


def to_markdown(frame: Any) -> str:
    """The leaderboard, head-to-head tests, robust aggregates and published references."""
    lines = _md(*display_rows(frame))
    sections = [
        (
            "Head-to-head (paired by seed, Holm-corrected)",
            pairwise_rows(frame.attrs.get("pairwise", [])),
        ),
        ("Robust aggregates (rliable)", robust_rows(frame)),
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


def to_json(frame: Any) -> str:
    """The leaderboard and its attributes as strict JSON (NaN and infinity as null)."""
    records = json.loads(frame.to_json(orient="records"))
    doc = clean({**frame.attrs, "rows": records})
    return json.dumps(doc, indent=2, default=str, allow_nan=False) + "\n"


def to_csv(frame: Any) -> str:
    out = frame.copy()
    out["best_params"] = out["best_params"].map(
        lambda d: json.dumps(d) if isinstance(d, dict) else ""
    )
    return out.to_csv(index=False)


def to_latex(frame: Any) -> str:
    """A LaTeX table (booktabs) for a paper: candidates, test mean [CI], parameters, time."""
    import pandas as pd

    header, rows = display_rows(frame, wide=False)
    keep = [h for h in header if h not in {"#", "c/p/f", "epochs used", "wall s"}]
    table = pd.DataFrame(rows, columns=header)[keep]
    caption = (
        f"{frame.attrs.get('benchmark', '')}: {frame.attrs.get('test_metric', '')} over seeds, "
        "mean [95\\% CI] (n seeds)"
    )
    text = table.to_latex(
        index=False, escape=True, caption=caption, label=f"tab:{frame.attrs.get('benchmark')}"
    )
    header, rows = reproduction_rows(frame)
    if rows:
        text += pd.DataFrame(rows, columns=header).to_latex(
            index=False,
            escape=True,
            caption=f"{frame.attrs.get('benchmark', '')}: reproduction of published results",
            label=f"tab:{frame.attrs.get('benchmark')}-reproduction",
        )
    return text


def _rich_table(
    title: str, header: list[str], rows: list[list[str]], keep: set[int] = frozenset({0})
) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for i, h in enumerate(header):
        width = max([len(r[i]) for r in rows] + [1]) if i in keep else None
        table.add_column(escape(h), overflow="fold", min_width=width)
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    return table


def render(frame: Any, console: Any) -> None:
    """Print the leaderboard and its head-to-head tables with rich."""
    from rich.markup import escape

    for w in frame.attrs.get("warnings", []):
        console.print(f"WARNING: {escape(w)}", style="bold red", highlight=False)
    header, rows = display_rows(frame, wide=False)
    budget = {"c/p/f", "epochs used", "wall s", "epochs"}  # a second table keeps both narrow
    title = (
        f"{frame.attrs.get('benchmark', '')} ({frame.attrs.get('dataset', '')}): ranked by best "
        f"{frame.attrs.get('metric')} ({frame.attrs.get('direction')})"
    )
    main = [i for i, h in enumerate(header) if h not in budget | {"family"}]
    verdict = main.pop(main.index(header.index("verdict")))
    main.insert(4, verdict)  # beside the test interval it qualifies
    pick = [header[i] for i in main], [[r[i] for i in main] for r in rows]
    console.print(_rich_table(title, *pick, keep={1, 3}))
    spent = [1, *(header.index(h) for h in ("c/p/f", "epochs used", "wall s", "epochs"))]
    head = [header[i] for i in spent[:-1]] + ["epochs of the best trial"]
    console.print(
        _rich_table("budget consumed", head, [[r[i] for i in spent] for r in rows], keep={0, 1})
    )
    for _, r in frame.iterrows():
        if isinstance(r["best_params"], dict) and r["best_params"]:
            console.print(
                f"  {escape(str(r['candidate']))}: {escape(_cell(r['best_params']))}",
                highlight=False,
            )
    batch = frame.attrs.get("latency_batch")
    batch = int(batch) if _is_number(batch) else 32
    console.print("  " + NOTE.format(batch=batch), style="dim")
    if frame.attrs.get("baselines"):
        console.print(
            "  baseline:* = naive forecasts scored on the same val/test windows, nothing trained",
            style="dim",
        )
    pairs = frame.attrs.get("pairwise", [])
    if pairs:
        console.print(_rich_table("head-to-head on test, paired by seed", *pairwise_rows(pairs)))
    robust = robust_rows(frame)
    if robust[1]:
        console.print(_rich_table("robust aggregates (rliable)", *robust))
    refs = reference_rows(frame)
    if refs[1]:
        console.print(_rich_table("published results on this dataset, and ours", *refs))
    again = reproduction_rows(frame)
    if again[1]:
        console.print(_rich_table("reproduction of published results", *again))
    for line in tuning_lines(frame):
        console.print(f"  {escape(line)}", highlight=False)
    for line in budget_lines(frame):
        console.print(f"  {escape(line)}", style="bold yellow", highlight=False)


def _pareto_rows(front: Any) -> tuple[list[str], list[list[str]]]:
    names = [m for m, _ in front.attrs.get("objectives", [])]
    header = ["candidate", "trial", *(f"{m} ({d[:3]})" for m, d in front.attrs["objectives"])]
    k = len(names)  # by position: an objective may be named `params` like the column after
    rows = [
        [
            str(r.iloc[0]),
            str(r.iloc[1]),
            *(_cell(_num(v)) for v in r.iloc[2 : 2 + k]),
            _cell(r.iloc[2 + k]),
        ]
        for _, r in front.iterrows()
    ]
    return [*header, "params"], rows


def pareto_text(front: Any, fmt: str) -> str:
    """The Pareto fronts as csv, markdown or json."""
    if fmt == "csv":
        out = front.copy()
        out["params"] = out["params"].map(json.dumps)
        return out.to_csv(index=False)
    if fmt == "json":
        records = json.loads(front.to_json(orient="records"))
        return json.dumps({**front.attrs, "rows": records}, indent=2) + "\n"
    return "\n".join(_md(*_pareto_rows(front))) + "\n"


def render_pareto(front: Any, console: Any) -> None:
    """Print each candidate's Pareto front as a rich table."""
    header, rows = _pareto_rows(front)
    console.print(_rich_table(f"{front.attrs.get('benchmark', '')}: Pareto fronts", header, rows))
    console.print(
        "  a trial is on its candidate's front when no other trial is at least as good on "
        "every objective and better on one (validation split)",
        style="dim",
    )
