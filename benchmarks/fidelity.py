"""Fidelity: run the reference set (specs/reference/) and set each result beside the published
figure it reproduces (suite/references.csv), with the verdict of `suite.references`.

    python benchmarks/fidelity.py                      # every row, cheapest first
    python benchmarks/fidelity.py --row ucr_gunpoint_fcn --row mnist1d_cnn
    python benchmarks/fidelity.py --results out/ --table-only   # the table of rows run so far

Each row runs in its own process (a fresh TensorFlow; one row's memory never weighs on the
next) through the suite's Python API, into `--results` (default: a temporary directory, kept
and printed so the runs can be opened with `suite compare` / `suite ui`). Every finished row
appends one JSON line to `fidelity.jsonl` there; the Markdown table is written from that file
(`fidelity.md`), so rows may be run one at a time on a busy machine. MR is scored by k-fold
cross-validation: `--folds k` runs the first k of its 10 folds (one seed each) and pools them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, env_with_root, machine, quiet

SPECS = ROOT / "specs" / "reference"
# Cheapest first (measured on 2 cores): the UCR rows, MNIST-1D, then the text and image sets.
ROWS = [
    "ucr_italypower_fcn",
    "ucr_italypower_resnet",
    "mnist1d_cnn",
    "ucr_gunpoint_fcn",
    "mnist1d_gru",
    "ucr_gunpoint_resnet",
    "kim_sst2",
    "kim_mr",
    "fashion_mnist_cnn2",
]
FOLDED = {"kim_mr"}  # scored by cross-validation over the dataset's folds


def row_link(bench: Any) -> tuple[str, str, str]:
    """(dataset label, test metric, published model) of a reference spec's one candidate."""
    from suite.compare.readback import dataset_label

    models = bench.candidate_models()
    if len(models) != 1:
        raise ValueError(f"{bench.name}: a reference spec has one candidate, not {len(models)}")
    (model,) = models.values()
    published = model.reference.published if model.reference else None
    if not published:
        raise ValueError(f"{bench.name}: its model names no published row (reference.published)")
    label = dataset_label(bench.data.model_dump(mode="json"))
    return label, "test_" + bench.search.metric.removeprefix("val_"), published


def _run_one(name: str, results: Path, overrides: list[str]) -> dict[str, Any]:
    """Train one reference spec (with overrides) and read its seed scores back from MLflow."""
    from suite import runner
    from suite.compare import leaderboard
    from suite.compare.readback import best_seed_runs, read
    from suite.spec.load import load

    quiet()
    bench = load(SPECS / f"{name}.yaml", overrides)
    uri = f"sqlite:///{results / 'mlflow.db'}"
    t = time.perf_counter()
    runner.run(bench, storage=f"sqlite:///{results / 'optuna.db'}", tracking_uri=uri)
    wall = time.perf_counter() - t
    board = leaderboard(bench.name, uri)
    runs = read(bench.name, uri)
    (cand,) = runs.candidates()
    seeds = best_seed_runs(runs, cand)
    col = f"metrics.{runs.test_metric}"
    scores = [float(v) for v in seeds[col].dropna()] if col in seeds else []
    epochs = (
        [float(v) for v in seeds["metrics.epochs"].dropna()] if "metrics.epochs" in seeds else []
    )
    return {
        "benchmark": bench.name,
        "scores": scores,
        "epochs": epochs,
        "epochs_max": bench.train.epochs,
        "wall_s": wall,
        "reproduction": board.attrs.get("reproduction", []),
    }


def run_row(name: str, results: Path, folds: int, seeds: int | None) -> dict[str, Any]:
    """One row: its spec (or, cross-validated, its first `folds` folds) pooled into a verdict."""
    from suite import references
    from suite.compare import stats
    from suite.spec.load import load

    bench = load(SPECS / f"{name}.yaml")
    dataset, metric, model = row_link(bench)
    published = references.row(model, dataset, metric)
    if published is None:
        raise ValueError(f"{name}: no row {model!r} for {dataset} / {metric} in references.csv")
    sets = [f"seeds={seeds}"] if seeds is not None else []
    parts = (
        [
            _run_one(name, results, [*sets, f"data.fold={k}", f"name={bench.name}-fold{k}"])
            for k in range(folds)
        ]
        if name in FOLDED
        else [_run_one(name, results, sets)]
    )
    # cross-validation: one score per fold (the mean of its seeds); else one per seed
    scores = (
        [sum(p["scores"]) / len(p["scores"]) for p in parts if p["scores"]]
        if name in FOLDED
        else parts[0]["scores"]
    )
    out: dict[str, Any] = {
        "row": name,
        "dataset": dataset,
        "model": model,
        "metric": metric,
        "published": float(published["value"]),
        "scores": scores,
        "unit": "fold" if name in FOLDED else "seed",
        "epochs": [e for p in parts for e in p["epochs"]],
        "epochs_max": parts[0]["epochs_max"],
        "wall_s": sum(p["wall_s"] for p in parts),
        "benchmarks": [p["benchmark"] for p in parts],
        "folds": folds if name in FOLDED else None,
    }
    if scores:
        ci = stats.mean_ci(scores)
        v = references.verdict(
            published["value"], ci.mean, published.get("std"), published.get("tolerance")
        )
        out.update(
            ours=ci.mean,
            low=ci.low,
            high=ci.high,
            difference=v.difference,
            tolerance=v.tolerance,
            reproduced=v.reproduced,
            verdict=v.text(),
        )
    return out


def _f(v: Any, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _not_run(name: str) -> str:
    """The line of a row with no result yet: its published figure, and that it was not run."""
    from suite import references
    from suite.spec.load import load

    dataset, metric, model = row_link(load(SPECS / f"{name}.yaml"))
    published = (references.row(model, dataset, metric) or {}).get("value")
    return f"| {dataset} {model} | {_f(published, 4)} | not run | - | - | - | - |"


def table(records: list[dict[str, Any]], info: dict[str, str]) -> str:
    """The Markdown table of the rows run, in the order of ROWS (a later run of a row wins)."""
    latest = {r["row"]: r for r in records}
    lines = [
        f"Reference set, {info['date']}, {info.get('cpu', '?')} x{info['cpus']} "
        f"(load average {info['loadavg']} at the end), commit {info.get('commit', '?')}",
        "",
        "| row | published | ours: mean [95 % CI] (n) | difference | verdict | epochs | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in [*ROWS, *(n for n in latest if n not in ROWS)]:
        r = latest.get(name)
        if r is None:
            if name in ROWS:
                lines.append(_not_run(name))
            continue
        label = f"{r['dataset']} {r['model']}"
        if r.get("error"):
            lines.append(
                f"| {label} | {_f(r.get('published'))} | not run: {r['error']} | - | - | - | - |"
            )
            continue
        n = len(r["scores"])
        unit = f"{n} {r['unit']}{'s' if n != 1 else ''}"
        if r["unit"] == "fold":
            unit += " of 10"
        ours = f"{_f(r.get('ours'))} [{_f(r.get('low'))}, {_f(r.get('high'))}] ({unit})"
        ep = r["epochs"]
        epochs = f"{min(ep):g}-{max(ep):g} of {r['epochs_max']}" if ep else "-"
        if ep and min(ep) == max(ep):
            epochs = f"{ep[0]:g} of {r['epochs_max']}"
        diff = f"{r['difference']:+.3f}" if "difference" in r else "-"
        lines.append(
            f"| {label} | {_f(r['published'], 4)} | {ours} | {diff} | "
            f"{r.get('verdict', 'no scores')} | {epochs} | {r['wall_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--row", action="append", choices=ROWS, help="one row (repeatable); default all")
    p.add_argument("--results", type=Path, help="results directory (default: a new temporary one)")
    p.add_argument("--folds", type=int, default=10, help="cross-validated rows: folds run (1-10)")
    p.add_argument(
        "--seeds", type=int, help="override every spec's seeds (e.g. 2 on a busy machine)"
    )
    p.add_argument("--table-only", action="store_true", help="only write the table of rows run")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    results = a.results or Path(tempfile.mkdtemp(prefix="suite-fidelity-"))
    results.mkdir(parents=True, exist_ok=True)
    log = results / "fidelity.jsonl"
    if a.child:  # one row, in this fresh process
        os.environ.setdefault("SUITE_RESULTS_DIR", str(results))
        try:
            record = run_row(a.child, results, a.folds, a.seeds)
        except Exception as e:
            record = {"row": a.child, "error": f"{type(e).__name__}: {e}"[:300]}
            record.update(
                dict(zip(("dataset", "metric", "model"), ("?", "?", a.child), strict=True))
            )
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return
    if not a.table_only:
        for name in a.row or ROWS:
            print(f"fidelity: {name} ...", flush=True)
            cmd = [sys.executable, __file__, "--child", name, "--results", str(results)]
            cmd += ["--folds", str(a.folds)] + (["--seeds", str(a.seeds)] if a.seeds else [])
            subprocess.run(cmd, env=env_with_root(), check=False)
    records = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    text = table(records, machine())
    (results / "fidelity.md").write_text(text, encoding="utf-8")
    print(text)
    print(
        f"results: {results}  (suite compare <benchmark> --tracking-uri "
        f"sqlite:///{results / 'mlflow.db'})"
    )


if __name__ == "__main__":
    main()
