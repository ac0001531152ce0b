"""Sections that say what the terminal says beside the leaderboard: the published results
with our reproduction verdicts, each candidate's best hyperparameters, and the budget it
consumed with its speed (training throughput, inference latency)."""

from __future__ import annotations

import math
from typing import Any

from suite.report.data import Bench
from suite.report.parts import SECTIONS, Build, Part, Table, count, num, title_of


def _test(r: dict[str, Any]) -> str:
    """'0.8944 [0.8705, 0.9183] (3 seeds)', or '-' without seed runs."""
    text = num(r.get("test_mean"))
    if text == "-":
        return text
    low, high = r.get("test_ci_low"), r.get("test_ci_high")
    if isinstance(low, float) and not math.isnan(low):
        text += f" [{num(low)}, {num(high)}]"
    return text + f" ({count(r.get('seeds'))} seeds)"


@SECTIONS.register("published")
def published(title: str = "Published results") -> Build:
    """Published figures for the benchmark's dataset and test metric (suite/references.csv)
    beside ours, and whether each candidate linked to one reproduced it."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            board = b.board
            dataset = board.attrs.get("dataset", "?")
            refs = board.attrs.get("references", [])
            said = {v["candidate"]: v for v in board.attrs.get("reproduction", [])}
            tables = []
            if refs:
                header = ["model", b.test_metric, "source", "protocol and note"]
                rows = [
                    [
                        str(r["model"]),
                        num(r["value"], 3) + (f" ± {num(r['std'], 3)}" if _real(r["std"]) else ""),
                        str(r["citation"]),
                        _protocol(r),
                    ]
                    for r in refs
                ]
                tables.append(Table(header, rows, f"published on {dataset}"))
            rows = []
            for r in board.to_dict("records"):
                v = said.get(r["candidate"])
                verdict = (
                    f"{v['verdict']} against {v['model']} {v['published']:.3f}"
                    if v
                    else "no published figure linked"
                )
                rows.append([str(r["candidate"]), _test(r), verdict])
            tables.append(
                Table(
                    ["candidate", f"ours: {b.test_metric} mean [95 % CI]", "reproduced?"],
                    rows,
                    "a candidate is linked to a published row by its model spec's "
                    "`reference.published`; reproduced = within the row's tolerance",
                )
            )
            note = (
                ""
                if refs
                else f"no published figure for {dataset} and {b.test_metric} in "
                "suite/references.csv"
            )
            parts.append(Part(title_of(title, b, benches), note, tables=tables))
        return parts

    return build


def _real(v: Any) -> bool:
    return isinstance(v, int | float) and not math.isnan(v)


def _protocol(r: dict[str, Any]) -> str:
    said = [f"{k} {r[k]}" for k in ("epochs", "batch_size", "optimizer", "split") if _given(r[k])]
    note = str(r["note"]) if _given(r.get("note")) else ""
    return "; ".join([*said, note] if note else said) or "-"


def _given(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v != ""


@SECTIONS.register("best_params")
def best_params(title: str = "Best hyperparameters") -> Build:
    """Each candidate's best trial: its searched values and its validation score."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            board = b.board
            tuning = {t["candidate"]: t for t in board.attrs.get("tuning", [])}
            rows = []
            for r in board.to_dict("records"):
                params = r.get("best_params")
                values = params if isinstance(params, dict) else {}
                t = tuning.get(r["candidate"], {})
                found = f"trial {t['best_trial']} of {t['trials']}" if t else "-"
                shown = "; ".join(f"{k} = {_value(v)}" for k, v in values.items()) or "-"
                rows.append([str(r["candidate"]), num(r.get("best_val")), found, shown])
            header = ["candidate", f"best {b.metric}", "found at", "searched values"]
            caption = "the configuration the seed runs re-trained (Optuna's trial numbers)"
            parts.append(Part(title_of(title, b, benches), tables=[Table(header, rows, caption)]))
        return parts

    return build


def _value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@SECTIONS.register("costs")
def costs(title: str = "Budget and speed") -> Build:
    """The budget each candidate consumed (trials completed/pruned/failed, epochs, wall
    time), its size, training throughput and inference latency."""

    def build(benches: list[Bench]) -> list[Part]:
        parts = []
        for b in benches:
            board = b.board
            batch = board.attrs.get("latency_batch")
            per = f"batch of {int(batch)}" if _real(batch) else "one batch"
            header = ["candidate", "trials c/p/f", "epochs used", "wall s", "budget-limited"]
            header += ["params", "train s", "train samples/s", f"latency p50/p95 ms ({per})"]
            rows = []
            for r in board.to_dict("records"):
                trials = "/".join(count(r.get(f"trials_{s}")) for s in ("complete", "pruned"))
                trials += "/" + count(r.get("trials_failed"))
                limited = r.get("budget_limited")
                rows.append(
                    [
                        str(r["candidate"]),
                        trials,
                        count(r.get("epochs_total")),
                        num(r.get("wall_s"), 1),
                        "-" if limited is None else ("yes" if limited is True else "no"),
                        count(r.get("params")),
                        num(r.get("train_time_s"), 1),
                        count(r.get("samples_per_s")),
                        f"{num(r.get('latency_p50_ms'), 2)} / {num(r.get('latency_p95_ms'), 2)}",
                    ]
                )
            caption = (
                "budget: completed/pruned/failed trials, epochs of every trial, wall time of "
                "all workers; params and train s: the best trial; throughput and latency: "
                "median over the best configuration's seed runs"
            )
            lines = [
                f"{t['candidate']}: best at trial {t['best_trial']} of {t['trials']}, after "
                f"{t['epochs_at_best']:g} of {t['epochs']:g} epochs"
                + (" (in the last quarter: more budget may help)" if t["late"] else "")
                for t in board.attrs.get("tuning", [])
            ]
            note = "; ".join(lines)
            parts.append(
                Part(title_of(title, b, benches), note, tables=[Table(header, rows, caption)])
            )
        return parts

    return build
