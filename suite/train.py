"""Fit a compiled model on a dataset's splits; extras (pruning, tracking) come as callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from suite.data import Dataset
from suite.optim import OPTIMIZERS
from suite.spec.schema import Train
from suite.spec.signature import unwrap
from suite.tasks import Task

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class FitResult:
    """What one training produced."""

    history: dict[str, list[float]]
    epochs: int
    best_epoch: int  # 0-based index into history
    best: dict[str, float]  # every metric at the best epoch
    train_time_s: float
    first_epoch_s: float
    samples_per_s: float  # steady state: epochs after the first
    stop: Literal["completed", "early_stopped", "stopped", "nan"]

    def value(self, metric: str) -> float:
        return self.best[metric]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend: weight initialisation and data order."""
    import keras

    keras.utils.set_random_seed(seed)


def compile_model(model: Any, recipe: Train, task: Task) -> None:
    name, params = unwrap(recipe.optimizer)
    if recipe.clipnorm is not None:
        params["clipnorm"] = recipe.clipnorm
    model.compile(
        optimizer=OPTIMIZERS.get(name)(**params), loss=task.loss, metrics=list(task.metrics)
    )


def _timer() -> Any:
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.durations: list[float] = []
            self._t = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.durations.append(time.perf_counter() - self._t)

    return EpochTimer()


def best_epoch(values: Sequence[float], direction: Direction) -> int:
    finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return len(values) - 1
    pick = max if direction == "maximize" else min
    return pick(finite, key=lambda t: (t[0], -t[1]) if direction == "maximize" else (t[0], t[1]))[1]


def fit(
    model: Any,
    data: Dataset,
    recipe: Train,
    task: Task,
    *,
    monitor: str,
    direction: Direction,
    callbacks: Sequence[Any] = (),
) -> FitResult:
    """Compile and train `model` on data.train, validating on data.val each epoch."""
    import keras

    compile_model(model, recipe, task)
    timer = _timer()
    own: list[Any] = [timer, keras.callbacks.TerminateOnNaN()]
    early = None
    if recipe.early_stopping:
        es = recipe.early_stopping
        early = keras.callbacks.EarlyStopping(
            monitor=es.monitor,
            patience=es.patience,
            min_delta=es.min_delta,
            mode="min" if "loss" in es.monitor else "max",
            restore_best_weights=es.restore_best_weights,
        )
        own.append(early)
    start = time.perf_counter()
    hist = model.fit(
        data.train.x,
        data.train.y,
        batch_size=recipe.batch_size,
        epochs=recipe.epochs,
        validation_data=(data.val.x, data.val.y),
        shuffle=True,
        verbose=0,
        callbacks=[*own, *callbacks],
    )
    total = time.perf_counter() - start
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    epochs = len(timer.durations)
    losses = history.get("loss", [])
    if any(not math.isfinite(v) for v in losses):
        stop = "nan"
    elif early is not None and early.stopped_epoch > 0:
        stop = "early_stopped"
    elif epochs < recipe.epochs:
        stop = "stopped"
    else:
        stop = "completed"
    idx = best_epoch(history.get(monitor, losses), direction) if epochs else 0
    best = {k: v[idx] for k, v in history.items() if len(v) > idx}
    steady = timer.durations[1:]
    n = len(data.train)
    rate = n * len(steady) / sum(steady) if steady else (n / timer.durations[0] if epochs else 0.0)
    return FitResult(
        history=history,
        epochs=epochs,
        best_epoch=idx,
        best=best,
        train_time_s=total,
        first_epoch_s=timer.durations[0] if epochs else 0.0,
        samples_per_s=rate,
        stop=stop,
    )


def evaluate(model: Any, x: Any, y: Any, batch_size: int) -> dict[str, float]:
    """Loss and metrics of `model` on (x, y)."""
    out = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {k: float(v) for k, v in out.items()}
