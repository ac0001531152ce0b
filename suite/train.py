"""Fit a compiled model on a dataset's splits; extras (pruning, tracking) come as callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from suite.data import Dataset
from suite.optim import OPTIMIZERS, SCHEDULES
from suite.spec.schema import Train
from suite.spec.signature import unwrap
from suite.tasks import Task, direction_of

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


def loss_for(recipe: Train, task: Task) -> Any:
    """The task's loss, or its label-smoothed form when the recipe asks for it."""
    if not recipe.label_smoothing:
        return task.keras_loss()
    if task.loss != "sparse_categorical_crossentropy":
        raise ValueError(
            f"train.label_smoothing applies to classification (sparse categorical "
            f"cross-entropy); task {task.name!r} uses the loss {task.loss!r}"
        )
    from suite.blocks.regularize import SparseSmoothedCrossentropy

    return SparseSmoothedCrossentropy(recipe.label_smoothing)


# Samples trained in a trial (examples x epochs) from which XLA pays for its compilation
# (5-12 s more in the first epoch) on a CPU: it made recurrent models 2-3x faster there and
# convolutional ones 1.3-2.6x slower (benchmarks/README.md).
XLA_MIN_SAMPLES = 20_000


def _recurrent(model: Any) -> bool:
    import keras

    return any(isinstance(layer, keras.layers.RNN) for layer in model._flatten_layers())


def resolve_jit(model: Any, recipe: Train, examples: int) -> bool | str:
    """The recipe's `jit_compile`; `auto` is Keras' own choice (XLA off on CPU-only
    TensorFlow) except for recurrent models on CPU-only TensorFlow, compiled when the trial
    trains at least XLA_MIN_SAMPLES samples and deterministic ops are off (Keras refuses XLA
    with them, warning at every compile)."""
    if recipe.jit_compile != "auto":
        return recipe.jit_compile
    import keras

    if keras.backend.backend() != "tensorflow" or not _recurrent(model):
        return "auto"
    import tensorflow as tf
    from tensorflow.python.framework.config import is_op_determinism_enabled

    if is_op_determinism_enabled():
        return "auto"

    if any(d.device_type != "CPU" for d in tf.config.list_physical_devices()):
        return "auto"
    return examples * total_epochs(recipe) >= XLA_MIN_SAMPLES


# Batches per compiled call by default: 8 made a small CNN's steady epochs 1.8-2.2x faster
# on this loaded CPU (per-step dispatch amortised; inconclusive when quiet), and an LSTM's
# 0-8 % slower, so recurrent models keep 1 (benchmarks/README.md).
STEPS_PER_EXECUTION = 8


def steps_per_execution(recipe: Train, model: Any = None) -> int:
    """The recipe's `steps_per_execution`; `auto` is STEPS_PER_EXECUTION, or 1 for recurrent
    models and with PyTorch (Keras' PyTorch trainer runs one batch per call)."""
    if recipe.steps_per_execution != "auto":
        return int(recipe.steps_per_execution)
    import keras

    if keras.backend.backend() == "torch" or (model is not None and _recurrent(model)):
        return 1
    return STEPS_PER_EXECUTION


def set_precision(recipe: Train) -> None:
    """Mixed precision (float16 compute, float32 weights) when the recipe asks, else float32;
    a global setting of Keras, so it is set before each model is built."""
    import keras

    keras.mixed_precision.set_global_policy(
        "mixed_float16" if recipe.mixed_precision else "float32"
    )


def compile_model(
    model: Any,
    recipe: Train,
    task: Task,
    *,
    rate_factor: float = 1.0,
    jit_compile: bool | str = "auto",
) -> None:
    """Compile with the recipe's optimizer (its rate times `rate_factor`), clipping, penalty,
    `steps_per_execution` and `jit_compile` (as `resolve_jit` decided)."""
    name, params = unwrap(recipe.optimizer)
    params["learning_rate"] = params["learning_rate"] * rate_factor
    for clip in ("clipnorm", "clipvalue", "global_clipnorm"):
        if getattr(recipe, clip) is not None:
            params[clip] = getattr(recipe, clip)
    if recipe.weight_penalty is not None:
        from suite.blocks.regularize import penalize_kernels

        penalize_kernels(model, recipe.weight_penalty.l1, recipe.weight_penalty.l2)
    model.compile(
        optimizer=OPTIMIZERS.get(name)(**params),
        loss=loss_for(recipe, task),
        metrics=list(task.metrics),
        steps_per_execution=steps_per_execution(recipe, model),
        jit_compile=jit_compile,
    )


def class_weights(recipe: Train, y: Any, num_classes: int) -> dict[int, float] | None:
    """The recipe's class weights for every class 0..num_classes-1 (unlisted classes: 1)."""
    import numpy as np

    spec = recipe.class_weight
    if spec is None:
        return None
    labels = np.asarray(y)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            "train.class_weight needs integer class labels (a classification task); "
            f"received labels of dtype {labels.dtype} and shape {labels.shape}"
        )
    if spec == "balanced":
        counts = np.bincount(labels, minlength=num_classes)
        n = int(counts.sum())
        return {c: n / (num_classes * int(k)) if k else 1.0 for c, k in enumerate(counts)}
    unknown = sorted(c for c in spec if c >= num_classes)
    if unknown:
        raise ValueError(
            f"train.class_weight: class(es) {unknown} do not exist; "
            f"the dataset has classes 0..{num_classes - 1}"
        )
    return {c: float(spec.get(c, 1.0)) for c in range(num_classes)}


def total_epochs(recipe: Train) -> int:
    """Epochs of the main phase plus the fine-tuning phase."""
    return recipe.epochs + (recipe.fine_tune.epochs if recipe.fine_tune else 0)


def _rate_log() -> Any:
    import keras

    class LearningRateLog(keras.callbacks.Callback):
        """Adds the learning rate used during each epoch to its logs (history, MLflow)."""

        def __init__(self) -> None:
            super().__init__()
            self._rate = float("nan")

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            lr = self.model.optimizer.learning_rate
            self._rate = float(keras.ops.convert_to_numpy(lr))

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None:
                logs["learning_rate"] = self._rate

    return LearningRateLog()


def _early_stopping(recipe: Train) -> Any:
    import keras

    es = recipe.early_stopping
    if es is None:
        return None
    return keras.callbacks.EarlyStopping(
        monitor=es.monitor,
        patience=es.patience,
        min_delta=es.min_delta,
        mode="min" if direction_of(es.monitor) == "minimize" else "max",
        restore_best_weights=es.restore_best_weights,
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


@dataclass
class _Phases:
    """Runs the training phases of one fit, gathering one history and how training ended."""

    data: Dataset
    recipe: Train
    class_weight: dict[int, float] | None
    early: Any  # the EarlyStopping callback, or None
    timer: Any  # the epoch timer, shared by the phases
    task_callbacks: Sequence[Any] = ()  # add task metrics to the logs, before early stopping
    history: dict[str, list[float]] = field(default_factory=dict)
    early_stopped: bool = False
    stopped: bool = False  # by something other than early stopping (e.g. a pruner)

    def run(self, model: Any, epochs: int, callbacks: Sequence[Any]) -> None:
        """Train `epochs` more epochs (numbered on from the last phase) with `callbacks`."""
        import keras

        start = len(self.history.get("loss", []))
        own = [
            self.timer,
            keras.callbacks.TerminateOnNaN(),
            *self.task_callbacks,
            *([self.early] if self.early else []),
        ]
        hist = model.fit(
            self.data.train.x,
            self.data.train.y,
            batch_size=self.recipe.batch_size,
            initial_epoch=start,
            epochs=start + epochs,
            validation_data=(self.data.val.x, self.data.val.y),
            shuffle=True,
            class_weight=self.class_weight,
            verbose=0,
            callbacks=[*own, *callbacks],
        )
        for k, vs in hist.history.items():
            self.history.setdefault(k, []).extend(float(v) for v in vs)
        by_early = self.early is not None and self.early.stopped_epoch > 0
        self.early_stopped |= by_early
        self.stopped |= bool(model.stop_training) and not by_early

    @property
    def nan(self) -> bool:
        return any(not math.isfinite(v) for v in self.history.get("loss", []))

    @property
    def stop(self) -> Literal["completed", "early_stopped", "stopped", "nan"]:
        if self.nan:
            return "nan"
        if self.stopped:
            return "stopped"
        return "early_stopped" if self.early_stopped else "completed"

    def best_epoch(self, monitor: str, direction: Direction) -> int:
        """The epoch whose weights early stopping restored, else the best epoch of `monitor`."""
        es = self.early
        if es is not None and es.restore_best_weights and es.best_weights is not None:
            return int(es.best_epoch)
        losses = self.history.get("loss", [])
        return best_epoch(self.history.get(monitor, losses), direction) if losses else 0


def _schedule(recipe: Train) -> list[Any]:
    """The main phase's rate callbacks: the schedule, then the rate logger."""
    out: list[Any] = []
    if recipe.schedule is not None:
        name, params = unwrap(recipe.schedule)
        base = unwrap(recipe.optimizer)[1]["learning_rate"]
        out.append(SCHEDULES.get(name)(**params).callback(base, recipe.epochs))
    if recipe.schedule is not None or recipe.fine_tune is not None:
        out.append(_rate_log())
    return out


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
    """Compile and train `model` on data.train, validating on data.val each epoch.

    The main phase runs `recipe.epochs` under the recipe's schedule; with `fine_tune`, a
    second phase unfreezes layers and trains on at a lower constant rate (the history and
    the epoch numbers continue). With early stopping that restores the best weights, the
    best epoch is the one whose weights the model ends with; otherwise it is the best
    epoch of `monitor`.
    """
    jit = resolve_jit(model, recipe, len(data.train))
    compile_model(model, recipe, task, jit_compile=jit)
    timer = _timer()
    weights = class_weights(recipe, data.train.y, data.num_classes)
    phases = _Phases(data, recipe, weights, _early_stopping(recipe), timer, task.callbacks(data))
    start = time.perf_counter()
    phases.run(model, recipe.epochs, [*_schedule(recipe), *callbacks])
    ft = recipe.fine_tune
    if ft is not None and timer.durations and not phases.nan and not phases.stopped:
        from suite.blocks.pretrained import unfreeze

        unfreeze(model, ft.unfreeze)
        compile_model(model, recipe, task, rate_factor=ft.learning_rate_factor, jit_compile=jit)
        phases.run(model, ft.epochs, [_rate_log(), *callbacks])
    total = time.perf_counter() - start
    epochs = len(timer.durations)
    idx = phases.best_epoch(monitor, direction)
    best = {k: v[idx] for k, v in phases.history.items() if len(v) > idx}
    steady = timer.durations[1:]
    n = len(data.train)
    rate = n * len(steady) / sum(steady) if steady else (n / timer.durations[0] if epochs else 0.0)
    return FitResult(
        history=phases.history,
        epochs=epochs,
        best_epoch=idx,
        best=best,
        train_time_s=total,
        first_epoch_s=timer.durations[0] if epochs else 0.0,
        samples_per_s=rate,
        stop=phases.stop,
    )


def evaluate(model: Any, x: Any, y: Any, batch_size: int) -> dict[str, float]:
    """Loss and metrics of `model` on (x, y)."""
    out = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {k: float(v) for k, v in out.items()}
