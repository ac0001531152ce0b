"""Optuna samplers and pruners, each registered once with its typed options."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from suite.registry import Registry

SAMPLERS: Registry[Any] = Registry("sampler")
PRUNERS: Registry[Any] = Registry("pruner")

NonNeg = Annotated[int, Field(ge=0)]


@SAMPLERS.register("tpe")
def tpe(
    n_startup_trials: NonNeg = 5, multivariate: bool = False, *, seed: int | None = None
) -> Any:
    """Tree-structured Parzen estimator (the default)."""
    import optuna

    return optuna.samplers.TPESampler(
        n_startup_trials=n_startup_trials, multivariate=multivariate, seed=seed
    )


@SAMPLERS.register("random")
def random(*, seed: int | None = None) -> Any:
    """Uniform random sampling."""
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


@PRUNERS.register("median")
def median(
    n_startup_trials: NonNeg = 2, n_warmup_steps: NonNeg = 1, interval_steps: int = 1
) -> Any:
    """Stop a trial whose best so far is worse than the median of earlier trials at that epoch."""
    import optuna

    return optuna.pruners.MedianPruner(
        n_startup_trials=n_startup_trials,
        n_warmup_steps=n_warmup_steps,
        interval_steps=interval_steps,
    )


@PRUNERS.register("none")
def none() -> Any:
    """Never prune."""
    import optuna

    return optuna.pruners.NopPruner()
