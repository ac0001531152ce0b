"""Run a benchmark: for each candidate an Optuna search whose trials are MLflow child runs,
then the best configuration re-trained on the benchmark's seeds and scored on test."""

from __future__ import annotations

import contextlib
import json
import platform
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from suite import __version__, track, transfer
from suite.data import Dataset, prepare
from suite.progress import Reporter
from suite.registry import Registry
from suite.search import (
    Outcome,
    Pruned,
    counted,
    default_storage,
    fail_stale,
    open_study,
    pruning_callback,
    run_search,
)
from suite.spec.candidates import CandidateSpec, Concrete, candidates
from suite.spec.load import spec_hash
from suite.spec.schema import Benchmark
from suite.tasks import TASKS, Task


class RunError(Exception):
    """A benchmark that cannot run as asked (unknown candidate, changed spec, ...)."""


@dataclass(frozen=True)
class CandidateSummary:
    name: str
    outcomes: tuple[Outcome, ...]
    stale_trials: tuple[int, ...]
    error: str | None = None


@dataclass
class Context:
    """What every trial of a benchmark shares."""

    bench: Benchmark
    data: Dataset
    task: Task
    tracker: track.Tracker
    reporter: Reporter
    hash: str
    seed: int
    tags: dict[str, str] = field(default_factory=dict)


def environment() -> dict[str, str]:
    """Versions and backend, tagged on every run."""
    import keras
    import mlflow
    import numpy
    import optuna

    return {
        "suite.version": __version__,
        "suite.backend": keras.backend.backend(),
        "suite.keras": keras.__version__,
        "suite.optuna": optuna.__version__,
        "suite.mlflow": mlflow.__version__,
        "suite.numpy": numpy.__version__,
        "suite.python": platform.python_version(),
    }


def _select(bench: Benchmark, only: Sequence[str]) -> list[CandidateSpec]:
    all_ = candidates(bench)
    if not only:
        return all_
    names: Registry[CandidateSpec] = Registry("candidate")
    for c in all_:
        names.register(c.name)(c)
    try:
        return [names.get(n) for n in only]
    except KeyError as e:
        raise RunError(str(e)) from None


def _train_one(
    ctx: Context,
    cand: CandidateSpec,
    concrete: Concrete,
    run_id: str,
    seed: int,
    callbacks: Sequence[Any] = (),
) -> tuple[Any, Any]:
    from suite.build import build_model, trainable_params
    from suite.train import fit, set_seed

    set_seed(seed)
    model = build_model(
        concrete.model.layers,
        ctx.data.input_shape,
        ctx.task,
        ctx.task.num_outputs or ctx.data.num_classes,
        cand.name,
    )
    ctx.tracker.log_metrics(run_id, {"params": trainable_params(model)})
    search = ctx.bench.search
    result = fit(
        model,
        ctx.data,
        concrete.train,
        ctx.task,
        monitor=search.metric,
        direction=search.resolved_direction,
        callbacks=[track.epoch_logger(ctx.tracker, run_id), ctx.reporter.callback(), *callbacks],
    )
    return model, result


def _summary_metrics(result: Any, metric: str) -> dict[str, float]:
    out = {f"best_{k}": v for k, v in result.best.items()}
    out.update(
        objective=result.best.get(metric, float("nan")),
        epochs=result.epochs,
        best_epoch=result.best_epoch,
        train_time_s=result.train_time_s,
        first_epoch_s=result.first_epoch_s,
        samples_per_s=result.samples_per_s,
    )
    return out


def _objective(ctx: Context, cand: CandidateSpec, parent: str, study: Any) -> Any:
    metric = ctx.bench.search.metric

    def objective(trial: Any, params: dict[str, Any]) -> float:
        run_id = ctx.tracker.child_run(
            parent,
            f"{cand.name}/trial-{trial.number}",
            {
                **ctx.tags,
                track.KIND: "trial",
                track.TRIAL: str(trial.number),
                "suite.params": json.dumps(params),
            },
        )
        trial.set_user_attr("mlflow_run_id", run_id)
        fine = cand.train.fine_tune
        ctx.reporter.trial(trial.number, cand.train.epochs + (fine.epochs if fine else 0))
        try:
            concrete = cand.concrete(params)
            ctx.tracker.log_params(run_id, track.flatten(concrete.model_dump(mode="json")))
            pruner = pruning_callback(trial, metric)
            model, result = _train_one(ctx, cand, concrete, run_id, ctx.seed, [pruner])
            ctx.tracker.log_metrics(run_id, _summary_metrics(result, metric))
            if result.stop == "nan":
                raise FloatingPointError(f"the loss became NaN at epoch {result.epochs}")
            if pruner.pruned_at is not None:
                ctx.tracker.set_tags(run_id, {track.STATE: "PRUNED"})
                ctx.tracker.end(run_id)
                raise Pruned(pruner.pruned_at, pruner.value)
            value = result.value(metric)
            if _is_best(study, value):
                ctx.tracker.log_model(run_id, model)
                ctx.tracker.set_tags(parent, {"suite.best_run": run_id})
            ctx.tracker.set_tags(run_id, {track.STATE: "COMPLETE"})
            ctx.tracker.end(run_id)
            return value
        except Pruned:
            raise
        except KeyboardInterrupt:
            ctx.tracker.set_tags(run_id, {track.STATE: "FAIL", track.ERROR: "interrupted"})
            ctx.tracker.end(run_id, "KILLED")
            raise
        except Exception as e:
            ctx.tracker.set_tags(
                run_id, {track.STATE: "FAIL", track.ERROR: f"{type(e).__name__}: {e}"[:5000]}
            )
            ctx.tracker.log_text(run_id, traceback.format_exc(), "error.txt")
            ctx.tracker.end(run_id, "FAILED")
            raise

    return objective


def _is_best(study: Any, value: float) -> bool:
    from optuna.trial import TrialState

    done = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not done:
        return True
    best = max(done) if study.direction.name == "MAXIMIZE" else min(done)
    return value > best if study.direction.name == "MAXIMIZE" else value < best


def _seed_runs(ctx: Context, cand: CandidateSpec, parent: str, study: Any) -> None:
    from suite.train import evaluate

    if not ctx.bench.seed_list:
        return
    try:
        best = study.best_trial
    except ValueError:
        return
    done = ctx.tracker.client.search_runs(
        [ctx.tracker.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent}' and tags.`{track.KIND}` = 'seed' "
        f"and attributes.status = 'FINISHED' and tags.`suite.best_trial` = '{best.number}'",
    )
    have = {r.data.tags.get(track.SEED) for r in done}
    ctx.tracker.set_tags(parent, {"suite.best_trial": str(best.number)})
    concrete = cand.concrete(best.params)
    for seed in ctx.bench.seed_list:
        if str(seed) in have:
            continue
        run_id = ctx.tracker.child_run(
            parent,
            f"{cand.name}/seed-{seed}",
            {
                **ctx.tags,
                track.KIND: "seed",
                track.SEED: str(seed),
                "suite.best_trial": str(best.number),
                "suite.params": json.dumps(best.params),
            },
        )
        try:
            ctx.tracker.log_params(run_id, track.flatten(concrete.model_dump(mode="json")))
            model, result = _train_one(ctx, cand, concrete, run_id, seed)
            metrics = _summary_metrics(result, ctx.bench.search.metric)
            test = evaluate(model, ctx.data.test.x, ctx.data.test.y, concrete.train.batch_size)
            metrics.update({f"test_{k}": v for k, v in test.items()})
            ctx.tracker.log_metrics(run_id, metrics)
            ctx.tracker.set_tags(run_id, {track.STATE: "COMPLETE"})
            ctx.tracker.end(run_id)
        except BaseException as e:
            ctx.tracker.set_tags(
                run_id, {track.STATE: "FAIL", track.ERROR: str(e)[:5000] or "interrupted"}
            )
            ctx.tracker.end(run_id, "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
            raise


def run_candidate(ctx: Context, cand: CandidateSpec, trials: int, storage: str) -> CandidateSummary:
    bench = ctx.bench
    tags = {track.FAMILY: cand.model.family, track.CANDIDATE: cand.name}
    ctx.tags = {**ctx.tags, **tags}
    study_name = f"{bench.name}/{cand.name}"
    study = open_study(
        study_name,
        storage,
        sampler=bench.search.sampler,
        pruner=bench.search.pruner,
        direction=bench.search.resolved_direction,
        seed=ctx.seed,
    )
    known = study.user_attrs.get("spec_hash")
    if known is None:
        study.set_user_attr("spec_hash", ctx.hash)
    elif known != ctx.hash:
        raise RunError(
            f"the study {study_name!r} was made by a different spec "
            f"(hash {known}, now {ctx.hash}); rename the benchmark, "
            f"or delete its results with `suite delete {bench.name}`"
        )
    parent = ctx.tracker.candidate_run(cand.name, ctx.tags)
    ctx.tracker.end_stale_children(parent)
    doc = cand.document()
    doc["model"].pop("space", None)
    ctx.tracker.log_params(parent, track.flatten(doc))
    ctx.tracker.set_tags(
        parent,
        {
            "suite.space": json.dumps(
                {k: v.model_dump(mode="json", by_alias=True) for k, v in cand.space.items()}
            )[:5000]
        },
    )
    ctx.tracker.log_text(parent, bench_yaml(bench), "spec/benchmark.yaml")
    ctx.tracker.log_metrics(parent, baseline_metrics(ctx.data))
    ctx.tracker.set_tags(parent, {track.STUDY: study_name})
    stale = fail_stale(study)
    if stale:
        ctx.reporter.message(f"{cand.name}: trial(s) {stale} were interrupted; marked failed")
    ctx.reporter.candidate(cand.name, min(counted(study), trials), trials)
    status = "FINISHED"
    try:
        outcomes = run_search(
            study,
            cand.space,
            _objective(ctx, cand, parent, study),
            trials=trials,
            timeout=bench.search.timeout,
            enqueue=cand.defaults(),
            on_trial=lambda o: ctx.reporter.trial_end(o.state, o.value),
        )
        _seed_runs(ctx, cand, parent, study)
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except RuntimeError as e:
        status = "FAILED"
        ctx.tracker.set_tags(parent, {track.ERROR: str(e)[:5000]})
        return CandidateSummary(cand.name, (), tuple(stale), str(e))
    finally:
        _parent_metrics(ctx.tracker, parent, study)
        ctx.tracker.end(parent, status)
    return CandidateSummary(cand.name, tuple(outcomes), tuple(stale))


def _parent_metrics(tracker: track.Tracker, parent: str, study: Any) -> None:
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    metrics = {
        "trials_complete": states.count(TrialState.COMPLETE),
        "trials_pruned": states.count(TrialState.PRUNED),
        "trials_failed": states.count(TrialState.FAIL),
    }
    with contextlib.suppress(ValueError):
        metrics["best_objective"] = study.best_value
    tracker.log_metrics(parent, metrics)


def bench_yaml(bench: Benchmark) -> str:
    import io

    from ruamel.yaml import YAML

    buf = io.StringIO()
    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.dump(bench.model_dump(mode="json", by_alias=True), buf)
    return buf.getvalue()


def baseline_metrics(data: Dataset) -> dict[str, float]:
    """The dataset's naive baselines as parent-run metrics: baseline.<method>.<split>_<metric>."""
    return {
        f"baseline.{method}.{k}": v
        for method, scores in data.baselines.items()
        for k, v in scores.items()
    }


def load_data(bench: Benchmark) -> Dataset:
    """The benchmark's dataset with its fixed splits (loaded once per process)."""
    common = {"name", "val_fraction", "test_fraction", "max_examples", "split_seed"}
    task = TASKS.get(bench.task)
    return prepare(
        bench.data.name,
        bench.data.model_dump(exclude=common),
        val_fraction=bench.data.val_fraction,
        test_fraction=bench.data.test_fraction,
        max_examples=bench.data.max_examples,
        seed=bench.data.split_seed,
        target=task.target,
        split=task.split,
    )


def run(
    bench: Benchmark,
    *,
    only: Sequence[str] = (),
    trials: int | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    reporter: Reporter | None = None,
) -> list[CandidateSummary]:
    """Run (or resume) every selected candidate's search; results land in MLflow and Optuna."""
    reporter = reporter or Reporter()
    chosen = _select(bench, only)
    data = load_data(bench)
    tracker = track.Tracker(bench.name, tracking_uri)
    store = transfer.TRACKING_URI.set(tracker.uri)  # where `pretrained` blocks find runs
    h = spec_hash(bench)
    tracker.set_experiment_tags(
        {
            track.SPEC_HASH: h,
            track.METRIC: bench.search.metric,
            track.DIRECTION: bench.search.resolved_direction,
            "suite.task": bench.task,
        }
    )
    tags = {
        track.SPEC_HASH: h,
        track.FINGERPRINT: data.fingerprint,
        track.DATASET: data.name,
        **environment(),
    }
    ctx = Context(
        bench,
        data,
        TASKS.get(bench.task).bind(data),
        tracker,
        reporter,
        h,
        bench.seed_list[0] if bench.seed_list else 0,
        tags,
    )
    budget = trials if trials is not None else bench.search.trials
    storage = storage or default_storage()
    reporter.start(bench.name, len(chosen))
    summaries = []
    try:
        for cand in chosen:
            ctx.tags = dict(tags)
            summaries.append(run_candidate(ctx, cand, budget, storage))
    finally:
        reporter.stop()
        transfer.TRACKING_URI.reset(store)
    return summaries
