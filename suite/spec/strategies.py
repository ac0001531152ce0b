"""Optuna samplers and pruners as a spec names them: each registered once with its typed
options (the signature is the schema); Optuna is imported only when one is made."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from suite.registry import Registry

SAMPLERS: Registry[Any] = Registry("sampler")
PRUNERS: Registry[Any] = Registry("pruner")

NonNeg = Annotated[int, Field(ge=0)]
Prob = Annotated[float, Field(ge=0, le=1)]


@dataclass(frozen=True)
class FromSpace:
    """A sampler that can only be made once the candidate's search space is known."""

    make: Callable[[Mapping[str, Any]], Any]


@SAMPLERS.register("tpe")
def tpe(
    n_startup_trials: NonNeg = 5,
    multivariate: bool = False,
    constant_liar: bool = True,
    *,
    seed: int | None = None,
) -> Any:
    """Tree-structured Parzen estimator (the default); other workers' running trials count.

    With `constant_liar` a running trial counts as a bad one, so workers do not crowd one
    region of the space."""
    import optuna

    return optuna.samplers.TPESampler(
        n_startup_trials=n_startup_trials,
        multivariate=multivariate,
        constant_liar=constant_liar,
        seed=seed,
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


@SAMPLERS.register("grid")
def grid(*, seed: int | None = None) -> Any:
    """Every point of the grid the space spans (choices, int steps, floats' `values`), in turn."""

    def make(space: Mapping[str, Any]) -> Any:
        import optuna

        from suite.spec.space import grid as points

        return optuna.samplers.GridSampler(points(space), seed=seed)

    return FromSpace(make)


@SAMPLERS.register("cmaes")
def cmaes(
    n_startup_trials: NonNeg = 1,
    sigma0: Annotated[float, Field(gt=0)] | None = None,
    popsize: Annotated[int, Field(ge=2)] | None = None,
    use_separable_cma: bool = False,
    with_margin: bool = False,
    *,
    seed: int | None = None,
) -> Any:
    """CMA-ES over ints and floats (choices are sampled at random); needs `cmaes`."""
    import optuna

    return optuna.samplers.CmaEsSampler(
        n_startup_trials=n_startup_trials,
        sigma0=sigma0,
        popsize=popsize,
        use_separable_cma=use_separable_cma,
        with_margin=with_margin,
        warn_independent_sampling=False,
        seed=seed,
    )


@SAMPLERS.register("nsga2")
def nsga2(
    population_size: Annotated[int, Field(ge=2)] = 50,
    mutation_prob: Prob | None = None,
    crossover_prob: Prob = 0.9,
    swapping_prob: Prob = 0.5,
    *,
    seed: int | None = None,
) -> Any:
    """NSGA-II, a genetic algorithm for several objectives (Pareto fronts)."""
    import optuna

    return optuna.samplers.NSGAIISampler(
        population_size=population_size,
        mutation_prob=mutation_prob,
        crossover_prob=crossover_prob,
        swapping_prob=swapping_prob,
        seed=seed,
    )


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
