"""Optuna studies: one per candidate, shared by any number of workers, equal budgets.

Several processes (on one machine or many) run the same search by sharing the study's
storage; nothing else coordinates them. A worker starts a trial only while the completed,
pruned and running trials leave room in the budget, and checks right after `ask` that it
did not take a place another worker took at the same moment (the trials ahead of it, by
trial id, already fill the budget): then it hands the trial back. Trials whose worker died
are failed (its process gone, or on a database, its heartbeat stale) and retried. Knows
nothing of models.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from suite import settings, workers
from suite.spec.signature import unwrap
from suite.spec.space import suggest_all
from suite.strategies import PRUNERS, SAMPLERS, FromSpace

OWNER = "suite.worker"  # system attr: the process running the trial
REASON = "fail_reason"  # system attr: why a trial failed
RELEASED = "suite.released"  # system attr: a trial handed back unrun (over the budget)
EPOCHS = "epochs"  # user attr: epochs trained so far
POLL_S = 2.0  # how often a worker waiting on others looks again


class Pruned(Exception):
    """Raised by an objective when its trial was pruned (epochs run so far are kept)."""

    def __init__(self, epoch: int, value: float | None) -> None:
        super().__init__(f"pruned after epoch {epoch + 1}")
        self.epoch, self.value = epoch, value


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "") or default)


def heartbeat_interval() -> int:
    """Seconds between a trial's heartbeats on a database: $SUITE_HEARTBEAT_INTERVAL or 10."""
    return _env_int("SUITE_HEARTBEAT_INTERVAL", 10)


def grace_period() -> int:
    """Seconds without a heartbeat before a trial counts as dead: $SUITE_HEARTBEAT_GRACE."""
    return _env_int("SUITE_HEARTBEAT_GRACE", 3 * heartbeat_interval())


def max_retry() -> int:
    """How often a dead worker's trial is run again: $SUITE_MAX_RETRY or 2."""
    return _env_int("SUITE_MAX_RETRY", 2)


def default_storage() -> str:
    """$SUITE_OPTUNA_STORAGE, else a SQLite file under the results directory (one process)."""
    env = os.environ.get("SUITE_OPTUNA_STORAGE")
    if env:
        return env
    root = settings.results_dir().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'optuna.db'}"


def journal_storage() -> str:
    """The journal file under the results directory, shared by workers on one machine."""
    root = settings.results_dir().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return str(root / "optuna.journal")


def is_journal(storage: str) -> bool:
    return storage.endswith(".journal")


def _has_studies(storage: str, benchmark: str) -> bool:
    if storage.startswith("sqlite:///"):
        if not Path(storage.removeprefix("sqlite:///")).is_file():
            return False
    elif is_journal(storage) and not Path(storage).is_file():
        return False
    import optuna

    names = optuna.get_all_study_names(make_storage(storage))
    return any(n.startswith(f"{benchmark}/") for n in names)


def resolve_storage(benchmark: str, storage: str | None, workers: int = 1) -> str:
    """The storage to use: the given one, $SUITE_OPTUNA_STORAGE, else a file under results/.

    One process uses SQLite; several use the journal file. A benchmark stays in the file it
    began in: a rerun finds its studies there, and one begun in SQLite refuses several workers.
    """
    if storage or os.environ.get("SUITE_OPTUNA_STORAGE"):
        return storage or default_storage()
    sqlite, journal = default_storage(), journal_storage()
    if _has_studies(journal, benchmark):
        return journal
    if workers > 1:
        if _has_studies(sqlite, benchmark):
            raise ValueError(
                f"benchmark {benchmark!r} began in {sqlite}, which one process at a time "
                "may use: continue it without --workers, or delete it to start over"
            )
        return journal
    return sqlite


def local_storages() -> list[str]:
    """The default storages under the results directory that exist (SQLite, journal)."""
    out = [default_storage()]
    journal = journal_storage()
    if Path(journal).is_file() and not os.environ.get("SUITE_OPTUNA_STORAGE"):
        out.append(journal)
    return out


_STORAGES: dict[str, Any] = {}


def make_storage(url: str) -> Any:
    """An Optuna storage for `url`, one per process and URL.

    A path ending in .journal is Optuna's journal file; SQLite is a plain RDB storage; any
    other database records heartbeats, so a trial whose worker died is failed and retried.
    """
    if url in _STORAGES:
        return _STORAGES[url]
    import optuna

    if is_journal(url):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(url))
    elif url.startswith("sqlite:"):
        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    else:
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        retry = retry or optuna.storages.RetryFailedTrialCallback
        key = "heartbeat_stale_trial_callback"
        if key not in inspect.signature(optuna.storages.RDBStorage).parameters:
            key = "failed_trial_callback"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental
            options = {
                "heartbeat_interval": heartbeat_interval(),
                "grace_period": grace_period(),
                key: retry(max_retry=max_retry()),
            }
        for attempt in range(5):  # workers starting together race to create the tables
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    storage = optuna.storages.RDBStorage(url, **options)
                break
            except Exception:
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
    _STORAGES[url] = storage
    return storage


def open_study(
    name: str,
    storage: str,
    *,
    sampler: Any,
    pruner: Any,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    seed: int,
    space: Mapping[str, Any] | None = None,
) -> Any:
    """Create the study, or load it (another worker's, or to resume)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s_name, s_params = unwrap(sampler)
    if "seed" in s_params and s_params["seed"] is None:
        s_params["seed"] = seed
    made = SAMPLERS.get(s_name)(**s_params)
    if isinstance(made, FromSpace):
        made = made.make(space or {})
    p_name, p_params = unwrap(pruner)
    return optuna.create_study(
        study_name=name,
        storage=make_storage(storage),
        load_if_exists=True,
        directions=list(directions or [direction or "minimize"]),
        sampler=made,
        pruner=PRUNERS.get(p_name)(**p_params),
    )


_ACTIVE: set[int] = set()  # trial ids this process is running now


def _heartbeat(storage: Any) -> int | None:
    """The storage's heartbeat interval (seconds), or None when it records none."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


def _single_process(storage: Any) -> bool:
    """SQLite: a storage for one process, so a running trial not this one's is dead."""
    url = getattr(getattr(storage, "_backend", storage), "url", "")
    return isinstance(url, str) and url.startswith("sqlite:")


def _retry(study: Any, frozen: Any) -> None:
    storage = study._storage
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
    if trial._trial_id in _ACTIVE:
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

    storage = study._storage
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    if _heartbeat(storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)  # its callback queues the retries
    single = _single_process(storage)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _is_stale(t, single):
            continue
        storage.set_trial_system_attr(t._trial_id, REASON, "interrupted: its worker ended")
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first
        _retry(study, storage.get_trial(t._trial_id))
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    return sorted(before - running)


@dataclass(frozen=True)
class Tally:
    """Where a study stands against its budget."""

    complete: int
    pruned: int
    failed: int  # released trials (handed back unrun) excluded
    running: int
    waiting: int
    epochs: int  # trained by all trials so far, running ones included

    @property
    def counted(self) -> int:
        """Trials that count against the budget: completed and pruned."""
        return self.complete + self.pruned


def tally(study: Any) -> Tally:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials if not t.system_attrs.get(RELEASED)]
    return Tally(
        states.count(TrialState.COMPLETE),
        states.count(TrialState.PRUNED),
        states.count(TrialState.FAIL),
        states.count(TrialState.RUNNING),
        states.count(TrialState.WAITING),
        sum(int(t.user_attrs.get(EPOCHS, 0)) for t in trials),
    )


def counted(study: Any) -> int:
    """Trials that count against the budget: completed and pruned."""
    return tally(study).counted


def _over_budget(study: Any, trial_id: int, trials: int) -> bool:
    """Whether the trials ahead of this one (by id; queued ones too) already fill the budget."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    ahead = [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if t._trial_id < trial_id and not t.system_attrs.get(RELEASED)
    ]
    return len(ahead) >= trials


def release(study: Any, trial_id: int, requeue: bool = True) -> None:
    """Hand back a trial this worker will not run; a queued configuration is queued again
    (unless `requeue` is False: the work is done elsewhere)."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
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
    storage = study._storage
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

    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                return storage.get_trial(t._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _is_grid(study: Any) -> bool:
    """A grid search: it tries its own points only (Optuna's grid sampler cannot take a
    queued trial)."""
    import optuna

    return isinstance(study.sampler, optuna.samplers.GridSampler)


def _ask(study: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize"
        return study.ask()


@dataclass(frozen=True)
class Outcome:
    """How one trial ended, as told to Optuna."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL
    value: float | None  # the first objective's
    params: dict[str, Any]
    error: str | None = None
    values: tuple[float, ...] | None = None  # every objective's


Objective = Callable[[Any, dict[str, Any]], float | Sequence[float]]


def _tell(study: Any, trial: Any, **kwargs: Any) -> None:
    import optuna

    # failed meanwhile as stale (its heartbeat was late): its retry runs it again
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        study.tell(trial, **kwargs)


def _run_one(study: Any, trial: Any, space: Mapping[str, Any], objective: Objective) -> Outcome:
    from optuna.trial import TrialState

    params = suggest_all(trial, space)
    try:
        result = objective(trial, params)
    except Pruned as p:
        _tell(study, trial, state=TrialState.PRUNED)
        return Outcome(trial.number, "PRUNED", p.value, params)
    except KeyboardInterrupt:
        study._storage.set_trial_system_attr(trial._trial_id, REASON, "interrupted")
        _tell(study, trial, state=TrialState.FAIL)
        raise
    except Exception as e:  # a failed trial is recorded, the search goes on
        error = f"{type(e).__name__}: {e}"
        study._storage.set_trial_system_attr(trial._trial_id, REASON, error[:2000])
        _tell(study, trial, state=TrialState.FAIL)
        return Outcome(trial.number, "FAIL", None, params, error)
    values = tuple(float(v) for v in result) if isinstance(result, Sequence) else (float(result),)
    _tell(study, trial, values=list(values))
    return Outcome(trial.number, "COMPLETE", values[0], params, values=values)


def run_search(
    study: Any,
    space: Mapping[str, Any],
    objective: Objective,
    *,
    trials: int,
    timeout: float | None = None,
    epochs_budget: int | None = None,
    enqueue: Mapping[str, Any] | None = None,
    on_trial: Callable[[Outcome], None] | None = None,
    wait: bool = True,
    before_trial: Callable[[], None] | None = None,
    queued_only: bool = False,
) -> list[Outcome]:
    """Ask/tell until the budget is spent: `trials` completed or pruned (failed ones do not
    count), `timeout` seconds of this worker, or `epochs_budget` epochs of all trials.

    `objective(trial, params)` returns the value (or values), raises Pruned, or raises to
    fail the trial. On a new study, `enqueue` (the spec's own values) becomes the first
    trial. While other workers' running trials fill the rest of the budget, wait for them
    (one may fail and leave room) or, with `wait=False`, return. `before_trial()` runs
    before each trial is asked (it may raise to stop this worker, e.g. to recycle it).
    """
    if enqueue and not study.trials and not _is_grid(study):
        study.enqueue_trial(dict(enqueue), skip_if_exists=True)
    outcomes: list[Outcome] = []
    start = time.monotonic()
    failures_in_a_row = 0
    while True:
        fail_stale(study)
        now = tally(study)
        if now.counted >= trials:
            break
        if timeout is not None and time.monotonic() - start >= timeout:
            break
        if epochs_budget is not None and now.epochs >= epochs_budget:
            break
        if queued_only and now.waiting == 0:
            break
        if now.counted + now.running >= trials:
            if not wait:
                break
            time.sleep(POLL_S)
            continue
        if before_trial is not None:
            before_trial()
        trial = _ask(study)
        with owned(study, trial._trial_id):
            if _over_budget(study, trial._trial_id, trials):
                release(study, trial._trial_id)
                continue
            out = _run_one(study, trial, space, objective)
        failures_in_a_row = failures_in_a_row + 1 if out.state == "FAIL" else 0
        outcomes.append(out)
        if on_trial:
            on_trial(out)
        if failures_in_a_row >= max(3, trials):
            raise RuntimeError(
                f"{failures_in_a_row} trials in a row failed; the last error: {out.error}"
            )
    return outcomes


def pruning_callback(trial: Any, monitor: str, negate: bool = False) -> Any:
    """A Keras callback reporting `monitor` each epoch (negated when its direction is not the
    study's) and the epochs trained; stops training when Optuna prunes."""
    import keras

    class Pruning(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.pruned_at: int | None = None
            self.value: float | None = None

        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            value = (logs or {}).get(monitor)
            if value is None or not math.isfinite(value):
                return  # a NaN loss ends the trial as failed, not pruned
            self.value = float(value)
            trial.report(-self.value if negate else self.value, step=epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return Pruning()


def epoch_counter(study: Any, trial_id: int) -> Any:
    """A Keras callback recording the epochs trained in the trial (for the epoch budget)."""
    import keras

    class EpochCount(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs = 0

        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            self.epochs += 1
            study._storage.set_trial_user_attr(trial_id, EPOCHS, self.epochs)

    return EpochCount()
