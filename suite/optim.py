"""Optimizers and learning-rate schedules: registries of functions of typed hyperparameters."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from suite.registry import Registry

OPTIMIZERS: Registry[Any] = Registry("optimizer")

LR = Annotated[float, Field(gt=0.0, le=10.0)]
Decay = Annotated[float, Field(ge=0.0, lt=1.0)]


@OPTIMIZERS.register("adam")
def adam(learning_rate: LR = 1e-3, beta_1: Decay = 0.9, beta_2: Decay = 0.999, **kw: Any) -> Any:
    """Adam."""
    import keras

    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, **kw)


@OPTIMIZERS.register("adamw")
def adamw(
    learning_rate: LR = 1e-3, weight_decay: Annotated[float, Field(ge=0.0)] = 4e-3, **kw: Any
) -> Any:
    """Adam with decoupled weight decay."""
    import keras

    return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay, **kw)


@OPTIMIZERS.register("sgd")
def sgd(learning_rate: LR = 1e-2, momentum: Decay = 0.9, nesterov: bool = False, **kw: Any) -> Any:
    """Stochastic gradient descent with momentum."""
    import keras

    return keras.optimizers.SGD(
        learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kw
    )


@OPTIMIZERS.register("rmsprop")
def rmsprop(learning_rate: LR = 1e-3, rho: Decay = 0.9, momentum: Decay = 0.0, **kw: Any) -> Any:
    """RMSprop (optionally with momentum)."""
    import keras

    return keras.optimizers.RMSprop(learning_rate=learning_rate, rho=rho, momentum=momentum, **kw)


@OPTIMIZERS.register("nadam")
def nadam(learning_rate: LR = 1e-3, **kw: Any) -> Any:
    """Adam with Nesterov momentum."""
    import keras

    return keras.optimizers.Nadam(learning_rate=learning_rate, **kw)


# Learning-rate schedules: each a function of its typed parameters returning a schedule,
# which makes the Keras callback for a given base rate and number of epochs.

SCHEDULES: Registry[Any] = Registry("schedule")

Every = Annotated[int, Field(ge=1)]
Epochs = Annotated[int, Field(ge=0)]
Factor = Annotated[float, Field(gt=0.0, lt=1.0)]
Floor = Annotated[float, Field(ge=0.0, lt=1.0)]


@dataclass(frozen=True)
class EpochSchedule:
    """A rate per epoch: `rate(epoch, base, epochs)`, applied at the start of each epoch."""

    rate: Callable[[int, float, int], float]

    def callback(self, base: float, epochs: int) -> Any:
        import keras

        return keras.callbacks.LearningRateScheduler(
            lambda epoch, _current: self.rate(epoch, base, epochs)
        )


@dataclass(frozen=True)
class PlateauSchedule:
    """The rate times `factor` whenever `monitor` stalls for `patience` epochs."""

    monitor: str
    factor: float
    patience: int
    min_delta: float
    cooldown: int
    min_factor: float

    def callback(self, base: float, epochs: int) -> Any:
        import keras

        from suite.tasks import direction_of

        return keras.callbacks.ReduceLROnPlateau(
            monitor=self.monitor,
            factor=self.factor,
            patience=self.patience,
            mode="min" if direction_of(self.monitor) == "minimize" else "max",
            min_delta=self.min_delta,
            cooldown=self.cooldown,
            min_lr=base * self.min_factor,
        )


def _warm(epoch: int, warmup: int) -> float:
    """Linear warmup: (e + 1) / (warmup + 1) of the rate for the first `warmup` epochs."""
    return (epoch + 1) / (warmup + 1) if epoch < warmup else 1.0


@SCHEDULES.register("step")
def step(every: Every = 10, factor: Factor = 0.1) -> EpochSchedule:
    """Step decay: the rate times `factor` every `every` epochs."""
    return EpochSchedule(lambda epoch, base, _n: base * factor ** (epoch // every))


@SCHEDULES.register("cosine")
def cosine(warmup_epochs: Epochs = 0, min_factor: Floor = 0.0) -> EpochSchedule:
    """Cosine decay from the rate towards min_factor x rate, after an optional linear warmup."""

    def rate(epoch: int, base: float, epochs: int) -> float:
        if epoch < warmup_epochs:
            return base * _warm(epoch, warmup_epochs)
        t = (epoch - warmup_epochs) / max(1, epochs - warmup_epochs)
        return base * (min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * t)))

    return EpochSchedule(rate)


@SCHEDULES.register("warmup")
def warmup(epochs: Every = 3) -> EpochSchedule:
    """Linear warmup over the first `epochs` epochs, then the constant rate."""
    return EpochSchedule(lambda epoch, base, _n: base * _warm(epoch, epochs))


@SCHEDULES.register("plateau")
def plateau(
    monitor: str = "val_loss",
    factor: Factor = 0.1,
    patience: Epochs = 2,
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0,
    cooldown: Epochs = 0,
    min_factor: Floor = 0.0,
) -> PlateauSchedule:
    """Reduce on plateau: the rate times `factor` when `monitor` stalls `patience` epochs."""
    return PlateauSchedule(monitor, factor, patience, min_delta, cooldown, min_factor)
