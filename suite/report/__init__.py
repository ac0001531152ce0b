"""`suite report`: a self-contained HTML dashboard of benchmarks, read back from MLflow and
the Optuna storage, laid out by a dashboard definition (`dashboards/default.yaml`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from suite import settings


@dataclass(frozen=True)
class Report:
    path: Path
    bytes: int
    sections: tuple[str, ...]
    figures: int
    logged_runs: int  # 1 when the page was attached to a run, else 0
    logged_to: str | None = None  # the run it was attached to (the leading candidate's parent)


def default_output(benchmarks: Sequence[str]) -> Path:
    """<results>/reports/<benchmark[+benchmark...]>.html"""
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "_", "+".join(benchmarks))[:120]
    return settings.results_dir() / "reports" / f"{name}.html"


def build(
    benchmarks: Sequence[str],
    dashboard: str | Path | None = None,
    output: str | Path | None = None,
    tracking_uri: str | None = None,
    storage: str | None = None,
    log: bool = True,
    allow_mixed: bool = False,
) -> Report:
    """Write the report of `benchmarks`; with `log`, also attach it and its figures once, to
    the leading candidate's parent run (`report/`; see `page.log`)."""
    import os

    from suite.report import dashboard as dash
    from suite.report import data, page

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    board = dash.load(dashboard)  # a bad dashboard fails before anything is read
    benches = data.load(list(benchmarks), tracking_uri, storage, allow_mixed)
    parts = [part for builder in board.builders() for part in builder(benches)]
    uri = page.shown_uri(benches[0].uri)
    html = page.render(board.title, board.description, parts, benchmarks, uri)
    path = Path(output) if output else default_output(benchmarks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    run_id = page.log(benches, parts, path) if log else None
    return Report(
        path,
        path.stat().st_size,
        tuple(p.title for p in parts),
        sum(len(p.figures) for p in parts),
        int(run_id is not None),
        run_id,
    )
