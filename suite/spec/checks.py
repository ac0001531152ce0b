"""Checks across fields that a schema alone cannot express."""

from __future__ import annotations

import typing

from pydantic import ValidationError

from suite.data import DATASETS
from suite.data.base import Series
from suite.spec.candidates import candidates
from suite.spec.errors import Loc, Problem, describe, doc_loc
from suite.spec.schema import Benchmark
from suite.spec.space import PathError, corners, format_path, get_path, grid, parse_path
from suite.tasks import TASKS, Task


def _metric_names(task: Task) -> list[str]:
    base = ["loss", *task.metric_names]
    if task.per_class:
        base.append(f"{task.per_class}<k>")
    return base + [f"val_{m}" for m in base]


def _gives_series(dataset: str) -> bool | None:
    """Whether a loader returns a Series (by its return annotation); None when unknown."""
    try:
        ret = typing.get_type_hints(DATASETS.get(dataset)).get("return")
    except Exception:
        return None
    return None if ret is None else ret is Series


def _search_metrics(bench: Benchmark, task: Task, names: list[str]) -> list[Problem]:
    """Objectives after the first (a val_ metric or a cost), the metric pruning watches, and
    a grid search's grid."""
    from suite.spec.schema import COSTS

    out = []
    val = ", ".join(n for n in names if n.startswith("val_"))
    for i, goal in enumerate(bench.search.objectives or ()):
        known = goal.metric.startswith("val_") and task.knows_metric(goal.metric)
        if i and not known and goal.metric not in COSTS:
            out.append(
                Problem(
                    ("search", "objectives", i, "metric"),
                    f"unknown objective {goal.metric!r}; expected a validation metric "
                    f"({val}) or a cost ({', '.join(COSTS)})",
                )
            )
    if next(iter(type(bench.search.sampler).model_fields)) == "grid":
        for cand in candidates(bench):
            try:
                grid(cand.space)
            except ValueError as e:
                out.append(Problem(("search", "sampler"), f"candidate {cand.name!r}: {e}"))
    watched = bench.search.prune_on
    if watched and (not task.knows_metric(watched) or watched.startswith("test_")):
        out.append(
            Problem(
                ("search", "prune_on"),
                f"unknown metric {watched!r}; expected one of: {', '.join(names)}",
            )
        )
    return out


def _tokenizers(bench: Benchmark, task: Task) -> list[Problem]:
    """A tokenizer only where the task reads texts; text classification needs one."""
    from suite.tasks import Task as Base

    uses = type(task).inputs is not Base.inputs
    out = []
    for cand in candidates(bench):
        if cand.tokenizer is not None and not uses:
            out.append(
                Problem(
                    ("candidates",),
                    f"candidate {cand.name!r} has a tokenizer, but task {task.name!r} does not "
                    "read texts; remove the tokenizer or use a text task",
                )
            )
        elif cand.tokenizer is None and task.name == "text_classification":
            out.append(
                Problem(
                    ("candidates",),
                    f"candidate {cand.name!r} has no tokenizer; task 'text_classification' "
                    "needs one: add a `tokenizer` axis to candidates.matrix (or `tokenizer:` "
                    "to the candidate)",
                )
            )
    return out


def check(bench: Benchmark) -> list[Problem]:
    """Every problem that needs more than one field to see."""
    problems: list[Problem] = []
    task = TASKS.get(bench.task)
    names = _metric_names(task)
    metric = bench.search.metric
    if not task.knows_metric(metric) or metric.startswith("test_"):
        problems.append(
            Problem(
                ("search", "metric"),
                f"unknown metric {metric!r}; expected one of: "
                f"{', '.join(n for n in names if n.startswith('val_'))} "
                f"(task {task.name!r}, usually ranked by {task.default_metric!r})",
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
    problems += _search_metrics(bench, task, names)
    series = _gives_series(bench.data.name)
    if series is not None and series != (task.target == "series"):
        what = "a time series" if series else "no time series"
        problems.append(
            Problem(
                ("data", "name"),
                f"dataset {bench.data.name!r} gives {what}, which task {task.name!r} "
                f"cannot use (it needs {task.target} targets)",
            )
        )
    es = bench.train.early_stopping
    if es and (not task.knows_metric(es.monitor) or es.monitor.startswith("test_")):
        problems.append(
            Problem(
                ("train", "early_stopping", "monitor"),
                f"unknown metric {es.monitor!r}; expected one of: {', '.join(names)}",
            )
        )
    problems += _tokenizers(bench, task)
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
