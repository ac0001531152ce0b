"""Optuna studies: one per candidate, shared by any number of workers, equal budgets.

Several processes (on one machine or many) run the same search by sharing the study's
storage; nothing else coordinates them (see `suite.search.claims`). Knows nothing of models.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suite.search import adapter
from suite.spec.signature import unwrap
from suite.spec.strategies import PRUNERS, SAMPLERS, FromSpace
from suite.stores import make_storage

OWNER = "suite.worker"  # system attr: the process running the trial
REASON = "fail_reason"  # system attr: why a trial failed
RELEASED = "suite.released"  # system attr: a trial handed back unrun (over the budget)
EPOCHS = "epochs"  # user attr: epochs trained so far
FRESH_S = 1.0  # how old, within one trial, a pruner's read of the finished trials may grow


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
    worker: str | None = None,
) -> Any:
    """Create the study, or load it (another worker's, or to resume).

    The sampler's seed (the spec's, else `seed`) is mixed with `worker`, this process's
    identity among the benchmark's workers (see `sampler_seed`), and, when the study already
    holds trials (a resumed or joined search), with their number, so it proposes new points."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s_name, s_params = unwrap(sampler)
    seeded = "seed" in s_params
    given = seed if not seeded or s_params["seed"] is None else s_params["seed"]

    def made(identity: str | None) -> Any:
        params = {**s_params, "seed": sampler_seed(given, identity)} if seeded else s_params
        out = SAMPLERS.get(s_name)(**params)
        return out.make(space or {}) if isinstance(out, FromSpace) else out

    p_name, p_params = unwrap(pruner)
    study = optuna.create_study(
        study_name=name,
        storage=make_storage(storage),
        load_if_exists=True,
        directions=list(directions or [direction or "minimize"]),
        sampler=made(worker),
        pruner=reading_once(PRUNERS.get(p_name)(**p_params)),
    )
    held = len(study.get_trials(deepcopy=False))
    if held and seeded and s_name not in SEQUENCES:
        # resumed: a sampler seeded as before would propose the points it already proposed
        study.sampler = made(f"{worker or ''}/after-{held}")
    return study


def reading_once(pruner: Any, fresh_s: float = FRESH_S) -> Any:
    """`pruner` made to read the study's finished trials once per trial (a median or
    percentile pruner; any other is returned as it is).

    Such a pruner reads every completed trial at each `should_prune`, and through Optuna's
    cache that re-reads the running trial from the storage: about 2 ms an epoch. Wrapped, the
    first call of a trial reads them and later calls of the same trial reuse that read until
    it is `fresh_s` seconds old. One worker's finished trials cannot change while it trains
    one, so its decisions are unchanged; other workers' trials that finish meanwhile count
    within `fresh_s`, as with any worker whose epochs last that long."""
    import optuna

    if not isinstance(pruner, optuna.pruners.PercentilePruner):
        return pruner

    class ReadingOnce(optuna.pruners.BasePruner):
        def __init__(self) -> None:
            self.trial: tuple[str, int] | None = None  # the trial the reads below belong to
            self.reads: dict[tuple[Any, ...], tuple[float, list[Any]]] = {}

        def prune(self, study: Any, trial: Any) -> bool:
            if (study.study_name, trial.number) != self.trial:
                self.trial, self.reads = (study.study_name, trial.number), {}
            return bool(pruner.prune(_Finished(study, self.reads, fresh_s), trial))

    return ReadingOnce()


class _Finished:
    """A study as a pruner sees it: reads of finished trials (deepcopy=False) come from
    `reads` while they are less than `fresh_s` seconds old; everything else is the study's."""

    def __init__(self, study: Any, reads: dict[Any, Any], fresh_s: float) -> None:
        self._study, self._reads, self._fresh_s = study, reads, fresh_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[Any]:
        if deepcopy or states is None or not all(s.is_finished() for s in states):
            return self._study.get_trials(deepcopy=deepcopy, states=states)
        key, now = tuple(states), time.monotonic()
        read = self._reads.get(key)
        if read is None or now - read[0] >= self._fresh_s:
            read = (now, self._study.get_trials(deepcopy=False, states=states))
            self._reads[key] = read
        return read[1]


# samplers whose points are one seeded sequence indexed by the study's trial count (a resumed
# study carries on along it): re-seeding them on resume would break the sequence
SEQUENCES = ("qmc",)


def sampler_seed(seed: int, worker: str | None) -> int:
    """The seed of one worker's sampler: `seed` itself for a single process (or the first of
    `--workers N`), so its runs stay reproducible; for any other worker, `seed` mixed with
    its identity, so that two workers never propose the same points."""
    if not worker:
        return seed
    digest = hashlib.sha256(f"{seed}/{worker}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


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


def is_best(study: Any, value: float) -> bool:
    """Better on the first objective than every completed trial so far."""
    from optuna.trial import TrialState

    up = study.directions[0].name == "MAXIMIZE"
    if len(study.directions) == 1:  # one query for the best (not every trial read again)
        try:
            best = study.best_value
        except ValueError:  # none completed yet
            return True
    else:
        states = (TrialState.COMPLETE,)
        done = [t.values[0] for t in study.get_trials(deepcopy=False, states=states)]
        if not done:
            return True
        best = max(done) if up else min(done)
    return value > best if up else value < best


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


def grid_size(study: Any) -> int | None:
    """How many points the study's grid sampler tries; None for other samplers."""
    return adapter.grid_size(study)
