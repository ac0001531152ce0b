"""Run a benchmark: for each candidate an Optuna search whose trials are MLflow child runs,
then the best configurations re-trained on the benchmark's seeds and scored on test.

Any number of workers may run this at once against one study storage and tracking store:
they share each candidate's study, its MLflow parent run and the queue of its seed runs.
"""

from __future__ import annotations

import gc
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from suite import disk, env, parents, references, seeds_together, stores, track, transfer
from suite.data import Dataset
from suite.progress import Reporter
from suite.search import (
    Outcome,
    Pruned,
    adapter,
    fail_stale,
    grid_size,
    is_best,
    on_front,
    open_study,
    run_search,
    tally,
    top_trials,
)
from suite.search.seeds import queue_seeds, run_queued, run_queued_together
from suite.search.versions import enqueue_failed, study_version
from suite.spec.candidates import CandidateSpec, Concrete, select
from suite.spec.load import legacy_spec_hash, spec_hash
from suite.spec.schema import Benchmark
from suite.tasks import TASKS, Task, direction_of
from suite.trial import (
    TrialResult,
    count_params,
    goal_values,
    latency_metrics,
    load_data,
    summary_metrics,
    test_metrics,
)
from suite.trial import inputs as trial_inputs
from suite.trial import train as train_trial


class RunError(Exception):
    """A benchmark that cannot run as asked (unknown candidate, changed spec, ...)."""


@dataclass(frozen=True)
class CandidateSummary:
    name: str
    outcomes: tuple[Outcome, ...]
    stale_trials: tuple[int, ...]
    error: str | None = None


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


def environment() -> dict[str, str]:
    """Versions, backend and device, tagged on every run (see suite.env)."""
    return env.environment()


def _select(bench: Benchmark, only: Sequence[str]) -> list[CandidateSpec]:
    try:
        return select(bench, only)
    except KeyError as e:
        raise RunError(str(e)) from None


def _train(
    ctx: Context,
    cand: CandidateSpec,
    concrete: Concrete,
    run_id: str,
    seed: int,
    callbacks: Sequence[Any] = (),
) -> TrialResult:
    """Train one configuration (suite.trial) with its epochs, size and artifacts logged."""
    prep = _inputs(ctx, concrete, run_id)
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
        on_built=lambda m: ctx.tracker.log_metrics(run_id, {"params": count_params(m)}),
    )
    for path, text in done.artifacts.items():  # the task's text artifacts, e.g. a sample
        ctx.tracker.log_text(run_id, text, path)
    return done


def _inputs(ctx: Context, concrete: Concrete, run_id: str) -> Any:
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


def _log_data(ctx: Context, run_id: str, splits: tuple[str, ...]) -> None:
    """The dataset's `splits` as the run's inputs (described once per process, not copied)."""
    if splits not in ctx.inputs:
        from suite.compare.readback import dataset_label

        label = dataset_label(ctx.bench.data.model_dump(mode="json"))
        ctx.inputs[splits] = track.dataset_inputs(ctx.data, label, splits)
    ctx.tracker.log_inputs(run_id, ctx.inputs[splits])


def _log_model(ctx: Context, run_id: str, done: TrialResult) -> None:
    """The run's model in MLflow's format: a text classifier takes raw strings (its tokenizer
    inside); any other model takes what it trained on, with one example of it (other text
    tasks keep their fitted tokenizer beside, as the artifact `tokenizer/`)."""
    prep, raw = done.inputs, ctx.data
    if prep.tokenizer is not None and raw.target == "class" and raw.train.x.dtype == object:
        texts = [str(t) for t in raw.train.x[:2]]
        ctx.tracker.log_text_model(run_id, done.model, prep.tokenizer.folder, raw.classes, texts)
        return
    x = prep.data.train.x
    example = {k: v[:1] for k, v in x.items()} if isinstance(x, dict) else x[:1]
    ctx.tracker.log_model(run_id, done.model, example)
    if prep.tokenizer is not None:
        ctx.tracker.log_dir(run_id, prep.tokenizer.folder, "tokenizer")


def _register(ctx: Context, live: Live) -> None:
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


def _objective(ctx: Context, live: Live) -> Any:
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
                "suite.worker": _worker_label(),
            },
        )
        trial.set_user_attr("mlflow_run_id", run_id)
        ctx.reporter.trial(trial.number, max_epochs(cand))
        try:
            concrete = cand.concrete(params)
            ctx.tracker.log_params(
                run_id, track.run_params(concrete.model_dump(mode="json"), params)
            )
            _log_data(ctx, run_id, ("train", "val"))
            callbacks: list[Any] = [epoch_counter(study, adapter.trial_id(trial))]
            pruner = None
            if prune:
                negate = direction_of(watched) != study.directions[0].name.lower()
                pruner = pruning_callback(trial, watched, negate)
                callbacks.append(pruner)
            done = _train(ctx, cand, concrete, run_id, ctx.seed, callbacks)
            ctx.tracker.log_metrics(run_id, summary_metrics(done.fit, metric))
            if done.fit.stop == "nan":
                raise FloatingPointError(f"the loss became NaN at epoch {done.fit.epochs}")
            if pruner is not None and pruner.pruned_at is not None:
                ctx.tracker.set_tags(run_id, {track.STATE: "PRUNED"})
                ctx.tracker.rename(run_id, f"{cand.name}/trial-{trial.number} (pruned)")
                ctx.tracker.end(run_id)
                raise Pruned(pruner.pruned_at, pruner.value)
            values = goal_values(goals, done, concrete.train.batch_size)
            if len(goals) > 1:
                ctx.tracker.log_metrics(
                    run_id, {f"objective.{m}": v for (m, _), v in zip(goals, values, strict=True)}
                )
            best = is_best(study, values[0])
            if best or (len(goals) > 1 and on_front(study, values)):
                _log_model(ctx, run_id, done)
            if best:
                ctx.tracker.set_tags(parent, {"suite.best_run": run_id})
            ctx.tracker.set_tags(run_id, {track.STATE: "COMPLETE"})
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

    return objective


def _sampler_identity() -> str | None:
    from suite.workers import sampler_identity

    return sampler_identity()


def max_epochs(cand: CandidateSpec) -> int:
    """The epochs one training of the candidate runs at most (fine-tuning included)."""
    fine = cand.train.fine_tune
    return cand.train.epochs + (fine.epochs if fine else 0)


def _worker_label() -> str:
    from suite.workers import identity

    me = identity()
    return f"{me['host']}:{me['pid']}"


def _open(ctx: Context, cand: CandidateSpec, trials: int, storage: str) -> Live:
    """Open (or join) the candidate's study, parent run and seed queue; clean up the dead."""
    bench = ctx.bench
    study_name, version = _version(ctx, cand, storage)
    tags = {
        **ctx.tags,
        track.FAMILY: cand.model.family,
        track.CANDIDATE: cand.name,
        track.STUDY: study_name,
        track.VERSION: str(version),
        **references.candidate_tags(cand.model),  # the published row it reproduces, if any
    }
    # the tokenizer's name on the candidate matrix, else its kind (text candidates only)
    named = getattr(cand, "tokenizer_name", None) or getattr(cand, "tokenizer", None)
    tokenizer = track.tokenizer_label(named)
    if tokenizer:
        tags[track.TOKENIZER] = tokenizer
    try:
        study = open_study(
            study_name,
            storage,
            sampler=bench.search.sampler,
            pruner=bench.search.pruner,
            directions=[d for _, d in bench.search.goals],
            seed=ctx.seed,
            space=cand.space,
            worker=_sampler_identity(),
        )
    except ValueError as e:
        raise RunError(f"candidate {cand.name!r}: {e}") from None
    directions = [d.name.lower() for d in study.directions]
    if directions != [d for _, d in bench.search.goals]:
        raise RunError(
            f"the study {study_name!r} optimizes {directions}, the spec "
            f"{[d for _, d in bench.search.goals]}; delete it with `suite delete {bench.name}`"
        )
    for key, value in (("spec_hash", ctx.hash), ("data_fingerprint", ctx.data.fingerprint)):
        if study.user_attrs.get(key) is None:
            study.set_user_attr(key, value)
    grid = grid_size(study)
    trials = min(trials, grid) if grid else trials
    enqueue = None if grid else cand.defaults()
    parent, seeds = parents.parent_run(ctx.tracker, study, storage, cand.name, tags, enqueue)
    stale = tuple(fail_stale(study))
    fail_stale(seeds)
    parents.end_dead_runs(ctx.tracker, parent, study, seeds)
    # the spec without its searched values (the winner's land as hp.* tags, parents.publish)
    ctx.tracker.log_params(parent, track.spec_params(cand.document(), list(cand.space)))
    space = {k: v.model_dump(mode="json", by_alias=True) for k, v in cand.space.items()}
    budget = {"trials": trials, "epochs": bench.search.epochs_budget}
    budget["timeout_s"] = bench.search.timeout
    ctx.tracker.set_tags(
        parent,
        {
            "suite.space": json.dumps(space)[:5000],
            track.STUDY: study_name,
            "suite.budget": json.dumps(budget),
        },
    )
    ctx.tracker.log_text(parent, bench_yaml(bench), "spec/benchmark.yaml")
    ctx.tracker.log_metrics(parent, baseline_metrics(ctx.data))
    ctx.tracker.tag_batch(parent, tags)  # the environment of its latest worker
    ctx.tracker.set_experiment_tags({track.current_key(cand.name): str(version)})
    if stale:
        ctx.reporter.message(f"{cand.name}: trial(s) {list(stale)} were interrupted; marked failed")
    live = Live(cand, study, seeds, parent, tags, trials, stale)
    if ctx.recycle is not None:  # a replaced process keeps its predecessor's clock
        from suite.workers import clock

        live.started = clock(cand.name)
    return live


def _version(ctx: Context, cand: CandidateSpec, storage: str) -> tuple[str, int]:
    """The candidate's study for this spec and data: a new version when either changed."""
    base = f"{ctx.bench.name}/{cand.name}"
    keys = {
        "spec_hash": (ctx.hash, legacy_spec_hash(ctx.bench)),
        "data_fingerprint": (ctx.data.fingerprint,),
    }
    name, version, new = study_version(storage, base, keys)
    if new and version > 1:
        ctx.reporter.message(
            f"{cand.name}: the spec or the data changed since the earlier results; starting "
            f"study version {version} ({name!r}); earlier versions stay as they were"
        )
    return name, version


def _retry_failed(live: Live) -> int | None:
    """With --rerun-failed: queue the failed trials again; the budget that runs exactly them."""
    retried = enqueue_failed(live.study)
    now = tally(live.study)
    return now.counted + now.waiting + now.running if retried or now.waiting else None


def _search(ctx: Context, live: Live, wait: bool) -> None:
    spec = ctx.bench.search
    left = (
        None if spec.timeout is None else max(0.0, spec.timeout - (time.monotonic() - live.started))
    )
    if ctx.rerun_failed:
        budget = _retry_failed(live) if not live.outcomes else None
        if budget is None:
            return
        live.trials = budget
    ctx.reporter.candidate(live.cand.name, min(tally(live.study).counted, live.trials), live.trials)
    try:
        live.outcomes += run_search(
            live.study,
            live.cand.space,
            _objective(ctx, live),
            trials=live.trials,
            timeout=left,
            epochs_budget=spec.epochs_budget,
            on_trial=lambda o: ctx.reporter.trial_end(o.state, o.value),
            wait=wait,
            before_trial=ctx.recycle,
            queued_only=ctx.rerun_failed,
        )
    except RuntimeError as e:
        live.error = str(e)
        ctx.tracker.set_tags(live.parent, {track.ERROR: str(e)[:5000]})


def _seed_runs(ctx: Context, live: Live) -> None:
    """Queue the top configurations' seed runs, then run queued ones until none is left."""
    if not ctx.bench.seed_list:
        return
    configs = top_trials(live.study, ctx.bench.search.seeds_top_k)
    if not configs:
        return
    ctx.tracker.set_tags(live.parent, {"suite.best_trial": str(configs[0].number)})
    queue_seeds(live.seeds, ctx.bench.seed_list, configs)
    total = len(configs) * len(ctx.bench.seed_list)
    ctx.reporter.seeds(live.cand.name, min(tally(live.seeds).complete, total), total)

    def work(p: dict[str, Any], number: int) -> float:
        source = live.study.trials[int(p["trial"])]
        ctx.reporter.seed(int(p["seed"]), max_epochs(live.cand))
        try:
            value = _seed_run(ctx, live, source, int(p["seed"]), int(p["rank"]), number)
        except Exception as e:
            disk.reraise(e)
            ctx.reporter.seed_end("FAIL", None)
            ctx.reporter.message(f"{live.cand.name}: seed run {p['seed']} failed: {e}")
            raise
        ctx.reporter.seed_end("COMPLETE", value)
        return value

    recipe, seeds = live.cand.train, len(ctx.bench.seed_list)
    asked = recipe.seeds_together is True or seeds_together.backend() == "jax"
    if seeds > 1 and asked and recipe.seeds_together is not False:
        run_queued_together(live.seeds, partial(_seed_batch, ctx, live), seeds, ctx.recycle)
    run_queued(live.seeds, work, ctx.recycle)


def _seed_batch(ctx: Context, live: Live, jobs: list[tuple[dict[str, Any], int]]) -> list[Any]:
    """Seed runs claimed together: those of one configuration trained as one program
    (suite.seeds_together), or one at a time with the reason; each one's value or error."""
    out: list[Any] = [None] * len(jobs)
    groups: dict[int, list[int]] = {}
    for i, (p, _) in enumerate(jobs):
        groups.setdefault(int(p["trial"]), []).append(i)
    for number, members in groups.items():
        source = live.study.trials[number]
        concrete = live.cand.concrete(source.params)
        prep = trial_inputs(ctx.task, ctx.data, concrete)
        reason = seeds_together.unsupported(concrete.train, ctx.task, prep.data, len(members))
        if reason is None:
            values = _train_together(ctx, live, source, concrete, [jobs[i] for i in members])
            for i, value in zip(members, values, strict=True):
                out[i] = value
            continue
        ctx.reporter.message(f"{live.cand.name}: seeds trained one at a time: {reason}")
        for i in members:
            p, job = jobs[i]
            try:
                out[i] = _seed_run(ctx, live, source, int(p["seed"]), int(p["rank"]), job, reason)
            except Exception as e:
                out[i] = e
    return out


def _train_together(
    ctx: Context,
    live: Live,
    source: Any,
    concrete: Concrete,
    jobs: list[tuple[dict[str, Any], int]],
) -> list[Any]:
    """Train seed runs `jobs` of one configuration together, then score and record each;
    each one's value or error."""
    runs: list[str] = []
    spec = ctx.bench.search

    def on_epoch(epoch: int, logs: list[dict[str, float]]) -> None:
        for run_id, log in zip(runs, logs, strict=True):
            if log:
                ctx.tracker.log_metrics(run_id, log, step=epoch)

    try:
        for p, job in jobs:
            runs.append(_open_seed_run(ctx, live, source, int(p["seed"]), int(p["rank"]), job))
            ctx.tracker.set_tags(runs[-1], {seeds_together.TAG: str(len(jobs))})
            _log_setup(ctx, runs[-1], concrete, source.params)
        preps = [_inputs(ctx, concrete, run_id) for run_id in runs]  # stats on every run
        batch = seeds_together.train_together(
            ctx.task,
            ctx.data,
            preps[0],
            live.cand.name,
            concrete,
            [int(p["seed"]) for p, _ in jobs],
            monitor=spec.metric,
            direction=spec.resolved_direction,
            on_epoch=on_epoch,
        )
    except BaseException as e:
        for run_id in runs:
            _fail_seed_run(ctx, run_id, e)
        if not isinstance(e, Exception):
            raise
        return [e] * len(jobs)
    ctx.reporter.message(
        f"{live.cand.name}: {len(jobs)} seeds trained together in {batch.seconds:.1f} s"
    )
    out: list[Any] = []
    for run_id, done in zip(runs, batch.results, strict=True):
        try:
            ctx.tracker.log_metrics(
                run_id, {"params": done.params, "batch_train_time_s": batch.seconds}
            )
            ctx.tracker.set_tags(run_id, {f"{seeds_together.TAG}.time": seeds_together.TIME_NOTE})
            for path, text in done.artifacts.items():
                ctx.tracker.log_text(run_id, text, path)
            out.append(_score_seed_run(ctx, run_id, concrete, done))
        except Exception as e:
            _fail_seed_run(ctx, run_id, e)
            out.append(e)
    return out


def _open_seed_run(ctx: Context, live: Live, source: Any, seed: int, rank: int, job: int) -> str:
    """The MLflow run of seed run `job`: trial `source`'s configuration with `seed`."""
    cand = live.cand
    return ctx.tracker.child_run(
        live.parent,
        f"{cand.name}/trial-{source.number}/seed-{seed}",
        {
            **live.tags,
            track.KIND: "seed",
            track.SEED: str(seed),
            "suite.best_trial": str(source.number),
            "suite.rank": str(rank),
            "suite.seed_trial": str(job),
            "suite.params": json.dumps(source.params),
            "suite.worker": _worker_label(),
        },
    )


def _log_setup(ctx: Context, run_id: str, concrete: Concrete, params: dict[str, Any]) -> None:
    """A seed run's parameters and data (its train, val and test splits)."""
    ctx.tracker.log_params(run_id, track.run_params(concrete.model_dump(mode="json"), params))
    _log_data(ctx, run_id, ("train", "val", "test"))


def _seed_run(
    ctx: Context,
    live: Live,
    source: Any,
    seed: int,
    rank: int,
    job: int,
    alone: str | None = None,
) -> float:
    """Train the configuration of trial `source` with `seed`, score it on test; its value.
    `alone`: why it was not trained together with other seeds (tagged)."""
    run_id = _open_seed_run(ctx, live, source, seed, rank, job)
    try:
        if alone is not None:
            ctx.tracker.set_tags(
                run_id, {seeds_together.TAG: "1", seeds_together.REASON_TAG: alone[:5000]}
            )
        concrete = live.cand.concrete(source.params)
        _log_setup(ctx, run_id, concrete, source.params)
        done = _train(ctx, live.cand, concrete, run_id, seed)
        return _score_seed_run(ctx, run_id, concrete, done)
    except BaseException as e:
        _fail_seed_run(ctx, run_id, e)
        raise


def _score_seed_run(ctx: Context, run_id: str, concrete: Concrete, done: TrialResult) -> float:
    """Score a trained seed run on test, log its model and end it; its value."""
    metric = ctx.bench.search.metric
    metrics = summary_metrics(done.fit, metric)
    data = done.inputs.data
    metrics.update(test_metrics(ctx.task, ctx.data, done, concrete.train.batch_size))
    metrics.update(latency_metrics(done.model, data.test.x))
    ctx.tracker.log_metrics(run_id, metrics)
    if data.target == "class" and data.test.y.ndim == 1:
        pred = done.model.predict(data.test.x, batch_size=concrete.train.batch_size, verbose=0)
        ctx.tracker.log_confusion(run_id, data.test.y, pred.argmax(-1), data.classes)
    _log_model(ctx, run_id, done)
    ctx.tracker.set_tags(run_id, {track.STATE: "COMPLETE"})
    ctx.tracker.end(run_id)
    return float(metrics.get("test_" + metric.removeprefix("val_"), metrics["objective"]))


def _fail_seed_run(ctx: Context, run_id: str, e: BaseException) -> None:
    """End a seed run as failed (killed when interrupted), with its reason; a full disk stops
    the run at once (suite.disk)."""
    disk.reraise(e)
    ctx.tracker.set_tags(run_id, {track.STATE: "FAIL", track.ERROR: str(e)[:5000] or "interrupted"})
    ctx.tracker.end(run_id, "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")


def _finish(ctx: Context, live: Live, status: str) -> CandidateSummary:
    """Record what the candidate consumed; end its parent run once no worker runs anything."""
    from optuna.trial import TrialState

    live.done = True
    parents.parent_metrics(ctx.tracker, live.parent, live.study)
    parents.tag_budget(ctx.tracker, live.parent, ctx.bench.search.resolved_direction)
    _register(ctx, live)
    if len(live.study.directions) > 1:
        parents.log_pareto(ctx.tracker, live.parent, live.study, ctx.bench.search.goals)
    busy = any(
        s.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) for s in (live.study, live.seeds)
    )
    if not busy:
        ctx.tracker.end(live.parent, "FAILED" if live.error and status == "FINISHED" else status)
    return CandidateSummary(live.cand.name, tuple(live.outcomes), live.stale, live.error)


def _publish(ctx: Context) -> None:
    """The leaderboard onto every candidate's parent run (parents.publish); a failure there
    is reported, and loses no result."""
    try:
        parents.publish(ctx.bench.name, ctx.tracker.uri)
    except Exception as e:
        ctx.reporter.message(f"results not written onto the parent runs: {type(e).__name__}: {e}")


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


def run(
    bench: Benchmark,
    *,
    only: Sequence[str] = (),
    trials: int | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    reporter: Reporter | None = None,
    recycle: Callable[[], None] | None = None,
    source: str | Path | None = None,
    rerun_failed: bool = False,
) -> list[CandidateSummary]:
    """Run (or resume, or join) every selected candidate's search and its seed runs.

    First each candidate's search goes as far as this worker can take it; then, in turn,
    it waits for other workers' last trials (taking over any that fail), runs queued seed
    runs, and records the candidate. Results land in MLflow and Optuna. `source` (the spec
    file) gives the git commit tagged on every run; `rerun_failed` retries only the failed
    trials and seed runs. `recycle()` runs before each training and may raise
    `suite.workers.Recycle`: this worker then stops where it is (nothing finished is lost)
    for a fresh process to carry on.
    """
    reporter = reporter or Reporter()
    chosen = _select(bench, only)
    try:
        storage = stores.resolve_storage(bench.name, storage)
    except ValueError as e:
        raise RunError(str(e)) from None
    data = load_data(bench)
    tracker = track.Tracker(bench.name, tracking_uri)
    h = spec_hash(bench)
    tracker.set_experiment_tags(
        {
            track.SPEC_HASH: h,
            track.METRIC: bench.search.metric,
            track.DIRECTION: bench.search.resolved_direction,
            "suite.objectives": json.dumps(bench.search.goals),
            "suite.task": bench.task,
            track.EXPERIMENT_KIND: track.MODEL_TRAINING,  # the UI opens on its runs
            "suite.data": json.dumps(bench.data.model_dump(mode="json"))[:5000],
            "suite.target": json.dumps(bench.search.target),
        }
    )
    tags = {
        track.SPEC_HASH: h,
        track.FINGERPRINT: data.fingerprint,
        track.DATASET: data.name,
        **environment(),
        **env.git_state(source),
        env.DETERMINISTIC: str(env.deterministic()).lower(),
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
        recycle,
        rerun_failed,
    )
    # Libraries and the dataset live as long as the process: frozen, they are not rescanned
    # by the full collection Keras runs between trials (0.5 s a trial otherwise).
    gc.collect()
    gc.freeze()
    budget = trials if trials is not None else bench.search.trials
    reporter.start(bench.name, len(chosen))
    lives: list[Live] = []
    summaries: dict[str, CandidateSummary] = {}
    with transfer.resolving(tracker.uri):  # where `pretrained` blocks find runs
        try:
            for cand in chosen:
                live = _open(ctx, cand, budget, storage)
                lives.append(live)
                _search(ctx, live, wait=False)
                if live.error is None and tally(live.study).running == 0:
                    _seed_runs(ctx, live)
                    summaries[cand.name] = _finish(ctx, live, "FINISHED")
            for live in lives:
                if live.done:
                    continue
                if live.error is None:
                    _search(ctx, live, wait=True)
                if live.error is None:
                    _seed_runs(ctx, live)
                summaries[live.cand.name] = _finish(ctx, live, "FINISHED")
            _publish(ctx)
        except KeyboardInterrupt:
            for live in lives:
                if not live.done:
                    _finish(ctx, live, "KILLED")
            raise
        finally:
            reporter.stop()
    return [summaries[live.cand.name] for live in lives]
