"""One candidate's runs as this worker holds them (`Live`), what every run of a benchmark
shares (`Context`), and what a search trial trains and logs: its MLflow run, inputs, model
and dataset inputs; the champion registered when the candidate finishes.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from suite import disk, env, track
from suite.data import Dataset
from suite.progress import Reporter
from suite.search import (
    Outcome,
    Pruned,
    adapter,
    is_best,
    on_front,
)
from suite.spec.candidates import CandidateSpec, Concrete
from suite.spec.schema import Benchmark
from suite.tasks import Task, direction_of
from suite.trial import (
    Held,
    TrialResult,
    count_params,
    goal_values,
    hold,
    restore,
    summary_metrics,
)
from suite.trial import inputs as trial_inputs
from suite.trial import train as train_trial


@dataclass
class Live:
    """One candidate as this worker holds it: its studies, parent run and what it did."""

    cand: CandidateSpec
    study: Any
    seeds: Any  # the queue of seed runs (an Optuna study of its own)
    parent: str
    tags: dict[str, str]
    trials: int  # the budget (a grid's size when smaller)
    stale: tuple[int, ...]
    started: float = field(default_factory=time.monotonic)
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    done: bool = False


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
    recycle: Callable[[], None] | None = None  # before each training: may raise Recycle
    rerun_failed: bool = False  # retry only the failed trials (and seed runs)
    inputs: dict[tuple[str, ...], list[Any]] = field(default_factory=dict)  # dataset inputs
    # each candidate's best trial so far in this process (see `Best`)
    kept: dict[str, Best] = field(default_factory=dict)


@dataclass
class Best:
    """A candidate's best trial so far in this process, its training held (suite.trial.Held).
    Its model is logged once, when the search stops (`log_best`): a trial beaten later in the
    search costs a copy of its weights, not an MLflow model. The seed run that would repeat it
    may take it over (suite.seedruns)."""

    number: int
    run_id: str
    held: Held
    logged: bool = False  # its model is in MLflow (or failed to go there, reported)


def train_logged(
    ctx: Context,
    cand: CandidateSpec,
    concrete: Concrete,
    run_id: str,
    seed: int,
    callbacks: Sequence[Any] = (),
) -> TrialResult:
    """Train one configuration (suite.trial) with its epochs, size and artifacts logged."""
    prep = prepared_inputs(ctx, concrete, run_id)
    spec = ctx.bench.search
    done = train_trial(
        ctx.task,
        ctx.data,
        prep,
        cand.name,
        concrete,
        seed,
        monitor=spec.metric,
        direction=spec.resolved_direction,
        callbacks=[track.epoch_logger(ctx.tracker, run_id), ctx.reporter.callback(), *callbacks],
        on_built=lambda m: ctx.tracker.log_metrics(run_id, {"params": count_params(m)}, wait=False),
    )
    log_artifacts(ctx, run_id, done)
    return done


def log_artifacts(ctx: Context, run_id: str, done: TrialResult) -> None:
    """The task's text artifacts of a training, e.g. a sample of its outputs."""
    for path, text in done.artifacts.items():
        ctx.tracker.log_text(run_id, text, path)


def prepared_inputs(ctx: Context, concrete: Concrete, run_id: str) -> Any:
    """The task's inputs for this trial (text: token ids, cached); their stats are logged."""
    prep = trial_inputs(ctx.task, ctx.data, concrete)
    if prep.tokenizer is not None:
        cache = "hit" if prep.hit else "miss"
        ctx.tracker.set_tags(run_id, {"suite.tokenize_cache": cache})
        ctx.tracker.log_metrics(run_id, prep.stats)
        kind = prep.tokenizer.spec.kind
        if not prep.hit:
            ctx.reporter.message(
                f"tokenizer {kind}: cache miss, fitted and tokenized in {prep.seconds:.1f} s "
                "(cached for later trials and reruns)"
            )
        elif prep.seconds > 0:  # from disk; reuse within the process is silent
            ctx.reporter.message(
                f"tokenizer {kind}: cache hit, ids loaded in {prep.seconds:.2f} s (no tokenization)"
            )
    return prep


def log_data(ctx: Context, run_id: str, splits: tuple[str, ...]) -> None:
    """The dataset's `splits` as the run's inputs (described once per process, not copied)."""
    if splits not in ctx.inputs:
        from suite.compare.readback import dataset_label

        label = dataset_label(ctx.bench.data.model_dump(mode="json"))
        ctx.inputs[splits] = track.dataset_inputs(ctx.data, label, splits)
    ctx.tracker.log_inputs(run_id, ctx.inputs[splits])


def log_model(ctx: Context, run_id: str, done: TrialResult) -> str:
    """The run's model in MLflow's format: a text classifier takes raw strings (its tokenizer
    inside); any other model takes what it trained on, with one example of it (other text
    tasks keep their fitted tokenizer beside, as the artifact `tokenizer/`). Its model id."""
    prep, raw = done.inputs, ctx.data
    if prep.tokenizer is not None and raw.target == "class" and raw.train.x.dtype == object:
        texts = [str(t) for t in raw.train.x[:2]]
        return ctx.tracker.log_text_model(
            run_id, done.model, prep.tokenizer.folder, raw.classes, texts
        )
    x = prep.data.train.x
    example = {k: v[:1] for k, v in x.items()} if isinstance(x, dict) else x[:1]
    model_id = ctx.tracker.log_model(run_id, done.model, example)
    if prep.tokenizer is not None:
        ctx.tracker.log_dir(run_id, prep.tokenizer.folder, "tokenizer")
    return model_id


def log_best(ctx: Context, live: Live) -> None:
    """Log the model of the candidate's best trial held by this process (`Best`), once; a
    model that fails to go is reported, the trial's results stand. Call it when the search
    stops, however it stops, before the seed runs and the champion."""
    best = ctx.kept.get(live.cand.name)
    if best is None or best.logged:
        return
    best.logged = True
    try:
        log_model(ctx, best.run_id, restore(best.held))
    except Exception as e:
        disk.reraise(e)
        ctx.reporter.message(
            f"{live.cand.name}: trial {best.number}'s model not logged: {type(e).__name__}: "
            f"{str(e)[:300]}"
        )


def register_champion(ctx: Context, live: Live) -> None:
    """The candidate's champion in the Model Registry (`<benchmark>.<candidate>@champion`);
    a registry that refuses is reported, the results stand."""
    from suite.mlmodels import registered_name

    name = registered_name(ctx.bench.name, live.cand.name)
    spec = ctx.bench.search
    try:
        moved = ctx.tracker.register_champion(
            live.parent, name, "objective", spec.resolved_direction
        )
    except Exception as e:
        ctx.reporter.message(f"{live.cand.name}: not registered as {name!r}: {e}")
        return
    if moved is not None:
        ctx.reporter.message(f"{live.cand.name}: registered {name} version {moved[1]} @champion")


def objective(ctx: Context, live: Live) -> Any:
    from suite.search import epoch_counter, pruning_callback

    cand, parent, study = live.cand, live.parent, live.study
    spec = ctx.bench.search
    metric, goals = spec.metric, spec.goals
    prune = len(goals) == 1 and next(iter(type(spec.pruner).model_fields)) != "none"
    watched = spec.pruned_metric

    def objective(trial: Any, params: dict[str, Any]) -> float | list[float]:
        run_id = ctx.tracker.child_run(
            parent,
            f"{cand.name}/trial-{trial.number}",
            {
                **live.tags,
                track.KIND: "trial",
                track.TRIAL: str(trial.number),
                track.SEED: str(ctx.seed),
                "suite.params": json.dumps(params),
                "suite.worker": worker_label(),
            },
        )
        trial.set_user_attr("mlflow_run_id", run_id)
        ctx.reporter.trial(trial.number, max_epochs(cand))
        counter = epoch_counter(study, adapter.trial_id(trial))
        try:
            concrete = cand.concrete(params)
            ctx.tracker.log_params(  # stored while the model trains
                run_id, track.run_params(concrete.model_dump(mode="json"), params), wait=False
            )
            log_data(ctx, run_id, ("train", "val"))
            callbacks: list[Any] = [counter]
            pruner = None
            if prune:
                negate = direction_of(watched) != study.directions[0].name.lower()
                pruner = pruning_callback(trial, watched, negate)
                callbacks.append(pruner)
            done = train_logged(ctx, cand, concrete, run_id, ctx.seed, callbacks)
            summary = summary_metrics(done.fit, metric)
            if done.fit.stop == "nan":
                ctx.tracker.log_metrics(run_id, summary, wait=False)  # stored as the run ends
                raise FloatingPointError(f"the loss became NaN at epoch {done.fit.epochs}")
            if pruner is not None and pruner.pruned_at is not None:
                ctx.tracker.log_metrics(run_id, summary, wait=False)
                ctx.tracker.set_tags(run_id, {track.STATE: "PRUNED"})
                ctx.tracker.rename(run_id, f"{cand.name}/trial-{trial.number} (pruned)")
                ctx.tracker.end(run_id)
                raise Pruned(pruner.pruned_at, pruner.value)
            values = goal_values(goals, done, concrete.train.batch_size)
            if len(goals) > 1:
                summary |= {f"objective.{m}": v for (m, _), v in zip(goals, values, strict=True)}
            best = is_best(study, values[0])
            model_id = None
            if len(goals) > 1 and (best or on_front(study, values)):
                model_id = log_model(ctx, run_id, done)  # every point of the front keeps one
            # queued, stored as the run ends; with its model's id, they are the model's metrics
            # (a model logged later links the run's metrics itself)
            ctx.tracker.log_metrics(run_id, summary, wait=False, model_id=model_id)
            if best:
                ctx.tracker.set_tags(parent, {"suite.best_run": run_id})
                if len(goals) == 1 or may_take_over(ctx):
                    held = hold(done)
                    ctx.kept[cand.name] = Best(trial.number, run_id, held, model_id is not None)
            ctx.tracker.tag_batch(run_id, {track.STATE: "COMPLETE"}, wait=False)
            ctx.tracker.end(run_id)
            return values if len(goals) > 1 else values[0]
        except Pruned:
            raise
        except KeyboardInterrupt:
            ctx.tracker.set_tags(run_id, {track.STATE: "FAIL", track.ERROR: "interrupted"})
            ctx.tracker.end(run_id, "KILLED")
            raise
        except Exception as e:
            disk.reraise(e)  # nothing more can be written: stop, the next run retries it
            ctx.tracker.set_tags(
                run_id, {track.STATE: "FAIL", track.ERROR: f"{type(e).__name__}: {e}"[:5000]}
            )
            ctx.tracker.log_text(run_id, traceback.format_exc(), "error.txt")
            ctx.tracker.end(run_id, "FAILED")
            raise
        finally:  # a training stopped by an error or an interrupt: its epochs still count
            with contextlib.suppress(Exception):
                counter.store()

    return objective


def may_take_over(ctx: Context) -> bool:
    """Whether a seed run may take a trial's training over: seed runs follow the search (the
    first with the trials' seed) and ops are deterministic (a new training would be the same)."""
    return bool(ctx.bench.seed_list) and env.deterministic()


def sampler_identity() -> str | None:
    from suite.workers import sampler_identity

    return sampler_identity()


def max_epochs(cand: CandidateSpec) -> int:
    """The epochs one training of the candidate runs at most (fine-tuning included)."""
    fine = cand.train.fine_tune
    return cand.train.epochs + (fine.epochs if fine else 0)


def worker_label() -> str:
    from suite.workers import identity

    me = identity()
    return f"{me['host']}:{me['pid']}"
