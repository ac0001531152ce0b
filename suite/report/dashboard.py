"""Dashboard definitions: a title and a list of sections, validated like a benchmark spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from suite.report import search, sections, summary  # noqa: F401  (they register the sections)
from suite.report.parts import SECTIONS
from suite.spec.base import Strict
from suite.spec.signature import tagged_union, unwrap

Section = tagged_union(SECTIONS, "section")
OWN = Path(__file__).resolve().parents[2] / "dashboards" / "default.yaml"


class Dashboard(Strict):
    """What `suite report` lays out, top to bottom."""

    title: str = "Benchmark report"
    description: str = ""
    sections: list[Section] = Field(min_length=1)  # type: ignore[valid-type]

    def builders(self) -> list[Any]:
        """Each section's builder, configured with its options."""
        out = []
        for section in self.sections:
            name, params = unwrap(section)
            out.append(SECTIONS.get(name)(**params))
        return out


def default_path() -> Path:
    """./dashboards/default.yaml when it exists, else the one shipped with the suite."""
    here = Path("dashboards") / "default.yaml"
    return here if here.is_file() else OWN


def load(path: str | Path | None = None) -> Dashboard:
    """Read and validate a dashboard file; problems name the file, line and section."""
    from suite.spec.document import read
    from suite.spec.errors import Problem, SpecError
    from suite.spec.load import validate_document

    path = Path(path) if path is not None else default_path()
    if path == OWN and not path.is_file():  # installed without the repository's folders
        return Dashboard(sections=[{name: {}} for name in DEFAULT])
    doc = read(path)
    if not isinstance(doc.data, dict):
        raise SpecError([Problem((), "expected a mapping with `sections:`", file=path, line=1)])
    return validate_document(Dashboard, doc)


DEFAULT = (
    "leaderboard",
    "published",
    "best_params",
    "costs",
    "pareto",
    "learning_curves",
    "tuning_curves",
    "sensitivity",
    "tokenizers",
    "optuna",
    "critical_difference",
    "confusion",
)
