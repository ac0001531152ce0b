"""Checks across fields that a schema alone cannot express."""

from __future__ import annotations

from pydantic import ValidationError

from suite.spec.candidates import candidates
from suite.spec.errors import Loc, Problem, describe, doc_loc
from suite.spec.schema import Benchmark
from suite.spec.space import PathError, corners, format_path, get_path, parse_path
from suite.tasks import TASKS


def _metric_names(task: str) -> list[str]:
    base = ["loss", *TASKS.get(task).metrics]
    return base + [f"val_{m}" for m in base]


def check(bench: Benchmark) -> list[Problem]:
    """Every problem that needs more than one field to see."""
    problems: list[Problem] = []
    names = _metric_names(bench.task)
    metric = bench.search.metric
    if metric not in names:
        problems.append(
            Problem(
                ("search", "metric"),
                f"unknown metric {metric!r}; expected one of: "
                f"{', '.join(n for n in names if n.startswith('val_'))}",
            )
        )
    elif not metric.startswith("val_"):
        problems.append(
            Problem(
                ("search", "metric"),
                f"selection uses the validation split only: "
                f"expected a val_ metric, received {metric!r} (use 'val_{metric}')",
            )
        )
    es = bench.train.early_stopping
    if es and es.monitor not in names:
        problems.append(
            Problem(
                ("train", "early_stopping", "monitor"),
                f"unknown metric {es.monitor!r}; expected one of: {', '.join(names)}",
            )
        )
    for cand in candidates(bench):
        doc = cand.document()
        for path, dim in cand.space.items():
            own = path.startswith("model.") and path[6:] in cand.model.space
            loc: Loc = (*cand.loc, "space", path[6:]) if own else ("search", "space", path)
            try:
                parts = parse_path(path)
                get_path(doc, parts)
            except PathError as e:
                problems.append(Problem(loc, f"candidate {cand.name!r}: {e}"))
                continue
            if parts[-1] in ("space", "extends") or "space" in parts:
                problems.append(Problem(loc, "a search path cannot point into a space"))
                continue
            for value in corners(dim):
                try:
                    cand.concrete({path: value})
                except ValidationError as e:
                    loc_, msg = describe(e.errors()[0])  # type: ignore[arg-type]
                    where = format_path(doc_loc(doc, loc_))
                    problems.append(
                        Problem(
                            loc,
                            f"candidate {cand.name!r}: the value {value!r} "
                            f"of this dimension is invalid at {where}: {msg}",
                        )
                    )
                    break
    return problems
