"""Each Optuna internal the suite reads (suite.search.adapter), checked against a real
study, so an Optuna release that changes one fails here first."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from suite.search import adapter
from suite.stores import make_storage


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name="s", storage=make_storage(url))


def test_storage_of_is_the_storage_the_study_writes(study: optuna.Study) -> None:
    storage = adapter.storage_of(study)
    assert isinstance(storage, optuna.storages.BaseStorage)
    study.set_user_attr("k", 1)
    assert storage.get_study_user_attrs(adapter.study_id(study)) == {"k": 1}


def test_trial_id_matches_the_public_look_up(study: optuna.Study) -> None:
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    other = optuna.create_study(study_name="t", storage=adapter.storage_of(study))
    trial = other.ask()
    storage = adapter.storage_of(other)
    sid = storage.get_study_id_from_name("t")
    assert adapter.trial_id(trial) == storage.get_trial_id_from_study_id_trial_number(sid, 0)
    frozen = study.trials[1]
    assert adapter.trial_id(frozen) == storage.get_trial_id_from_study_id_trial_number(
        adapter.study_id(study), 1
    )


def test_grid_size_counts_the_grid(tmp_path: Path) -> None:
    grid = optuna.samplers.GridSampler({"a": [1, 2, 3], "b": [0.1, 0.2]})
    assert adapter.grid_size(optuna.create_study(sampler=grid)) == 6
    assert adapter.grid_size(optuna.create_study()) is None


def test_storage_url_of_an_rdb_storage(study: optuna.Study, tmp_path: Path) -> None:
    assert adapter.storage_url(adapter.storage_of(study)).startswith("sqlite:///")
    journal = make_storage(str(tmp_path / "optuna.journal"))
    assert adapter.storage_url(journal) == ""
