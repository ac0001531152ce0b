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


def log(benches: Sequence[Any], parts: Sequence[Part], page: Path) -> int:
    """Log the page and each figure (plotly JSON) to the candidates' parent runs; returns
    how many runs got them. A figure of one candidate goes to that candidate's run only."""
    done = 0
    for b in benches:
        for cand in b.candidates:
            parent = b.parent(cand)
            if parent is None:
                continue
            run_id = parent["run_id"]
            b.client.log_artifact(run_id, str(page), "report")
            for part in parts:
                for f in part.figures:
                    if f.benchmark in (None, b.name) and f.candidate in (None, cand):
                        b.client.log_text(run_id, f.fig.to_json(), f"report/figures/{f.key}.json")
            done += 1
    return done
