"""The self-contained HTML page (plotly inlined once) and the figures logged to MLflow."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suite.report.parts import Figure, Part


def render(
    title: str, description: str, parts: Sequence[Part], benchmarks: Sequence[str], uri: str
) -> str:
    """The page: plotly's bundle once in <head>, each figure a div, text escaped by Jinja2."""
    import plotly.io as pio
    import plotly.offline
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    from suite import __version__

    env = Environment(
        loader=PackageLoader("suite.report", "templates"),
        autoescape=select_autoescape(["html"]),
    )

    def div(f: Figure) -> Markup:
        html = pio.to_html(
            f.fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{f.key}",
            config={"displaylogo": False, "responsive": True},
        )
        return Markup(html)

    shown = [
        {
            "title": p.title,
            "note": p.note,
            "tables": p.tables,
            "svg": Markup(p.svg) if p.svg else None,
            "figures": [div(f) for f in p.figures],
        }
        for p in parts
    ]
    data = {
        "benchmarks": list(benchmarks),
        "figures": [f.key for p in parts for f in p.figures],
        "sections": [p.title for p in parts],
    }
    return env.get_template("report.html").render(
        title=title,
        description=description,
        parts=shown,
        benchmarks=list(benchmarks),
        uri=uri,
        written=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
        data=data,
    )


def shown_uri(uri: str) -> str:
    """The tracking URI as the page prints it, without local absolute paths or passwords:
    a local store relative to the working directory when it lies below it, else by its
    folder and file name (`sqlite:///.../results/mlflow.db`); a server without credentials."""
    import os
    import re

    scheme, sep, rest = uri.partition(":")
    if not sep or len(scheme) == 1:  # a bare path (or a Windows drive letter)
        scheme, rest = "", uri
    if scheme in ("", "file", "sqlite"):
        prefix = {"": "", "file": "file://", "sqlite": "sqlite:///"}[scheme]
        path = re.sub(r"^//", "", rest) if scheme == "file" else re.sub(r"^///", "", rest)
        if not os.path.isabs(path):
            return uri
        here = Path.cwd().resolve()
        full = Path(path).resolve()
        if full.is_relative_to(here):
            return prefix + full.relative_to(here).as_posix()
        return prefix + ".../" + "/".join(full.parts[-2:])
    return re.sub(r"//[^/@]*@", "//", uri)  # user:password@host -> host


def log(benches: Sequence[Any], parts: Sequence[Part], page: Path) -> str | None:
    """Attach the page and every figure to one run: the parent run of the leading candidate
    (the first benchmark's leaderboard winner). The page goes to `report/<page>`, each figure
    to `report/figures/<key>.html` (viewable in MLflow's artifact viewer; it loads plotly.js
    from plotly's CDN, the page itself needs no network) and `<key>.json`
    (`plotly.io.read_json`). Every benchmark's experiment is tagged `suite.report_run` with
    that run's id. Returns the run id, or None when no candidate has a parent run."""
    lead = next(
        ((b, b.parent(c)) for b in benches for c in b.candidates if b.parent(c) is not None),
        None,
    )
    if lead is None:
        return None
    bench, parent = lead
    run_id = str(parent["run_id"])
    client = bench.client
    client.log_artifact(run_id, str(page), "report")
    client.set_tag(run_id, "suite.report", f"report/{page.name}")
    for part in parts:
        for f in part.figures:
            client.log_figure(run_id, f.fig, f"report/figures/{f.key}.html")
            client.log_text(run_id, f.fig.to_json(), f"report/figures/{f.key}.json")
    for b in benches:
        client.set_experiment_tag(b.read.frame["experiment_id"].iloc[0], "suite.report_run", run_id)
    return run_id
