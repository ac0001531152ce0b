"""The queue of a candidate's seed runs, shared by its workers: an Optuna study
`<study>:seeds` whose queued trials are the (configuration, seed) pairs to train. It also
records the candidate's MLflow parent run, so every worker logs under the same one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from suite import disk
from suite.search import adapter
from suite.search.claims import claim_waiting, fail_stale, owned, release
from suite.search.studies import REASON, RELEASED
from suite.stores import make_storage

PARENT = "mlflow_parent"  # user attr of the seeds study: the candidate's MLflow parent run


def open_queue(study: Any, storage: str) -> tuple[Any, bool]:
    """The seed queue of candidate study `study`: (queue, whether this call created it).
    Optuna lets exactly one of several workers starting together create it."""
    import optuna

    name = f"{study.study_name}:seeds"
    store = make_storage(storage)
    try:
        queue = optuna.create_study(
            study_name=name, storage=store, direction=study.directions[0], load_if_exists=False
        )
        return queue, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=name, storage=store), False


def recorded_parent(queue: Any, wait_s: float = 0.0) -> str | None:
    """The parent run recorded on the queue, waiting up to `wait_s` for its creator."""
    deadline = time.monotonic() + wait_s
    while True:
        parent = adapter.storage_of(queue).get_study_user_attrs(adapter.study_id(queue)).get(PARENT)
        if parent is not None or time.monotonic() >= deadline:
            return parent
        time.sleep(0.5)


def record_parent(queue: Any, run_id: str) -> None:
    """Record the candidate's parent run on its seed queue."""
    queue.set_user_attr(PARENT, run_id)


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
            adapter.trial_id(t) < adapter.trial_id(job)
            and (q.get("trial"), q.get("seed")) == (p["trial"], p["seed"])
            and not t.system_attrs.get(RELEASED)
        ):
            return True
    return False


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
        with owned(queue, adapter.trial_id(job)):
            if "fixed_params" not in job.system_attrs or duplicate(queue, job):
                release(queue, adapter.trial_id(job), requeue=False)
                continue
            try:
                value = work(job.system_attrs["fixed_params"], job.number)
            except KeyboardInterrupt:
                adapter.storage_of(queue).set_trial_system_attr(
                    adapter.trial_id(job), REASON, "interrupted"
                )
                queue.tell(job.number, state=TrialState.FAIL)
                raise
            except Exception as e:
                disk.reraise(e)  # recorded as interrupted by the next run
                error = f"{type(e).__name__}: {e}"
                adapter.storage_of(queue).set_trial_system_attr(
                    adapter.trial_id(job), REASON, error[:2000]
                )
                queue.tell(job.number, state=TrialState.FAIL)
                continue
            queue.tell(job.number, value if value == value and abs(value) != float("inf") else 0.0)


def run_queued_together(
    queue: Any,
    work: Callable[[list[tuple[dict[str, Any], int]]], list[float | Exception]],
    size: int,
    before: Callable[[], None] | None = None,
) -> None:
    """Run the queue's seed runs `size` at a time until none is left: `work(jobs)` gets the
    claimed runs as (params, number) and returns, for each, its value or the exception that
    failed it (its reason is recorded). `before()` runs before runs are claimed."""
    import contextlib

    from optuna.trial import TrialState

    while True:
        fail_stale(queue)
        if before is not None and queue.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            before()
        jobs = []
        while len(jobs) < size and (job := claim_waiting(queue)) is not None:
            if "fixed_params" not in job.system_attrs or duplicate(queue, job):
                release(queue, adapter.trial_id(job), requeue=False)
                continue
            jobs.append(job)
        if not jobs:
            return
        with contextlib.ExitStack() as stack:
            for job in jobs:
                stack.enter_context(owned(queue, adapter.trial_id(job)))
            try:
                values = work([(job.system_attrs["fixed_params"], job.number) for job in jobs])
            except KeyboardInterrupt:
                for job in jobs:
                    storage = adapter.storage_of(queue)
                    storage.set_trial_system_attr(adapter.trial_id(job), REASON, "interrupted")
                    queue.tell(job.number, state=TrialState.FAIL)
                raise
            except Exception as e:
                values = [e] * len(jobs)
            for job, value in zip(jobs, values, strict=True):
                if isinstance(value, Exception):
                    error = f"{type(value).__name__}: {value}"
                    adapter.storage_of(queue).set_trial_system_attr(
                        adapter.trial_id(job), REASON, error[:2000]
                    )
                    queue.tell(job.number, state=TrialState.FAIL)
                else:
                    finite = value == value and abs(value) != float("inf")
                    queue.tell(job.number, value if finite else 0.0)
