"""Optuna samplers and pruners, each registered once with its typed options."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


@SAMPLERS.register("qmc")
def qmc(
    qmc_type: Literal["sobol", "halton"] = "sobol",
    scramble: bool = True,
    *,
    seed: int | None = None,
) -> Any:
    """Quasi-Monte Carlo: low-discrepancy points that cover the space evenly."""
    import optuna

    return optuna.samplers.QMCSampler(qmc_type=qmc_type, scramble=scramble, seed=seed)


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


@PRUNERS.register("percentile")
def percentile(
    percentile: Annotated[float, Field(gt=0, lt=100)] = 25.0,
    n_startup_trials: NonNeg = 2,
    n_warmup_steps: NonNeg = 1,
) -> Any:
    """Stop a trial worse than the given percentile of earlier trials at that epoch."""
    import optuna

    return optuna.pruners.PercentilePruner(
        percentile, n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps
    )


@PRUNERS.register("successive_halving")
def successive_halving(
    min_resource: int | Literal["auto"] = "auto", reduction_factor: Annotated[int, Field(ge=2)] = 4
) -> Any:
    """Asynchronous successive halving: keep the top 1/reduction_factor at each rung."""
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=min_resource, reduction_factor=reduction_factor
    )


@PRUNERS.register("hyperband")
def hyperband(
    min_resource: Annotated[int, Field(ge=1)] = 1,
    max_resource: int | Literal["auto"] = "auto",
    reduction_factor: Annotated[int, Field(ge=2)] = 3,
) -> Any:
    """Hyperband: several successive-halving brackets with different budgets."""
    import optuna

    return optuna.pruners.HyperbandPruner(
        min_resource=min_resource, max_resource=max_resource, reduction_factor=reduction_factor
    )


@PRUNERS.register("none")
def none() -> Any:
    """Never prune."""
    import optuna

    return optuna.pruners.NopPruner()
