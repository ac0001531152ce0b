"""The one place that touches Optuna's private members; each has a test in
tests/test_optuna_adapter.py, so an Optuna release that changes one fails there first.

Public replacements are used where Optuna has them (a study's id by its name); what has
none (a trial's storage id, a study's storage object, a grid's points) is read here.
"""

from __future__ import annotations

from typing import Any


def storage_of(study: Any) -> Any:
    """The storage object a study reads and writes (Optuna keeps it private)."""
    return study._storage


def trial_id(trial: Any) -> int:
    """A trial's id in its storage (unique across studies; Optuna keeps it private)."""
    return int(trial._trial_id)


def study_id(study: Any) -> int:
    """A study's id in its storage, through the storage's public look-up by name."""
    return int(storage_of(study).get_study_id_from_name(study.study_name))


def grid_size(study: Any) -> int | None:
    """How many points a grid sampler tries; None for other samplers."""
    grid = getattr(study.sampler, "_all_grids", None)
    return len(grid) if grid is not None else None


def storage_url(storage: Any) -> str:
    """The database URL of an RDB storage (through Optuna's cache layer); '' for others."""
    url = getattr(getattr(storage, "_backend", storage), "url", "")
    return url if isinstance(url, str) else ""
