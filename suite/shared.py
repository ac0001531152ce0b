"""What the workers of one benchmark share beyond the study: per candidate, its MLflow
parent run, the queue of its seed runs (an Optuna study `<study>:seeds` whose queued
trials are the seed runs to do), its Pareto front, and the runs that dead workers left.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from suite import track
from suite.search import (
    REASON,
    RELEASED,
    claim_waiting,
    fail_stale,
    make_storage,
    owned,
    release,
    tally,
)

PARENT = "mlflow_parent"  # user attr of the seeds study: the candidate's MLflow parent run
PARETO = "suite.pareto"  # tag of trial runs: on the candidate's Pareto front or not


def is_best(study: Any, value: float) -> bool:
    """Better on the first objective than every completed trial so far."""
    from optuna.trial import TrialState

    done = [t.values[0] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not done:
        return True
    up = study.directions[0].name == "MAXIMIZE"
    return value > max(done) if up else value < min(done)


def on_front(study: Any, values: Sequence[float]) -> bool:
    """Whether no completed trial dominates `values` (all objectives at least as good)."""
    from optuna.trial import TrialState

    signs = [1 if d.name == "MAXIMIZE" else -1 for d in study.directions]
    mine = [s * v for s, v in zip(signs, values, strict=True)]
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        other = [s * v for s, v in zip(signs, t.values, strict=True)]
        if all(o >= m for o, m in zip(other, mine, strict=True)) and other != mine:
            return False
    return True


def grid_size(study: Any) -> int | None:
    grid = getattr(study.sampler, "_all_grids", None)
    return len(grid) if grid is not None else None


def parent_run(
    tracker: track.Tracker,
    study: Any,
    storage: str,
    candidate: str,
    tags: dict[str, str],
    enqueue: dict[str, Any] | None,
) -> tuple[str, Any]:
    """The candidate's MLflow parent run, made once however many workers start together.

    The worker that creates the seed queue (Optuna lets one do so) finds or creates the
    parent run, queues the spec's own values as the first trial, and records the run's id
    on the queue; the others wait for that id.
    """
    import optuna

    name = f"{study.study_name}:seeds"
    store = make_storage(storage)
    try:
        seeds = optuna.create_study(
            study_name=name,
            storage=store,
            direction=study.directions[0],
            load_if_exists=False,
        )
        creator = True
    except optuna.exceptions.DuplicatedStudyError:
        seeds = optuna.load_study(study_name=name, storage=store)
        creator = False
    parent = None
    if not creator:
        deadline = time.monotonic() + 60  # the creator may have died before recording it
        while parent is None and time.monotonic() < deadline:
            parent = store.get_study_user_attrs(seeds._study_id).get(PARENT)
            if parent is None:
                time.sleep(0.5)
    if parent is not None and tracker.reopen(parent):
        return parent, seeds
    parent = tracker.candidate_run(candidate, tags)
    if enqueue and not study.trials:
        study.enqueue_trial(dict(enqueue), skip_if_exists=True)
    seeds.set_user_attr(PARENT, parent)
    return parent, seeds


def end_dead_runs(tracker: track.Tracker, parent: str, study: Any, seeds: Any) -> int:
    """End the child runs left RUNNING whose trial (or seed run) is no longer running.

    A worker ends its MLflow run before it tells Optuna how the trial ended, so a run still
    RUNNING after its trial left that state belongs to a dead worker. Runs of trials that
    another worker is running are left alone.
    """
    from optuna.trial import TrialState

    candidates_ = tracker.running_children(parent)  # read before the trials' states
    if not candidates_:
        return 0
    running = {
        "trial": {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))},
        "seed": {t.number for t in seeds.get_trials(deepcopy=False, states=(TrialState.RUNNING,))},
    }
    ended = 0
    for run in candidates_:
        kind = run.data.tags.get(track.KIND, "")
        number = run.data.tags.get(track.TRIAL if kind == "trial" else "suite.seed_trial")
        alive = number is not None and number.isdigit() and int(number) in running.get(kind, ())
        if not alive:
            ended += tracker.end_stale(run.info.run_id)
    return ended


def top_trials(study: Any, k: int) -> list[Any]:
    """The k best completed configurations: by value, or the Pareto front by the first
    objective; a configuration tried twice counts once."""
    from optuna.trial import TrialState

    up = study.directions[0].name == "MAXIMIZE"
    if len(study.directions) > 1:
        pool = list(study.best_trials)
    else:
        pool = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    pool = sorted(pool, key=lambda t: (-t.values[0] if up else t.values[0], t.number))
    out, seen = [], set()
    for t in pool:
        key = json.dumps(t.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out[:k]


def queue_seeds(queue: Any, seeds: Sequence[int], configs: Sequence[Any]) -> None:
    """Queue a seed run per (configuration, seed) not already queued, running or done."""
    from optuna.trial import TrialState

    states = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
    have = {
        (t.system_attrs["fixed_params"]["trial"], t.system_attrs["fixed_params"]["seed"])
        for t in queue.get_trials(deepcopy=False, states=states)
        if "fixed_params" in t.system_attrs and not t.system_attrs.get(RELEASED)
    }
    for rank, t in enumerate(configs, 1):
        for seed in seeds:
            if (t.number, seed) not in have:
                queue.enqueue_trial({"trial": t.number, "seed": seed, "rank": rank})


def duplicate(seeds: Any, job: Any) -> bool:
    """Whether an earlier queued, running or finished seed run does the same work."""
    from optuna.trial import TrialState

    p = job.system_attrs["fixed_params"]
    states = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
    for t in seeds.get_trials(deepcopy=False, states=states):
        q = t.system_attrs.get("fixed_params", {})
        if (
            t._trial_id < job._trial_id
            and (q.get("trial"), q.get("seed")) == (p["trial"], p["seed"])
            and not t.system_attrs.get(RELEASED)
        ):
            return True
    return False


def parent_metrics(tracker: track.Tracker, parent: str, study: Any) -> None:
    from optuna.trial import TrialState

    now = tally(study)
    metrics: dict[str, float] = {
        "trials_complete": now.complete,
        "trials_pruned": now.pruned,
        "trials_failed": now.failed,
        "epochs_used": now.epochs,
    }
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if done:
        up = study.directions[0].name == "MAXIMIZE"
        values = [t.values[0] for t in done]
        metrics["best_objective"] = max(values) if up else min(values)
    tracker.log_metrics(parent, metrics)


def log_pareto(tracker: track.Tracker, parent: str, study: Any, goals: Sequence[Any]) -> None:
    """The Pareto front: pareto/front.json and .csv on the parent, a tag on every trial run."""
    import csv
    import io

    from optuna.trial import TrialState

    front = sorted(study.best_trials, key=lambda t: t.number)
    names = [m for m, _ in goals]
    rows = [
        {
            "trial": t.number,
            "run_id": t.user_attrs.get("mlflow_run_id", ""),
            **dict(zip(names, t.values, strict=True)),
            "params": t.params,
        }
        for t in front
    ]
    tracker.log_text(
        parent, json.dumps({"objectives": goals, "front": rows}, indent=2), "pareto/front.json"
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["trial", "run_id", *names, "params"])
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "params": json.dumps(r["params"])})
    tracker.log_text(parent, buf.getvalue(), "pareto/front.csv")
    on = {t.number for t in front}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        run_id = t.user_attrs.get("mlflow_run_id")
        if run_id:
            tracker.set_tags(run_id, {PARETO: "true" if t.number in on else "false"})


def run_queued(
    queue: Any,
    work: Callable[[dict[str, Any], int], float],
    before: Callable[[], None] | None = None,
) -> None:
    """Run the queue's seed runs until none is left: `work(params, number)` returns a value
    or raises (the run is then failed with its reason and the next one taken). `before()`
    runs before a queued run is claimed (it may raise to stop this worker)."""
    from optuna.trial import TrialState

    while True:
        fail_stale(queue)
        if before is not None and queue.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            before()
        job = claim_waiting(queue)
        if job is None:
            return
        with owned(queue, job._trial_id):
            if "fixed_params" not in job.system_attrs or duplicate(queue, job):
                release(queue, job._trial_id, requeue=False)
                continue
            try:
                value = work(job.system_attrs["fixed_params"], job.number)
            except KeyboardInterrupt:
                queue._storage.set_trial_system_attr(job._trial_id, REASON, "interrupted")
                queue.tell(job.number, state=TrialState.FAIL)
                raise
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
                queue._storage.set_trial_system_attr(job._trial_id, REASON, error[:2000])
                queue.tell(job.number, state=TrialState.FAIL)
                continue
            queue.tell(job.number, value if value == value and abs(value) != float("inf") else 0.0)


VERSION_SEP = "@v"  # a candidate's later study versions: `<bench>/<cand>@v2`, ...


def study_version(
    storage: str, base: str, keys: dict[str, tuple[str, ...]]
) -> tuple[str, int, bool]:
    """The study (name, version, whether it is new) of candidate study `base` whose recorded
    keys match: each of `keys` (a study user attr, e.g. spec_hash) maps to the values accepted
    for it. A study missing an attr is taken as matching (it predates that key). None
    matching: the next version, `base` itself when there is none yet.
    """
    import optuna

    summaries = optuna.get_all_study_summaries(make_storage(storage), include_best_trial=False)
    versions: dict[int, Any] = {}
    for s in summaries:
        name = s.study_name
        if name == base:
            versions[1] = s
        elif name.startswith(base + VERSION_SEP) and name[len(base) + 2 :].isdigit():
            versions[int(name[len(base) + 2 :])] = s
    for v in sorted(versions):
        attrs = versions[v].user_attrs
        if all(attrs.get(k) is None or attrs[k] in ok for k, ok in keys.items()):
            return (base if v == 1 else f"{base}{VERSION_SEP}{v}"), v, False
    if not versions:
        return base, 1, True
    v = max(versions) + 1
    return f"{base}{VERSION_SEP}{v}", v, True


def failed_to_retry(study: Any) -> list[Any]:
    """Failed trials that nothing has retried yet (handed-back ones excluded), oldest first."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.system_attrs.get("failed_trial") for t in trials}
    retried |= {t.user_attrs.get(RERUN_OF) for t in trials}
    return [
        t
        for t in trials
        if t.state == TrialState.FAIL
        and not t.system_attrs.get(RELEASED)
        and t.number not in retried
        and t.params
    ]


RERUN_OF = "suite.rerun_of"  # user attr: the failed trial a `--rerun-failed` trial retries


def enqueue_failed(study: Any) -> list[int]:
    """Queue each failed, not yet retried trial's configuration again; their numbers."""
    out = []
    for t in failed_to_retry(study):
        study.enqueue_trial(dict(t.params), user_attrs={RERUN_OF: t.number})
        out.append(t.number)
    return out
