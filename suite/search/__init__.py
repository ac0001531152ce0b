"""Search: each candidate's Optuna study shared by its workers, the budget, the seed-run
queue and study versions. Optuna's private members are read in `adapter` alone."""

from suite.search.claims import claim_waiting, fail_stale, over_budget, owned, release
from suite.search.loop import Outcome, Pruned, epoch_counter, pruning_callback, run_search
from suite.search.studies import (
    EPOCHS,
    OWNER,
    REASON,
    RELEASED,
    Tally,
    counted,
    grid_size,
    is_best,
    on_front,
    open_study,
    tally,
    top_trials,
)

__all__ = [
    "EPOCHS",
    "OWNER",
    "REASON",
    "RELEASED",
    "Outcome",
    "Pruned",
    "Tally",
    "claim_waiting",
    "counted",
    "epoch_counter",
    "fail_stale",
    "grid_size",
    "is_best",
    "on_front",
    "open_study",
    "over_budget",
    "owned",
    "pruning_callback",
    "release",
    "run_search",
    "tally",
    "top_trials",
]
