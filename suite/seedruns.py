"""Seed runs: the best configurations of a candidate re-trained on the benchmark's seeds
(one at a time, or together on JAX: suite.seeds_together) and scored on test, each its own
MLflow run, taken from the queue the candidate's workers share."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from suite import disk, seeds_together, track
from suite.runs import (
    Context,
    Live,
    log_artifacts,
    log_data,
    log_model,
    max_epochs,
    may_take_over,
    prepared_inputs,
    train_logged,
    worker_label,
)
from suite.search import (
    tally,
    top_trials,
)
from suite.search.seeds import queue_seeds, run_queued, run_queued_together
from suite.spec.candidates import Concrete
from suite.trial import (
    TrialResult,
    latency_metrics,
    restore,
    summary_metrics,
    test_metrics,
)
from suite.trial import inputs as trial_inputs

# a seed run whose training is its best trial's (same configuration and seed, deterministic
# ops): the trial's run id, and `.trial` its number
TRAINED_AS = "suite.trained_as"


def seed_runs(ctx: Context, live: Live) -> None:
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
        preps = [prepared_inputs(ctx, concrete, run_id) for run_id in runs]  # stats on every run
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
            "suite.worker": worker_label(),
        },
    )


def _log_setup(ctx: Context, run_id: str, concrete: Concrete, params: dict[str, Any]) -> None:
    """A seed run's parameters and data (its train, val and test splits)."""
    ctx.tracker.log_params(run_id, track.run_params(concrete.model_dump(mode="json"), params))
    log_data(ctx, run_id, ("train", "val", "test"))


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
        kept = _trained_already(ctx, live, source, seed)
        if kept is None:
            done = train_logged(ctx, live.cand, concrete, run_id, seed)
        else:
            done = _take_over(ctx, run_id, concrete, kept)
        return _score_seed_run(ctx, run_id, concrete, done)
    except BaseException as e:
        _fail_seed_run(ctx, run_id, e)
        raise


def _trained_already(
    ctx: Context, live: Live, source: Any, seed: int
) -> tuple[int, str, TrialResult] | None:
    """The training this seed run would repeat, when this process still holds it: the trial
    `source` itself (its number, run id and training), trained with the same configuration and
    `seed` under deterministic ops (bit for bit what a new training gives,
    `suite.runs.may_take_over`)."""
    kept = ctx.kept.get(live.cand.name)
    if kept is None or kept.number != source.number or seed != ctx.seed or not may_take_over(ctx):
        return None
    try:
        return kept.number, kept.run_id, restore(kept.held)
    except Exception as e:  # a model Keras does not load back: the seed run trains anew
        ctx.reporter.message(
            f"{live.cand.name}: seed {seed} trains anew, trial {kept.number}'s model did not load "
            f"back ({type(e).__name__}: {str(e)[:300]})"
        )
        return None


def _take_over(
    ctx: Context, run_id: str, concrete: Concrete, kept: tuple[int, str, TrialResult]
) -> TrialResult:
    """Log what `train_logged` logs for the kept trial's training (its size, every epoch's
    metrics, the task's artifacts), tagged with the trial it is; that training."""
    trial_number, trial_run, done = kept
    prepared_inputs(ctx, concrete, run_id)  # text: the tokenizer's stats, as a training logs
    ctx.tracker.set_tags(run_id, {TRAINED_AS: trial_run, f"{TRAINED_AS}.trial": str(trial_number)})
    ctx.tracker.log_metrics(run_id, {"params": float(done.params)})
    history = done.fit.history
    for epoch in range(done.fit.epochs):
        values = {k: v[epoch] for k, v in history.items() if epoch < len(v)}
        ctx.tracker.log_metrics(run_id, values, step=epoch, wait=False)
    log_artifacts(ctx, run_id, done)
    return done


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
    log_model(ctx, run_id, done)
    ctx.tracker.set_tags(run_id, {track.STATE: "COMPLETE"})
    ctx.tracker.end(run_id)
    return float(metrics.get("test_" + metric.removeprefix("val_"), metrics["objective"]))


def _fail_seed_run(ctx: Context, run_id: str, e: BaseException) -> None:
    """End a seed run as failed (killed when interrupted), with its reason; a full disk stops
    the run at once (suite.disk)."""
    disk.reraise(e)
    ctx.tracker.set_tags(run_id, {track.STATE: "FAIL", track.ERROR: str(e)[:5000] or "interrupted"})
    ctx.tracker.end(run_id, "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
