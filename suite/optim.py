"""Optimizer registry: each a function of its typed hyperparameters returning a Keras optimizer."""

from __future__ import annotations

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
def rmsprop(learning_rate: LR = 1e-3, rho: Decay = 0.9, **kw: Any) -> Any:
    """RMSprop."""
    import keras

    return keras.optimizers.RMSprop(learning_rate=learning_rate, rho=rho, **kw)


@OPTIMIZERS.register("nadam")
def nadam(learning_rate: LR = 1e-3, **kw: Any) -> Any:
    """Adam with Nesterov momentum."""
    import keras

    return keras.optimizers.Nadam(learning_rate=learning_rate, **kw)
