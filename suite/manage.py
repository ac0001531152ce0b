"""Listing components and benchmarks, deleting benchmarks, and the dry run."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _signature(fn: Any) -> str:
    parts = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(parts)


def _doc(obj: Any) -> str:
    text = getattr(obj, "description", None) or (obj.__doc__ or "")
    return text.strip().splitlines()[0] if text.strip() else ""


def registries() -> dict[str, list[tuple[str, str, str]]]:
    """family -> [(name, parameters, one-line description)] for every registry."""
    from suite.blocks import BLOCKS
    from suite.data import DATASETS
    from suite.optim import OPTIMIZERS
    from suite.spec.strategies import PRUNERS, SAMPLERS
    from suite.tasks import TASKS
    from suite.text import TOKENIZERS

    out: dict[str, list[tuple[str, str, str]]] = {}
    for family, reg in [
        ("datasets", DATASETS),
        ("blocks", BLOCKS),
        ("tasks", TASKS),
        ("tokenizers", TOKENIZERS),
        ("optimizers", OPTIMIZERS),
        ("samplers", SAMPLERS),
        ("pruners", PRUNERS),
    ]:
        rows = []
        for name, obj in reg.items():
            params = "" if family == "tasks" else _signature(obj)
            rows.append((name, params, _doc(obj)))
        out[family] = rows
    return out


def library_dirs() -> list[Path]:
    """Where model specs are looked up: ./specs/models, then the suite's own library."""
    own = Path(__file__).resolve().parents[1] / "specs" / "models"
    dirs = [Path("specs") / "models", own]
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and all(d.resolve() != o.resolve() for o in out):
            out.append(d)
    return out


def models(dirs: Sequence[Path] | None = None) -> list[tuple[str, str, str, str]]:
    """(file, family, reference, one-line description) of each model spec in the library.

    Read from the documents (`extends` resolved) without validating them: listing stays
    fast; `suite validate` (and the test suite) check the specs.
    """
    from suite.spec.load import is_model_spec, load_raw

    rows = []
    for d in dirs if dirs is not None else library_dirs():
        for path in sorted(d.glob("*.yaml")):
            spec, _ = load_raw(path)
            if not is_model_spec(spec):
                continue
            ref = spec.get("reference")
            where = ""
            if isinstance(ref, dict) and ref.get("input_shape"):
                shape = "x".join(str(n) for n in ref["input_shape"])
                params = ref.get("trainable_params")
                count = f", {params:,} params" if isinstance(params, int) else ""
                where = f"{shape} -> {ref.get('outputs', 10)}{count}"
            family, text = spec.get("family", "custom"), spec.get("description", "")
            rows.append((f"models/{path.name}", str(family), where, str(text)))
    return sorted(rows, key=lambda r: (r[1], r[0]))


def benchmarks(tracking_uri: str | None = None) -> list[tuple[str, int, int]]:
    """(name, candidates, runs) of every benchmark in the tracking store."""
    from suite import stores, track

    client = stores.tracking_client(tracking_uri)
    out = []
    for exp in client.search_experiments():
        if exp.name == "Default":
            continue
        runs = client.search_runs([exp.experiment_id], max_results=5000)
        cands = len(
            {
                r.data.tags.get(track.CANDIDATE)
                for r in runs
                if r.data.tags.get(track.KIND) == "candidate"
            }
        )  # a candidate's study versions have a parent run each
        out.append((exp.name, cands, len(runs)))
    return sorted(out)


def delete(benchmark: str, storage: str | None = None, tracking_uri: str | None = None) -> int:
    """Delete the experiment (permanently from the store) and the studies; returns #studies."""
    import optuna

    from suite import stores
    from suite.compare import NotFound
    from suite.stores import local_storages, make_storage

    client = stores.tracking_client(tracking_uri)
    exp = client.get_experiment_by_name(benchmark)
    names = []
    for url in [storage] if storage else local_storages():
        store = make_storage(url)
        for name in optuna.get_all_study_names(store):
            if name.startswith(f"{benchmark}/"):
                names.append((name, store))
    if exp is None and not names:
        raise NotFound(f"no benchmark {benchmark!r} in the tracking store or the study storage")
    for name, store in names:
        optuna.delete_study(study_name=name, storage=store)
    if exp is not None:
        for run in client.search_runs([exp.experiment_id], max_results=50000):
            client.delete_run(run.info.run_id)
        client.delete_experiment(exp.experiment_id)
        # a deleted name would block re-creation: rename it out of the way
        client.rename_experiment(exp.experiment_id, f"{benchmark}.deleted.{exp.experiment_id}")
    return len(names)


def _tokenizer_loc(cand: Any) -> tuple[str | int, ...]:
    """Where a candidate's tokenizer stands in the spec (its model's place when it has none)."""
    if cand.tokenizer is None:
        return cand.loc
    if cand.loc[:2] == ("candidates", "matrix"):
        return ("candidates", "matrix", "tokenizer", cand.tokenizer_name)
    return (*cand.loc[:-1], "tokenizer")


def max_epochs_of(bench: Any, cand: Any, trials: int) -> int:
    """The epochs a candidate may train: its trials (within `search.epochs_budget`), then
    its best configurations' seed runs."""
    from suite.runs import max_epochs

    each = max_epochs(cand)
    search = trials * each
    if bench.search.epochs_budget is not None:  # the trial that crosses it runs to its end
        search = min(search, bench.search.epochs_budget + each - 1)
    return search + len(bench.seed_list) * bench.search.seeds_top_k * each


def dry_run(bench: Any, only: Sequence[str], trials: int | None, console: Any) -> None:
    """Show the expanded candidates, their parameter counts and the budget; trains nothing.

    What fails on the way (the data, a tokenizer, a model that cannot be built) is a SpecError
    at its place in the spec."""
    from rich.markup import escape
    from rich.table import Table

    from suite.build import trainable_params
    from suite.runner import RunError
    from suite.spec.candidates import select
    from suite.spec.errors import reported_at
    from suite.tasks import TASKS
    from suite.transfer import resolving
    from suite.trial import build, inputs, load_data, task_for

    data = load_data(bench)
    with reported_at(("task",)):
        task = TASKS.get(bench.task).bind(data)
    budget = trials or bench.search.trials
    table = Table(
        "candidate",
        "family",
        "params",
        "dimensions",
        "trials",
        "seed runs",
        "max epochs",
        title=escape(
            f"{bench.name}: {data.name} {data.input_shape} -> "
            f"{task.num_outputs} {task.outputs}, train/val/test "
            f"{len(data.train)}/{len(data.val)}/{len(data.test)}"
        ),
    )
    try:
        chosen = select(bench, only)
    except KeyError as e:
        raise RunError(str(e)) from None
    seeds = bench.seed_list
    for cand in chosen:
        with reported_at(_tokenizer_loc(cand)):
            prep = inputs(task, data, cand)  # text: the tokenizer's ids (cached)
        with reported_at(cand.loc), resolving():
            model = build(task_for(task, data, prep), prep, cand.model.layers, cand.name)
        dims = ", ".join(cand.space) or "-"
        table.add_row(
            escape(cand.name),
            escape(cand.model.family),
            f"{trainable_params(model):,}",
            escape(dims),
            str(budget),
            str(len(seeds) * bench.search.seeds_top_k),
            f"{max_epochs_of(bench, cand, budget):,}",
        )
    console.print(table)
    console.print(
        f"search: {budget} trials per candidate, metric {bench.search.metric} "
        f"({bench.search.resolved_direction}); seeds after search: {seeds or 'none'}"
    )
