"""Which worker runs which trial of a shared study: ownership and heartbeats, queued
trials claimed once, trials handed back over the budget, and trials of dead workers failed
and retried.

A worker starts a trial only while the completed, pruned and running trials leave room in
the budget, and checks right after `ask` that it did not take a place another worker took
at the same moment (the trials ahead of it, by trial id, already fill the budget): then it
hands the trial back. Trials whose worker died are failed (its process gone, or on a
database, its heartbeat stale) and retried.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from suite import workers
from suite.search import adapter
from suite.search.studies import OWNER, REASON, RELEASED
from suite.stores import grace_period, max_retry

_ACTIVE: set[int] = set()  # trial ids this process is running now


def _heartbeat(storage: Any) -> int | None:
    """The storage's heartbeat interval (seconds), or None when it records none."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


def _single_process(storage: Any) -> bool:
    """SQLite: a storage for one process, so a running trial not this one's is dead."""
    url = adapter.storage_url(storage)
    return isinstance(url, str) and url.startswith("sqlite:")


def _retry(study: Any, frozen: Any) -> None:
    storage = adapter.storage_of(study)
    get = getattr(storage, "get_heartbeat_stale_trial_callback", None)
    callback = get() if get is not None else None
    if callback is None:
        import optuna

        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        retry = retry or optuna.storages.RetryFailedTrialCallback
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            callback = retry(max_retry=max_retry())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        callback(study, frozen)


def _is_stale(trial: Any, single_process: bool) -> bool:
    if adapter.trial_id(trial) in _ACTIVE:
        return False
    owner = trial.system_attrs.get(OWNER)
    if owner:
        return workers.alive(owner) is False or workers.is_me(owner)
    if single_process:
        return True  # nobody else may use this storage
    started = trial.datetime_start or datetime.now()
    return (datetime.now() - started).total_seconds() > grace_period()


def fail_stale(study: Any) -> list[int]:
    """Fail the trials whose worker died, and queue each again (up to max_retry times).

    Dead means: its process on this machine is gone, or (on a database) its heartbeat is
    older than the grace period. A trial another live worker runs is left alone. Returns
    the failed trials' numbers.
    """
    import optuna
    from optuna.trial import TrialState

    storage = adapter.storage_of(study)
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    if not before:
        return []  # nothing runs: nothing is stale
    if _heartbeat(storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)  # its callback queues the retries
    single = _single_process(storage)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _is_stale(t, single):
            continue
        try:  # another worker may fail it first, between the read above and these writes
            storage.set_trial_system_attr(
                adapter.trial_id(t), REASON, "interrupted: its worker ended"
            )
            if not storage.set_trial_state_values(adapter.trial_id(t), state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        _retry(study, storage.get_trial(adapter.trial_id(t)))
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    return sorted(before - running)


def over_budget(study: Any, trial_id: int, trials: int) -> bool:
    """Whether the trials ahead of this one (by id; queued ones too) already fill the budget."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    ahead = [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if adapter.trial_id(t) < trial_id and not t.system_attrs.get(RELEASED)
    ]
    return len(ahead) >= trials


def release(study: Any, trial_id: int, requeue: bool = True) -> None:
    """Hand back a trial this worker will not run; a queued configuration is queued again
    (unless `requeue` is False: the work is done elsewhere)."""
    import optuna
    from optuna.trial import TrialState

    storage = adapter.storage_of(study)
    frozen = storage.get_trial(trial_id)
    storage.set_trial_system_attr(trial_id, RELEASED, True)
    storage.set_trial_system_attr(trial_id, REASON, "released: the budget was full")
    storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
    if requeue and "fixed_params" in frozen.system_attrs:
        attrs = {k: v for k, v in frozen.system_attrs.items() if k not in (OWNER, RELEASED)}
        study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, system_attrs=attrs))


@contextlib.contextmanager
def owned(study: Any, trial_id: int) -> Iterator[None]:
    """Mark the trial as this process's and keep its heartbeat while the block runs."""
    storage = adapter.storage_of(study)
    _ACTIVE.add(trial_id)
    stop = threading.Event()
    beat = None
    interval = _heartbeat(storage)
    try:
        if interval:

            def loop() -> None:
                while True:
                    with contextlib.suppress(Exception):
                        storage.record_heartbeat(trial_id)
                    if stop.wait(interval):
                        return

            storage.record_heartbeat(trial_id)
            beat = threading.Thread(target=loop, daemon=True, name=f"heartbeat-{trial_id}")
            beat.start()
        storage.set_trial_system_attr(trial_id, OWNER, workers.identity())
        yield
    finally:
        stop.set()
        if beat is not None:
            beat.join()
        _ACTIVE.discard(trial_id)


def claim_waiting(study: Any) -> Any | None:
    """Take the oldest queued trial (state WAITING -> RUNNING) no other worker took; or None."""
    import optuna
    from optuna.trial import TrialState

    storage = adapter.storage_of(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(adapter.trial_id(t), state=TrialState.RUNNING):
                return storage.get_trial(adapter.trial_id(t))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None
