"""Plotly figures of a report: each titled, each axis labelled with its unit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

UNITLESS = {"accuracy", "auc", "precision", "recall", "f1", "iou", "mean_iou"}


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
    return isinstance(v, int | float) and not math.isnan(float(v))


def leaderboard(board: Any, test_metric: str, metric: str) -> Any:
    """Each candidate's test mean over seeds with its 95 % interval, and its best validation."""
    import plotly.graph_objects as go

    rows = board[board["family"] != "baseline"].iloc[::-1]
    fig = go.Figure()
    has_ci = "test_ci_low" in rows
    if rows["test_mean"].map(_ok).any():
        low = rows["test_ci_low"] if has_ci else rows["test_mean"] - rows["test_std"]
        high = rows["test_ci_high"] if has_ci else rows["test_mean"] + rows["test_std"]
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
                },
                marker={"size": 11},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=rows["best_val"],
            y=rows["candidate"],
            mode="markers",
            name=f"best trial, {label(metric)}",
            marker={"symbol": "diamond-open", "size": 11},
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
    return fig


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


def pareto(trials: Any, x: str, x_title: str, metric: str, higher_better: bool, log_x: bool) -> Any:
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
                text=[f"{cand} trial {t}" for t in rows["trial"]],
                hovertemplate="%{text}<br>x=%{x}<br>y=%{y:.4f}<extra></extra>",
                marker={"size": 9, "opacity": 0.75},
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
    return fig


def learning_curves(curves: dict[str, list[tuple[int, float, float, float]]], metric: str) -> Any:
    """Per candidate: the metric per epoch, mean over seed runs, band from min to max."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for cand, points in curves.items():
        epochs = [p[0] + 1 for p in points]
        fig.add_trace(
            go.Scatter(
                x=epochs + epochs[::-1],
                y=[p[3] for p in points] + [p[2] for p in points][::-1],
                fill="toself",
                opacity=0.2,
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                legendgroup=cand,
                name=f"{cand} range",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=[p[1] for p in points],
                mode="lines+markers",
                name=cand,
                legendgroup=cand,
            )
        )
    fig = _layout(
        fig, f"Learning curves: {label(metric).split(' (')[0]} per epoch", "epoch", label(metric)
    )
    fig.update_xaxes(dtick=1 if max((len(p) for p in curves.values()), default=0) <= 20 else None)
    return fig


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


def tuning_curves(frame: Any, metric: str) -> Any:
    """Best-so-far validation score against trials, per candidate."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for cand, rows in frame.groupby("candidate", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["trial"] + 1, y=rows["best_so_far"], mode="lines+markers", name=str(cand)
            )
        )
    fig = _layout(
        fig, "Tuning curves: best validation score so far", "trials (count)", label(metric)
    )
    fig.update_traces(line_shape="hv")
    fig.update_xaxes(dtick=1 if len(frame) and frame["trial"].max() < 20 else None)
    return fig


def sensitivity(rows: Any, param: str, candidate: str, metric: str) -> Any:
    """A candidate's trials: validation score against one hyperparameter's value."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Scatter(
            x=rows["value"],
            y=rows["objective"],
            mode="markers",
            text=[f"trial {t}" for t in rows["trial"]],
            marker={"size": 10},
            name=candidate,
        )
    )
    values = [v for v in rows["value"] if isinstance(v, int | float) and not isinstance(v, bool)]
    log = len(values) == len(rows) and min(values) > 0 and max(values) / min(values) >= 10
    short = param.rsplit(".", 1)[-1].replace("_", " ")
    unit = ", log scale" if log else ""
    fig = _layout(
        fig, f"{candidate}: sensitivity to {short}", f"{param} (value{unit})", label(metric)
    )
    if log:
        fig.update_xaxes(type="log")
    fig.update_layout(showlegend=False)
    return fig


def profile(frame: Any) -> Any:
    """Performance profile: the share of datasets each candidate reaches the target on
    within tau times the fastest candidate's time (AlgoPerf)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for cand, rows in frame.groupby("candidate", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["tau"], y=rows["fraction"], mode="lines", name=str(cand), line_shape="hv"
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


def titled(
    fig: Any, title: str, x: str | None = None, y: str | None = None, dtick: int | None = None
) -> Any:
    """An Optuna figure with our title and axis units."""
    fig.update_layout(title={"text": title}, template="plotly_white", height=400)
    if dtick:
        fig.update_xaxes(dtick=dtick)
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig
