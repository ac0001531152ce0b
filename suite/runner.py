"""Run a benchmark: for each candidate an Optuna search whose trials are MLflow child runs,
then the best configurations re-trained on the benchmark's seeds and scored on test.

Any number of workers may run this at once against one study storage and tracking store:
they share each candidate's study, its MLflow parent run and the queue of its seed runs.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from suite import env, parents, references, stores, track, transfer
from suite.data import Dataset
from suite.progress import Reporter
from suite.runs import (
    Context,
    Live,
    log_best,
    objective,
    register_champion,
    sampler_identity,
)
from suite.search import (
    Outcome,
    fail_stale,
    grid_size,
    open_study,
    run_search,
    tally,
)
from suite.search.versions import enqueue_failed, study_version
from suite.seedruns import seed_runs
from suite.spec.candidates import CandidateSpec, select
from suite.spec.load import legacy_spec_hash, spec_hash
from suite.spec.schema import Benchmark
from suite.tasks import TASKS
from suite.trial import (
    collecting,
    load_data,
)


class RunError(Exception):
    """A benchmark that cannot run as asked (unknown candidate, changed spec, ...)."""


@dataclass(frozen=True)
class CandidateSummary:
    name: str
    outcomes: tuple[Outcome, ...]
    stale_trials: tuple[int, ...]
    error: str | None = None


def environment() -> dict[str, str]:
    """Versions, backend and device, tagged on every run (see suite.env)."""
    return env.environment()


def _select(bench: Benchmark, only: Sequence[str]) -> list[CandidateSpec]:
    try:
        return select(bench, only)
    except KeyError as e:
        raise RunError(str(e)) from None


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
            worker=sampler_identity(),
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
            objective(ctx, live),
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
    log_best(ctx, live)  # before the seed runs and the champion


def _finish(ctx: Context, live: Live, status: str) -> CandidateSummary:
    """Record what the candidate consumed; end its parent run once no worker runs anything."""
    from optuna.trial import TrialState

    live.done = True
    parents.parent_metrics(ctx.tracker, live.parent, live.study)
    parents.tag_budget(ctx.tracker, live.parent, ctx.bench.search.resolved_direction)
    register_champion(ctx, live)
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
    with collecting() as settle:
        return _run(
            bench,
            only,
            trials,
            storage,
            tracking_uri,
            reporter,
            recycle,
            source,
            rerun_failed,
            settle,
        )


def _run(
    bench: Benchmark,
    only: Sequence[str],
    trials: int | None,
    storage: str | None,
    tracking_uri: str | None,
    reporter: Reporter | None,
    recycle: Callable[[], None] | None,
    source: str | Path | None,
    rerun_failed: bool,
    settle: Callable[[], None],
) -> list[CandidateSummary]:
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
    settle()  # libraries, stores and dataset are frozen: no collection rescans them
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
                    seed_runs(ctx, live)
                    summaries[cand.name] = _finish(ctx, live, "FINISHED")
            for live in lives:
                if live.done:
                    continue
                if live.error is None:
                    _search(ctx, live, wait=True)
                if live.error is None:
                    seed_runs(ctx, live)
                summaries[live.cand.name] = _finish(ctx, live, "FINISHED")
            _publish(ctx)
        except KeyboardInterrupt:
            for live in lives:
                if not live.done:
                    with contextlib.suppress(Exception):  # a full disk: the others still end
                        log_best(ctx, live)
                    _finish(ctx, live, "KILLED")
            raise
        finally:  # stopped otherwise (recycled, a full disk, an error): the best models go
            for live in lives:
                with contextlib.suppress(Exception):
                    log_best(ctx, live)
            reporter.stop()
    return [summaries[live.cand.name] for live in lives]
