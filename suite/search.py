"""Optuna studies: one per candidate, resumable, equal budgets. Knows nothing of models."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from suite import settings
from suite.spec.signature import unwrap
from suite.spec.space import suggest
from suite.strategies import PRUNERS, SAMPLERS


class Pruned(Exception):
    """Raised by an objective when its trial was pruned (epochs run so far are kept)."""

    def __init__(self, epoch: int, value: float | None) -> None:
        super().__init__(f"pruned after epoch {epoch + 1}")
        self.epoch, self.value = epoch, value


def default_storage() -> str:
    """$SUITE_OPTUNA_STORAGE, else a SQLite file under the results directory."""
    env = os.environ.get("SUITE_OPTUNA_STORAGE")
    if env:
        return env
    root = settings.results_dir().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'optuna.db'}"


def open_study(
    name: str, storage: str, *, sampler: Any, pruner: Any, direction: str, seed: int
) -> Any:
    """Create the study, or load it to resume; trials left RUNNING by a dead process fail."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s_name, s_params = unwrap(sampler)
    if "seed" in s_params and s_params["seed"] is None:
        s_params["seed"] = seed
    p_name, p_params = unwrap(pruner)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction=direction,
        sampler=SAMPLERS.get(s_name)(**s_params),
        pruner=PRUNERS.get(p_name)(**p_params),
    )
    return study


def fail_stale(study: Any) -> list[int]:
    """Mark trials that a killed process left RUNNING as FAIL; returns their numbers."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_system_attr(t._trial_id, "fail_reason", "interrupted")
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    return [t.number for t in stale]


def counted(study: Any) -> int:
    """Trials that count against the budget: completed and pruned."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def pruning_callback(trial: Any, monitor: str) -> Any:
    """A Keras callback reporting `monitor` each epoch; stops training when Optuna prunes."""
    import keras

    class Pruning(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.pruned_at: int | None = None
            self.value: float | None = None

        def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
            value = (logs or {}).get(monitor)
            if value is None:
                return
            self.value = float(value)
            trial.report(self.value, step=epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return Pruning()


@dataclass(frozen=True)
class Outcome:
    """How one trial ended, as told to Optuna."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL
    value: float | None
    params: dict[str, Any]
    error: str | None = None


Objective = Callable[[Any, dict[str, Any]], float]


def run_search(
    study: Any,
    space: Mapping[str, Any],
    objective: Objective,
    *,
    trials: int,
    timeout: float | None = None,
    enqueue: Mapping[str, Any] | None = None,
    on_trial: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Ask/tell until `trials` trials are completed or pruned (failed ones do not count).

    `objective(trial, params)` returns the value, raises Pruned, or raises to fail the trial.
    On a new study, `enqueue` (the spec's own values) becomes the first trial.
    """
    from optuna.trial import TrialState

    if enqueue and not study.trials:
        study.enqueue_trial(dict(enqueue), skip_if_exists=True)
    outcomes: list[Outcome] = []
    start = time.monotonic()
    failures_in_a_row = 0
    while counted(study) < trials:
        if timeout is not None and time.monotonic() - start >= timeout:
            break
        trial = study.ask()
        params = {path: suggest(trial, path, dim) for path, dim in space.items()}
        try:
            value = objective(trial, params)
        except Pruned as p:
            study.tell(trial, state=TrialState.PRUNED)
            out = Outcome(trial.number, "PRUNED", p.value, params)
        except KeyboardInterrupt:
            study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as e:  # a failed trial is recorded, the search goes on
            study._storage.set_trial_system_attr(trial._trial_id, "fail_reason", str(e)[:2000])
            study.tell(trial, state=TrialState.FAIL)
            out = Outcome(trial.number, "FAIL", None, params, f"{type(e).__name__}: {e}")
        else:
            study.tell(trial, value)
            out = Outcome(trial.number, "COMPLETE", value, params)
        failures_in_a_row = failures_in_a_row + 1 if out.state == "FAIL" else 0
        outcomes.append(out)
        if on_trial:
            on_trial(out)
        if failures_in_a_row >= max(3, trials):
            raise RuntimeError(
                f"{failures_in_a_row} trials in a row failed; the last error: {out.error}"
            )
    return outcomes
