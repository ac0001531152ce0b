"""The search loop: ask, train, tell until the budget is spent, and the Keras callbacks
that report to Optuna (pruning, epochs trained)."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suite import disk
from suite.search import adapter
from suite.search.claims import fail_stale, over_budget, owned, release
from suite.search.studies import EPOCHS, REASON, tally
from suite.spec.space import suggest_all

POLL_S = 2.0  # how often a worker waiting on others looks again


class Pruned(Exception):
    """Raised by an objective when its trial was pruned (epochs run so far are kept)."""

    def __init__(self, epoch: int, value: float | None) -> None:
        super().__init__(f"pruned after epoch {epoch + 1}")
        self.epoch, self.value = epoch, value


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
        adapter.storage_of(study).set_trial_system_attr(
            adapter.trial_id(trial), REASON, "interrupted"
        )
        _tell(study, trial, state=TrialState.FAIL)
        raise
    except Exception as e:  # a failed trial is recorded, the search goes on
        disk.reraise(e)  # a full disk records nothing more: the next run retries the trial
        error = f"{type(e).__name__}: {e}"
        adapter.storage_of(study).set_trial_system_attr(
            adapter.trial_id(trial), REASON, error[:2000]
        )
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
        now = tally(study)
        if now.running and fail_stale(study):  # nothing runs: nothing is stale
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
        with owned(study, adapter.trial_id(trial)):
            if over_budget(study, adapter.trial_id(trial), trials):
                release(study, adapter.trial_id(trial))
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


def epoch_counter(study: Any, trial_id: int, every_s: float = 1.0) -> Any:
    """A Keras callback recording the epochs trained in the trial (for the epoch budget): at
    the end of training, after an epoch when the last write is `every_s` seconds old, and
    when `store()` is called (do so when training stops with an error or an interrupt; a
    killed process's count may miss the epochs of its last `every_s` seconds)."""
    import keras

    class EpochCount(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs = 0
            self.written = 0
            self.at = -math.inf

        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            self.epochs += 1
            if time.monotonic() - self.at >= every_s:
                self.write()

        def on_train_end(self, logs: Mapping[str, float] | None = None) -> None:
            self.store()

        def store(self) -> None:
            """Write the count unless it is written already."""
            if self.epochs != self.written:
                self.write()

        def write(self) -> None:
            adapter.storage_of(study).set_trial_user_attr(trial_id, EPOCHS, self.epochs)
            self.written, self.at = self.epochs, time.monotonic()

    return EpochCount()
