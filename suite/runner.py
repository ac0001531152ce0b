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
from pathlib import Path
from typing import Any

from suite import env, references, search, shared, track, transfer
from suite.data import Dataset, prepare
from suite.progress import Reporter
from suite.registry import Registry
from suite.search import Outcome, Pruned, fail_stale, open_study, run_search, tally
from suite.spec.candidates import CandidateSpec, Concrete, candidates
from suite.spec.load import legacy_spec_hash, spec_hash
from suite.spec.schema import Benchmark
from suite.tasks import TASKS, Task, direction_of


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


def environment() -> dict[str, str]:
    """Versions, backend and device, tagged on every run (see suite.env)."""
    return env.environment()


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
) -> tuple[Any, Any, Any]:
    """Build and fit one model; returns (model, FitResult, Prepared inputs)."""
    import keras

    from suite.build import build_model, trainable_params
    from suite.train import fit, set_precision, set_seed

    prep = _inputs(ctx, concrete, run_id)
    data = prep.data
    task = ctx.task if data is ctx.data else ctx.task.bind(data)
    vocab = prep.tokenizer.vocab_size if prep.tokenizer else data.meta.get("vocabulary_size")
    keras.backend.clear_session()  # the previous trial's graph and weights go
    set_seed(seed)
    set_precision(concrete.train)
    model = build_model(
        concrete.model.layers,
        data.input_shape,
        task,
        task.num_outputs or data.num_classes,
        cand.name,
        vocab_size=vocab,  # type: ignore[arg-type]
    )
    ctx.tracker.log_metrics(run_id, {"params": trainable_params(model)})
    spec = ctx.bench.search
    result = fit(
        model,
        data,
        concrete.train,
        task,
        monitor=spec.metric,
        direction=spec.resolved_direction,
        callbacks=[track.epoch_logger(ctx.tracker, run_id), ctx.reporter.callback(), *callbacks],
    )
    if result.stop != "nan":  # the task's text artifacts, e.g. a generated sample
        for path, text in task.artifacts(model, data).items():
            ctx.tracker.log_text(run_id, text, path)
    return model, result, prep


def _inputs(ctx: Context, concrete: Concrete, run_id: str) -> Any:
    """The task's inputs for this trial (text: token ids, cached); their stats are logged."""
    prep = ctx.task.inputs(ctx.data, concrete.tokenizer)
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


def _log_tokenizer(ctx: Context, run_id: str, prep: Any) -> None:
    """The fitted tokenizer and the class names beside the logged model."""
    if prep.tokenizer is None:
        return
    ctx.tracker.log_dir(run_id, prep.tokenizer.folder, "tokenizer")
    ctx.tracker.log_text(run_id, json.dumps(list(prep.data.classes)), "model/classes.json")


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


LATENCY_BATCH = 32  # the fixed batch on which seed runs measure inference latency


def latencies(model: Any, x: Any, batch_size: int, repeats: int = 5) -> list[float]:
    """Milliseconds to predict one batch of `x`, `repeats` times (after one warm-up call)."""
    batch = x[:batch_size]
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_on_batch(batch)
        times.append((time.perf_counter() - t) * 1000)
    return times


def latency_ms(model: Any, x: Any, batch_size: int, repeats: int = 5) -> float:
    """Median milliseconds to predict one batch of `x` (after one warm-up call)."""
    times = sorted(latencies(model, x, batch_size, repeats))
    return times[len(times) // 2]


def latency_metrics(model: Any, x: Any, repeats: int = 10) -> dict[str, float]:
    """Inference latency on the first LATENCY_BATCH examples: p50, p95 and samples/s."""
    import numpy as np

    times = latencies(model, x, LATENCY_BATCH, repeats)
    n = min(LATENCY_BATCH, len(x))
    p50, p95 = (float(v) for v in np.percentile(times, [50, 95]))
    return {
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "latency_batch": float(n),
        "inference_samples_per_s": n / (p50 / 1000) if p50 > 0 else float("nan"),
    }


def _goal_values(
    ctx: Context, model: Any, result: Any, batch_size: int, data: Dataset
) -> list[float]:
    """Each objective's value: a metric at the best epoch, the parameter count or latency."""
    from suite.build import trainable_params

    out = []
    for metric, _ in ctx.bench.search.goals:
        if metric == "params":
            out.append(float(trainable_params(model)))
        elif metric == "latency_ms":
            out.append(latency_ms(model, data.val.x, batch_size))
        else:
            out.append(float(result.value(metric)))
    return out


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
        fine = cand.train.fine_tune
        ctx.reporter.trial(trial.number, cand.train.epochs + (fine.epochs if fine else 0))
        try:
            concrete = cand.concrete(params)
            ctx.tracker.log_params(run_id, track.flatten(concrete.model_dump(mode="json")))
            callbacks: list[Any] = [epoch_counter(study, trial._trial_id)]
            pruner = None
            if prune:
                negate = direction_of(watched) != study.directions[0].name.lower()
                pruner = pruning_callback(trial, watched, negate)
                callbacks.append(pruner)
            model, result, prep = _train_one(ctx, cand, concrete, run_id, ctx.seed, callbacks)
            ctx.tracker.log_metrics(run_id, _summary_metrics(result, metric))
            if result.stop == "nan":
                raise FloatingPointError(f"the loss became NaN at epoch {result.epochs}")
            if pruner is not None and pruner.pruned_at is not None:
                ctx.tracker.set_tags(run_id, {track.STATE: "PRUNED"})
                ctx.tracker.end(run_id)
                raise Pruned(pruner.pruned_at, pruner.value)
            values = _goal_values(ctx, model, result, concrete.train.batch_size, prep.data)
            if len(goals) > 1:
                ctx.tracker.log_metrics(
                    run_id, {f"objective.{m}": v for (m, _), v in zip(goals, values, strict=True)}
                )
            best = shared.is_best(study, values[0])
            if best or (len(goals) > 1 and shared.on_front(study, values)):
                ctx.tracker.log_model(run_id, model)
                _log_tokenizer(ctx, run_id, prep)
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
            ctx.tracker.set_tags(
                run_id, {track.STATE: "FAIL", track.ERROR: f"{type(e).__name__}: {e}"[:5000]}
            )
            ctx.tracker.log_text(run_id, traceback.format_exc(), "error.txt")
            ctx.tracker.end(run_id, "FAILED")
            raise

    return objective


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
    grid = shared.grid_size(study)
    trials = min(trials, grid) if grid else trials
    enqueue = None if grid else cand.defaults()
    parent, seeds = shared.parent_run(ctx.tracker, study, storage, cand.name, tags, enqueue)
    stale = tuple(fail_stale(study))
    fail_stale(seeds)
    shared.end_dead_runs(ctx.tracker, parent, study, seeds)
    doc = cand.document()
    doc["model"].pop("space", None)
    ctx.tracker.log_params(parent, track.flatten(doc))
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
    name, version, new = shared.study_version(storage, base, keys)
    if new and version > 1:
        ctx.reporter.message(
            f"{cand.name}: the spec or the data changed since the earlier results; starting "
            f"study version {version} ({name!r}); earlier versions stay as they were"
        )
    return name, version


def _retry_failed(live: Live) -> int | None:
    """With --rerun-failed: queue the failed trials again; the budget that runs exactly them."""
    retried = shared.enqueue_failed(live.study)
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
    configs = shared.top_trials(live.study, ctx.bench.search.seeds_top_k)
    if not configs:
        return
    ctx.tracker.set_tags(live.parent, {"suite.best_trial": str(configs[0].number)})
    shared.queue_seeds(live.seeds, ctx.bench.seed_list, configs)

    def work(p: dict[str, Any], number: int) -> float:
        source = live.study.trials[int(p["trial"])]
        try:
            return _seed_run(ctx, live, source, int(p["seed"]), int(p["rank"]), number)
        except Exception as e:
            ctx.reporter.message(f"{live.cand.name}: seed run {p['seed']} failed: {e}")
            raise

    shared.run_queued(live.seeds, work, ctx.recycle)


def _seed_run(ctx: Context, live: Live, source: Any, seed: int, rank: int, job: int) -> float:
    """Train the configuration of trial `source` with `seed`, score it on test; its value."""
    from suite.train import evaluate

    cand = live.cand
    run_id = ctx.tracker.child_run(
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
    try:
        concrete = cand.concrete(source.params)
        ctx.tracker.log_params(run_id, track.flatten(concrete.model_dump(mode="json")))
        model, result, prep = _train_one(ctx, cand, concrete, run_id, seed)
        metric = ctx.bench.search.metric
        metrics = _summary_metrics(result, metric)
        data = prep.data
        test = evaluate(model, data.test.x, data.test.y, concrete.train.batch_size)
        task = ctx.task if data is ctx.data else ctx.task.bind(data)
        test.update(task.extra_test_metrics(model, data, concrete.train.batch_size))
        metrics.update({f"test_{k}": v for k, v in test.items()})
        metrics.update(latency_metrics(model, data.test.x))
        ctx.tracker.log_metrics(run_id, metrics)
        if data.target == "class" and data.test.y.ndim == 1:
            pred = model.predict(data.test.x, batch_size=concrete.train.batch_size, verbose=0)
            ctx.tracker.log_confusion(run_id, data.test.y, pred.argmax(-1), data.classes)
        ctx.tracker.set_tags(run_id, {track.STATE: "COMPLETE"})
        ctx.tracker.end(run_id)
        return float(metrics.get("test_" + metric.removeprefix("val_"), metrics["objective"]))
    except BaseException as e:
        ctx.tracker.set_tags(
            run_id, {track.STATE: "FAIL", track.ERROR: str(e)[:5000] or "interrupted"}
        )
        ctx.tracker.end(run_id, "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
        raise


def _finish(ctx: Context, live: Live, status: str) -> CandidateSummary:
    """Record what the candidate consumed; end its parent run once no worker runs anything."""
    from optuna.trial import TrialState

    live.done = True
    shared.parent_metrics(ctx.tracker, live.parent, live.study)
    if len(live.study.directions) > 1:
        shared.log_pareto(ctx.tracker, live.parent, live.study, ctx.bench.search.goals)
    busy = any(
        s.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) for s in (live.study, live.seeds)
    )
    if not busy:
        ctx.tracker.end(live.parent, "FAILED" if live.error and status == "FINISHED" else status)
    return CandidateSummary(live.cand.name, tuple(live.outcomes), live.stale, live.error)


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
        storage = search.resolve_storage(bench.name, storage)
    except ValueError as e:
        raise RunError(str(e)) from None
    data = load_data(bench)
    tracker = track.Tracker(bench.name, tracking_uri)
    store = transfer.TRACKING_URI.set(tracker.uri)  # where `pretrained` blocks find runs
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
    except KeyboardInterrupt:
        for live in lives:
            if not live.done:
                _finish(ctx, live, "KILLED")
        raise
    finally:
        reporter.stop()
        transfer.TRACKING_URI.reset(store)
    return [summaries[live.cand.name] for live in lives]
