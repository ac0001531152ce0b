"""Every registered sampler and pruner meets the same contract through the spec."""

from __future__ import annotations

import math

import pytest

from suite.search import Pruned, open_study, run_search
from suite.spec.schema import Search
from suite.spec.space import FloatRange, IntRange
from suite.spec.strategies import PRUNERS, SAMPLERS

SPACE = {
    "x": FloatRange.model_validate({"float": [-2.0, 2.0], "values": [-2.0, 0.5, 2.0]}),
    "n": IntRange.model_validate({"int": [1, 8]}),
}


def _objective(trial, params):
    value = (params["x"] - 0.5) ** 2 + params["n"] / 10
    for step in range(4):
        trial.report(value + (3 - step), step)
        if trial.should_prune():
            raise Pruned(step, value)
    return value


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampler_runs_a_budget_from_the_spec(sampler: str, tmp_path) -> None:
    search = Search.model_validate({"sampler": sampler, "pruner": "none", "metric": "val_loss"})
    study = open_study(
        f"s-{sampler}",
        f"sqlite:///{tmp_path / 'o.db'}",
        sampler=search.sampler,
        pruner=search.pruner,
        direction="minimize",
        seed=3,
        space=SPACE,
    )
    outcomes = run_search(study, SPACE, _objective, trials=4, enqueue={"x": 0.5, "n": 1})
    assert [o.state for o in outcomes] == ["COMPLETE"] * 4
    assert all(-2 <= o.params["x"] <= 2 and 1 <= o.params["n"] <= 8 for o in outcomes)
    if sampler == "grid":  # no enqueued trial: every trial a distinct point of the grid
        points = {(o.params["x"], o.params["n"]) for o in outcomes}
        assert len(points) == 4 and all(x in (-2.0, 0.5, 2.0) for x, _ in points)
        return
    assert study.trials[0].params == {"x": 0.5, "n": 1}
    assert math.isclose(study.best_value, 0.1)


@pytest.mark.parametrize("pruner", list(PRUNERS))
def test_pruner_is_built_from_the_spec_and_budget_counts_pruned(pruner: str, tmp_path) -> None:
    search = Search.model_validate({"pruner": pruner, "sampler": "random", "metric": "val_loss"})
    study = open_study(
        f"p-{pruner}",
        f"sqlite:///{tmp_path / 'o.db'}",
        sampler=search.sampler,
        pruner=search.pruner,
        direction="minimize",
        seed=0,
    )
    outcomes = run_search(study, SPACE, _objective, trials=8)
    assert len(outcomes) == 8  # completed and pruned trials both count
    states = {o.state for o in outcomes}
    assert states <= {"COMPLETE", "PRUNED"}
    if pruner == "none":
        assert states == {"COMPLETE"}


def test_unknown_sampler_option_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="n_startup_trails"):
        Search.model_validate({"sampler": {"tpe": {"n_startup_trails": 3}}})


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_resumed_search_proposes_new_points(sampler: str, tmp_path) -> None:
    """A search resumed in a new process (the study reopened) does not repeat the points its
    sampler proposed before the interruption; opening a new study twice stays reproducible."""
    search = Search.model_validate({"sampler": sampler, "pruner": "none", "metric": "val_loss"})
    space = {"x": FloatRange.model_validate({"float": [-2.0, 2.0]}), "n": SPACE["n"]}

    def opened(name: str):
        return open_study(
            name,
            f"sqlite:///{tmp_path / 'o.db'}",
            sampler=search.sampler,
            pruner=search.pruner,
            direction="minimize",
            seed=3,
            space=space,
        )

    first = run_search(opened("a"), space, _objective, trials=2)
    resumed = run_search(opened("a"), space, _objective, trials=4)
    xs = [o.params["x"] for o in first + resumed]
    assert len(xs) == 4 and len(set(xs)) == 4
    again = run_search(opened("b"), space, _objective, trials=2)
    assert [o.params["x"] for o in again] == [o.params["x"] for o in first]


def test_a_median_pruner_reads_the_finished_trials_once_a_trial(tmp_path) -> None:
    """Within one trial the pruner reuses its first read of the finished trials (each read
    costs about 2 ms an epoch); a new trial reads them again, so a single worker's decisions
    see every trial it finished; another worker's trial counts once the read is `fresh_s` old."""
    import time

    import optuna

    from suite.search.studies import reading_once

    search = Search.model_validate(
        {"pruner": {"median": {"n_startup_trials": 1, "n_warmup_steps": 0}}, "metric": "val_acc"}
    )
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    study = open_study(
        "m", storage, sampler=search.sampler, pruner=search.pruner, direction="maximize", seed=0
    )
    reads = []
    real = study.get_trials

    def counted(deepcopy=True, states=None):
        reads.append(states)
        return real(deepcopy=deepcopy, states=states)

    study.get_trials = counted  # a spy: the real storage answers

    def trial_reporting(values, tell=None):
        trial, decisions = study.ask(), []
        for step, v in enumerate(values):
            trial.report(v, step)
            decisions.append(trial.should_prune())
        if tell is not None:
            study.tell(trial, tell)
        return trial, decisions

    _, first = trial_reporting([0.1, 0.1, 0.1], tell=0.1)
    assert first == [False] * 3 and len(reads) == 1  # three epochs, one read
    _, second = trial_reporting([0.9, 0.9, 0.9], tell=0.9)  # above the median of [0.1]
    assert second == [False] * 3 and len(reads) == 2
    third, decisions = trial_reporting([0.3])  # below the median of [0.1, 0.9]: all read
    assert decisions == [True] and len(reads) == 3
    study.tell(third, state=optuna.trial.TrialState.PRUNED)

    # another worker finishes a trial while this one trains: seen once the read is fresh_s old
    study.pruner = reading_once(optuna.pruners.MedianPruner(1, 0), fresh_s=0.5)
    other = optuna.load_study(study_name="m", storage=storage)
    mine, early = trial_reporting([0.6])  # above the median of [0.1, 0.9]
    worker = other.ask()
    for step in range(3):
        worker.report(0.99, step)
    other.tell(worker, 0.99)
    mine.report(0.6, 1)
    assert early == [False] and not mine.should_prune()  # the read of step 0, reused
    time.sleep(0.6)
    mine.report(0.6, 2)
    assert mine.should_prune()  # read again: below the median of [0.1, 0.9, 0.99]
