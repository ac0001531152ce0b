"""Plotly figures of a report: each titled, each axis labelled with its unit."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from suite.compare.columns import shown_number

UNITLESS = {"accuracy", "auc", "precision", "recall", "f1", "iou", "mean_iou"}
# One colour per candidate in every chart: Tableau 10, then Plotly's Dark24 for more.
# fmt: off
PALETTE = (
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
    "#9C755F", "#BAB0AC",
)
MORE = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE",
    "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038",
)
# fmt: on
# A score axis spans at least this much (fraction metrics: 5 points), so that a 0.6-point
# difference is not drawn as a cliff; losses and errors: this share of their magnitude.
FRACTION_SPAN = 0.05
RELATIVE_SPAN = 0.10


def palette(candidates: Sequence[str]) -> dict[str, str]:
    """A colour per candidate, keyed by name: the names sorted, so the same candidates get
    the same colours in every chart and every report that shows them."""
    colours = PALETTE + MORE
    names = sorted(dict.fromkeys(str(c) for c in candidates))
    return {c: colours[i % len(colours)] for i, c in enumerate(names)}


def rgba(colour: str, alpha: float) -> str:
    """'#4E79A7', 0.2 -> 'rgba(78,121,167,0.2)': a band in its line's colour."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _base(metric: str) -> str:
    return metric.split("_", 1)[1] if metric.startswith(("val_", "test_")) else metric


def _fraction(metric: str) -> bool:
    base = _base(metric)
    return base in UNITLESS or base.startswith("iou")


def steady(fig: Any, values: Any, metric: str, least: float = 0.0, axis: str = "y") -> Any:
    """Widen a score axis to at least `least` (e.g. the widest seed interval) and a floor:
    5 points for fractions, 10 % of the magnitude for losses and errors; never beyond [0, 1]
    for fractions. An axis the data already spans more widely is left alone."""
    vals = [float(v) for v in values if _ok(v) and math.isfinite(float(v))]
    if not vals:
        return fig
    lo, hi = min(vals), max(vals)
    mid = (lo + hi) / 2
    floor = FRACTION_SPAN if _fraction(metric) else RELATIVE_SPAN * abs(mid)
    need = max(floor, least if _ok(least) else 0.0)
    if hi - lo >= need or need <= 0:
        return fig
    lo, hi = mid - need / 2, mid + need / 2
    if _fraction(metric):
        lo, hi = (0.0, need) if lo < 0 else (1.0 - need, 1.0) if hi > 1 else (lo, hi)
    pad = 0.06 * need
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(range=[lo - pad, hi + pad])
    return fig


def label(metric: str) -> str:
    """'val_accuracy' -> 'validation accuracy (fraction)'; losses and errors say their units."""
    split, _, base = (
        metric.partition("_") if metric.startswith(("val_", "test_")) else ("", "", metric)
    )
    split = {"val": "validation", "test": "test"}.get(split, split)
    if base in UNITLESS or base.startswith("iou"):
        unit = "fraction, higher is better"
    elif base == "loss":
        unit = "lower is better"
    elif base in ("mae", "rmse"):
        unit = "target units, lower is better"
    elif base == "mape":
        unit = "%, lower is better"
    else:
        unit = ""
    text = f"{split} {base.replace('_', ' ')}".strip()
    return f"{text} ({unit})" if unit else text


def _layout(fig: Any, title: str, x: str, y: str, height: int = 420) -> Any:
    fig.update_layout(
        title={"text": title},
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 30, "t": 60, "b": 60},
        legend_title_text="candidate",
    )
    return fig


def _ok(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(float(v))


def _colour(colors: dict[str, str], name: Any) -> str:
    return colors.get(str(name), "#555555")


def leaderboard(
    board: Any, test_metric: str, metric: str, colors: dict[str, str], least: float = 0.0
) -> Any:
    """Each candidate's test mean over seeds with its 95 % interval, and its best validation."""
    import plotly.graph_objects as go

    rows = board[board["family"] != "baseline"].iloc[::-1]
    fig = go.Figure()
    has_ci = "test_ci_low" in rows
    marks = [_colour(colors, c) for c in rows["candidate"]]
    shown = list(rows["best_val"])
    if rows["test_mean"].map(_ok).any():
        low = rows["test_ci_low"] if has_ci else rows["test_mean"] - rows["test_std"]
        high = rows["test_ci_high"] if has_ci else rows["test_mean"] + rows["test_std"]
        shown += list(low) + list(high) + list(rows["test_mean"])
        fig.add_trace(
            go.Scatter(
                x=rows["test_mean"],
                y=rows["candidate"],
                mode="markers",
                name=f"{label(test_metric)}: mean, {'95 % CI' if has_ci else '± 1 sd'}",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (high - rows["test_mean"]).fillna(0),
                    "arrayminus": (rows["test_mean"] - low).fillna(0),
                    "color": "#52606d",
                },
                marker={"size": 12, "color": marks},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=rows["best_val"],
            y=rows["candidate"],
            mode="markers",
            name=f"best trial, {label(metric)}",
            marker={"symbol": "diamond-open", "size": 12, "color": marks, "line": {"width": 2}},
        )
    )
    fig = _layout(
        fig,
        "Leaderboard: test score over seeds (95 % confidence interval) and best validation score",
        label(test_metric),
        "candidate",
        height=max(260, 70 * len(rows) + 140),
    )
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, legend_title_text="")
    return steady(fig, shown, test_metric, least, axis="x")


def front(xs: Sequence[float], ys: Sequence[float], higher_better: bool) -> list[int]:
    """Indices of the points no other point beats on both axes (x lower, y better), by x."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], -ys[i] if higher_better else ys[i]))
    out: list[int] = []
    best = -math.inf if higher_better else math.inf
    for i in order:
        if (ys[i] > best) if higher_better else (ys[i] < best):
            out.append(i)
            best = ys[i]
    return out


def pareto(
    trials: Any,
    x: str,
    x_title: str,
    metric: str,
    higher_better: bool,
    log_x: bool,
    colors: dict[str, str],
    least: float = 0.0,
) -> Any:
    """Every completed trial's validation score against a cost, the Pareto front marked."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for cand, rows in trials.groupby("candidate", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["x"],
                y=rows["y"],
                mode="markers",
                name=str(cand),
                text=[f"{cand} trial {shown_number(t)}" for t in rows["trial"]],
                hovertemplate="%{text}<br>x=%{x}<br>y=%{y:.4f}<extra></extra>",
                marker={"size": 9, "opacity": 0.8, "color": _colour(colors, cand)},
            )
        )
    idx = front(list(trials["x"]), list(trials["y"]), higher_better)
    on = trials.iloc[idx]
    fig.add_trace(
        go.Scatter(
            x=on["x"],
            y=on["y"],
            mode="lines+markers",
            name="Pareto front",
            line={"shape": "hv", "dash": "dash", "color": "black"},
            marker={"symbol": "circle-open", "size": 14, "color": "black"},
            hoverinfo="skip",
        )
    )
    what = x_title.split(" (")[0]
    fig = _layout(fig, f"{label(metric).split(' (')[0]} against {what}", x_title, label(metric))
    if log_x:
        fig.update_xaxes(type="log")
    return steady(fig, trials["y"], metric, least)


Curve = list[tuple[int, float, float, float]]  # (step, mean, min, max) over runs


def learning_curves(
    curves: dict[str, dict[str, Curve]],
    metric: str,
    colors: dict[str, str],
    least: float = 0.0,
) -> Any:
    """Per candidate, in its colour: the validation metric per epoch (solid, mean over seed
    runs, band from min to max) and the same metric on the training data (dotted)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    train_key, val_key = pair(metric)
    values: list[float] = []
    for cand, by_split in curves.items():
        colour = _colour(colors, cand)
        for key, dash in ((val_key, "solid"), (train_key, "dot")):
            points = by_split.get(key)
            if not points:
                continue
            split = "validation" if key == val_key else "training"
            epochs = [p[0] + 1 for p in points]
            values += [p[1] for p in points]
            if key == val_key and len(points) and any(p[2] != p[3] for p in points):
                fig.add_trace(
                    go.Scatter(
                        x=epochs + epochs[::-1],
                        y=[p[3] for p in points] + [p[2] for p in points][::-1],
                        fill="toself",
                        fillcolor=rgba(colour, 0.18),
                        line={"width": 0, "color": colour},
                        showlegend=False,
                        hoverinfo="skip",
                        legendgroup=cand,
                        name=f"{cand} {split} range",
                    )
                )
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[p[1] for p in points],
                    mode="lines+markers",
                    name=f"{cand} ({split})",
                    legendgroup=cand,
                    line={"color": colour, "dash": dash},
                    marker={"color": colour, "symbol": "circle" if dash == "solid" else "x"},
                )
            )
    what = label(val_key).split(" (")[0].replace("validation ", "")
    fig = _layout(
        fig,
        f"{what} per epoch: validation (solid), training (dotted)",
        "epoch",
        label(val_key).replace("validation ", ""),
    )
    longest = max((len(p) for c in curves.values() for p in c.values()), default=0)
    fig.update_xaxes(dtick=1 if longest <= 20 else None)
    return steady(fig, values, val_key, least)


def pair(metric: str) -> tuple[str, str]:
    """The training and validation names of a metric: 'val_loss' -> ('loss', 'val_loss')."""
    base = metric.removeprefix("val_")
    return base, f"val_{base}"


def tokenizers(frame: Any, metric: str) -> Any:
    """The metric of each run by tokenizer, one box per model."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for fam, rows in frame.groupby("family", sort=False):
        fig.add_trace(
            go.Box(x=rows["tokenizer"], y=rows["value"], name=str(fam), boxpoints="all", jitter=0.3)
        )
    fig = _layout(
        fig, f"Tokenizers compared: {label(metric).split(' (')[0]}", "tokenizer", label(metric)
    )
    fig.update_layout(boxmode="group", legend_title_text="model family")
    return fig


def tuning_curves(frame: Any, metric: str, colors: dict[str, str], least: float = 0.0) -> Any:
    """Best-so-far validation score against trials, per candidate."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for cand, rows in frame.groupby("candidate", sort=False):
        colour = _colour(colors, cand)
        fig.add_trace(
            go.Scatter(
                x=rows["trial"] + 1,
                y=rows["best_so_far"],
                mode="lines+markers",
                name=str(cand),
                line={"color": colour},
                marker={"color": colour},
            )
        )
    fig = _layout(
        fig, "Tuning curves: best validation score so far", "trials (count)", label(metric)
    )
    fig.update_traces(line_shape="hv")
    fig.update_xaxes(dtick=1 if len(frame) and frame["trial"].max() < 20 else None)
    return steady(fig, frame["best_so_far"], metric, least)


STATES = {"COMPLETE": ("circle", "completed"), "PRUNED": ("x-thin-open", "pruned")}


def history(
    trials: Any, candidate: str, metric: str, higher_better: bool, colour: str, least: float = 0.0
) -> Any:
    """A candidate's trials in order: completed ones at their value, pruned ones (crosses) at
    the best value they reached before they were stopped, and the best so far (line)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for state, (symbol, word) in STATES.items():
        rows = trials[trials["state"] == state]
        if len(rows):
            fig.add_trace(
                go.Scatter(
                    x=rows["trial"] + 1,
                    y=rows["value"],
                    mode="markers",
                    name=f"{word} trial ({len(rows)})",
                    marker={
                        "symbol": symbol,
                        "size": 10,
                        "color": colour,
                        "line": {"width": 2, "color": colour},
                    },
                )
            )
    done = trials["value"].where(trials["state"] == "COMPLETE")
    best = (done.cummax() if higher_better else done.cummin()).ffill()
    fig.add_trace(
        go.Scatter(
            x=trials["trial"] + 1,
            y=best,
            mode="lines",
            name="best so far",
            line={"shape": "hv", "color": colour, "width": 1.5, "dash": "dash"},
        )
    )
    fig = _layout(fig, f"{candidate}: optimisation history", "trial (1 = the first)", label(metric))
    fig.update_layout(legend_title_text="")
    if len(trials) <= 20:
        fig.update_xaxes(dtick=1)
    return steady(fig, trials["value"], metric, least)


def trial_curves(
    curves: list[tuple[int, str, list[tuple[int, float]]]],
    candidate: str,
    metric: str,
    colour: str,
    least: float = 0.0,
) -> Any:
    """Every trial's validation metric per epoch (what the pruner watched when it watches
    it): completed trials solid, pruned ones dotted, ending at the epoch they were stopped."""
    import plotly.graph_objects as go

    fig = go.Figure()
    values: list[float] = []
    for number, state, points in curves:
        pruned = state == "PRUNED"
        values += [v for _, v in points]
        fig.add_trace(
            go.Scatter(
                x=[s + 1 for s, _ in points],
                y=[v for _, v in points],
                mode="lines+markers",
                name=f"trial {shown_number(number)}{' (pruned)' if pruned else ''}",
                line={"color": colour, "dash": "dot" if pruned else "solid", "width": 1.5},
                marker={"color": colour, "symbol": "x" if pruned else "circle", "size": 6},
                opacity=0.55 if pruned else 0.9,
            )
        )
    fig = _layout(
        fig,
        f"{candidate}: every trial per epoch (pruned dotted)",
        "epoch",
        label(metric),
    )
    fig.update_layout(legend_title_text="trial", showlegend=len(curves) <= 12)
    longest = max((len(points) for _, _, points in curves), default=0)
    fig.update_xaxes(dtick=1 if longest <= 20 else None)
    return steady(fig, values, metric, least)


def importances(values: dict[str, float], candidate: str, method: str, colour: str) -> Any:
    """A candidate's hyperparameter importances, most important on top."""
    import plotly.graph_objects as go

    names = list(values)[::-1]
    fig = go.Figure(
        go.Bar(
            x=[values[n] for n in names],
            y=names,
            orientation="h",
            marker={"color": colour},
            name=candidate,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig = _layout(
        fig,
        f"{candidate}: hyperparameter importances ({method})",
        "importance (fraction of the variance of the score)",
        "hyperparameter",
        height=max(300, 40 * len(names) + 160),
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_layout(showlegend=False)
    return fig


def sensitivity(
    rows: Any, param: str, candidate: str, metric: str, colour: str, least: float = 0.0
) -> Any:
    """A candidate's trials: validation score against one hyperparameter's value; pruned
    trials as crosses at the best value they reached before they were stopped."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for state, (symbol, word) in STATES.items():
        sub = rows[rows["state"] == state]
        if len(sub):
            fig.add_trace(
                go.Scatter(
                    x=sub["value"],
                    y=sub["objective"],
                    mode="markers",
                    text=[f"trial {shown_number(t)}" for t in sub["trial"]],
                    marker={
                        "size": 10,
                        "symbol": symbol,
                        "color": colour,
                        "line": {"width": 2, "color": colour},
                    },
                    name=f"{word} trial",
                )
            )
    values = [v for v in rows["value"] if _ok(v)]
    log = len(values) == len(rows) and min(values) > 0 and max(values) / min(values) >= 10
    short = param.rsplit(".", 1)[-1].replace("_", " ")
    unit = ", log scale" if log else ""
    fig = _layout(
        fig, f"{candidate}: sensitivity to {short}", f"{param} (value{unit})", label(metric)
    )
    if log:
        fig.update_xaxes(type="log")
    fig.update_layout(legend_title_text="")
    return steady(fig, rows["objective"], metric, least)


def profile(frame: Any, colors: dict[str, str]) -> Any:
    """Performance profile: the share of datasets each candidate reaches the target on
    within tau times the fastest candidate's time (AlgoPerf)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for cand, rows in frame.groupby("candidate", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["tau"],
                y=rows["fraction"],
                mode="lines",
                name=str(cand),
                line_shape="hv",
                line={"color": _colour(colors, cand)},
            )
        )
    fig = _layout(
        fig,
        "Performance profiles of time to the target",
        "tau (time / fastest candidate's time, ratio)",
        "datasets reached within tau (fraction)",
    )
    fig.update_yaxes(range=[0, 1.05])
    return fig


def confusion(doc: dict[str, Any], candidate: str, runs: int) -> Any:
    """Test confusion matrix summed over seed runs; colour = share of the true class."""
    import plotly.graph_objects as go

    matrix = doc["matrix"]
    labels = [str(c) for c in doc["labels"]]
    shares = [[v / max(sum(row), 1) for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=labels,
            y=labels,
            text=matrix,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "share of true class"}},
            hovertemplate="true %{y}, predicted %{x}: %{text} examples<extra></extra>",
        )
    )
    seeds = f"{runs} seed run{'s' * (runs != 1)} summed"
    fig = _layout(
        fig,
        f"{candidate}: test confusion matrix ({seeds})",
        "predicted class",
        "true class (counts in cells)",
        height=max(380, 30 * len(labels) + 160),
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig
