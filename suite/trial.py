"""One trial: a concrete configuration, trained and scored; knows neither Optuna nor MLflow.

The runner (search trials and seed runs), `suite reproduce` and the dry run all go through
here: load the benchmark's data, prepare the task's inputs (text: token ids), build the
model, fit it with the callbacks the caller passes, and score it.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from suite.budget import tail_metrics
from suite.data import Dataset, prepare
from suite.spec.candidates import Concrete
from suite.spec.schema import Benchmark
from suite.tasks import TASKS, Task

LATENCY_BATCH = 32  # the fixed batch on which seed runs measure inference latency

# Within `collecting()`, once settled: each training freezes what its collection leaves.
_freezing = [False]


@contextmanager
def collecting() -> Iterator[Callable[[], None]]:
    """Garbage collection for a process that trains many models, as `runner.run` does.

    Until `settle()` (call it once the libraries are imported and the stores open) no
    automatic collection runs: each would rescan every object start-up built so far (about
    1.3 s of a run's start-up). `settle()` collects and freezes what lives on; from then on
    each training collects the previous one's objects and freezes what survives (the graphs
    TensorFlow keeps for every traced train step among them, tensorflow/tensorflow#97697),
    so no collection scans an object twice. Frozen objects stay frozen for the life of the
    process: one that dies later in a reference cycle is not collected (about 8,000 small
    objects a run, measured); unfreezing them at the end would make every later collection of
    a long-lived process (a notebook, the tests) rescan all of them."""
    was = gc.isenabled()
    gc.disable()

    def settle() -> None:
        gc.collect()
        gc.freeze()
        _freezing[0] = True
        if was:
            gc.enable()

    try:
        yield settle
    finally:
        _freezing[0] = False
        if was:
            gc.enable()


def fresh_session() -> None:
    """Reset Keras' global state and collect the previous training's objects (frozen
    afterwards within `collecting()`)."""
    import keras

    keras.backend.clear_session(free_memory=False)
    gc.collect()
    if _freezing[0]:
        gc.freeze()


@dataclass(frozen=True)
class TrialResult:
    """A trained model, how its fit went and the inputs it trained on."""

    model: Any  # keras.Model
    fit: Any  # suite.train.FitResult
    inputs: Any  # suite.text.cache.Prepared: the data as the model saw it, its tokenizer
    params: int  # trainable parameters
    artifacts: dict[str, str]  # the task's text artifacts (path -> text), e.g. a sample


@dataclass(frozen=True)
class Held:
    """A training kept for later without its live model: the model's configuration (what a
    `.keras` file keeps as `config.json`), its weights and its optimizer's state as host
    arrays, and its result. No live model, nor its memory on the device, outlives the training
    that made it."""

    config: str  # keras.saving.serialize_keras_object(model), as JSON
    weights: list[Any]  # model.get_weights()
    optimizer: list[Any]  # the optimizer's variables, in its order
    result: TrialResult  # model=None


def hold(done: TrialResult) -> Held:
    """`done` with its model kept as configuration, weights and optimizer state (about 8 ms for
    a small CNN, against 30 ms for a `.keras` file: no archive, no HDF5 and no walk of every
    attribute of every layer)."""
    import keras

    model = done.model
    optimizer = getattr(model, "optimizer", None)
    return Held(
        json.dumps(keras.saving.serialize_keras_object(model)),
        model.get_weights(),
        [keras.ops.convert_to_numpy(v) for v in optimizer.variables] if optimizer else [],
        replace(done, model=None),
    )


def restore(held: Held) -> TrialResult:
    """The held training with its model built again from its configuration (compiled as it
    was, the suite's custom layers registered) and its weights and optimizer state set."""
    import keras

    from suite.blocks.saved import register_custom_objects

    register_custom_objects()
    model = keras.saving.deserialize_keras_object(json.loads(held.config), safe_mode=True)
    model.set_weights(held.weights)
    if held.optimizer:
        variables = model.optimizer.variables
        if len(variables) != len(held.optimizer):
            raise ValueError(
                f"the optimizer has {len(variables)} variables, the held one {len(held.optimizer)}"
            )
        for variable, value in zip(variables, held.optimizer, strict=True):
            variable.assign(value)
    return replace(held.result, model=model)


def load_data(bench: Benchmark) -> Dataset:
    """The benchmark's dataset with its fixed splits (loaded once per process); what fails
    is a SpecError at `data` (suite.spec.errors.reported_at)."""
    from suite.spec.errors import reported_at

    common = {"name", "val_fraction", "test_fraction", "max_examples", "split_seed"}
    task = TASKS.get(bench.task)
    with reported_at(("data",), type(bench.data).model_fields):
        return prepare(
            bench.data.name,
            bench.data.model_dump(exclude=common),
            val_fraction=bench.data.val_fraction,
            test_fraction=bench.data.test_fraction,
            max_examples=bench.data.max_examples,
            seed=bench.data.split_seed,
            target=task.target,
            split=task.split,
        )


def inputs(task: Task, data: Dataset, setup: Any) -> Any:
    """The task's inputs for `setup` (a Concrete or a candidate; text: the ids of its
    tokenizer, cached by content)."""
    return task.inputs(data, setup.tokenizer)


def task_for(task: Task, data: Dataset, prep: Any) -> Task:
    """`task` bound to the data the model sees (token ids for text)."""
    return task if prep.data is data else task.bind(prep.data)


def build(task: Task, prep: Any, layers: Any, name: str) -> Any:
    """The Keras model of `layers` for the prepared inputs (vocabulary size passed in; padded
    sequences masked)."""
    from suite.build import build_model

    data = prep.data
    vocab = prep.tokenizer.vocab_size if prep.tokenizer else data.meta.get("vocabulary_size")
    mask = data.meta.get("mask_value")
    return build_model(
        layers,
        data.input_shape,
        task,
        task.num_outputs or data.num_classes,
        name,
        vocab_size=vocab,
        mask_value=None if mask is None else float(mask),
    )


def train(
    task: Task,
    data: Dataset,
    prep: Any,
    name: str,
    concrete: Concrete,
    seed: int,
    *,
    monitor: str,
    direction: str,
    callbacks: Sequence[Any] = (),
    on_built: Callable[[Any], None] | None = None,
) -> TrialResult:
    """Build and fit the model of `concrete` on `prep` with `seed`; `on_built(model)` runs
    before the fit (e.g. to record its size)."""
    from suite.train import fit, set_precision, set_seed

    bound = task_for(task, data, prep)
    fresh_session()  # the previous trial's graph and weights go
    set_seed(seed)
    set_precision(concrete.train)
    model = build(bound, prep, concrete.model.layers, name)
    if on_built is not None:
        on_built(model)
    result = fit(
        model,
        prep.data,
        concrete.train,
        bound,
        monitor=monitor,
        direction=direction,
        callbacks=list(callbacks),
    )
    artifacts = {} if result.stop == "nan" else bound.artifacts(model, prep.data)
    return TrialResult(model, result, prep, count_params(model), dict(artifacts))


def count_params(model: Any) -> int:
    """The model's trainable parameters."""
    from suite.build import trainable_params

    return trainable_params(model)


def summary_metrics(result: Any, metric: str) -> dict[str, float]:
    """A fit's summary: best value of each metric, the objective, epochs and speed."""
    out = {f"best_{k}": v for k, v in result.best.items()}
    out.update(
        objective=result.best.get(metric, float("nan")),
        epochs=result.epochs,
        best_epoch=result.best_epoch,
        train_time_s=result.train_time_s,
        first_epoch_s=result.first_epoch_s,
        samples_per_s=result.samples_per_s,
    )
    out.update(tail_metrics(result.history.get(metric, []), result.stop))
    return out


def test_metrics(task: Task, data: Dataset, done: TrialResult, batch_size: int) -> dict[str, float]:
    """The trained model's scores on the test split, as `test_<metric>`."""
    from suite.train import evaluate

    test_data = done.inputs.data
    scores = evaluate(done.model, test_data.test.x, test_data.test.y, batch_size)
    scores.update(
        task_for(task, data, done.inputs).extra_test_metrics(done.model, test_data, batch_size)
    )
    return {f"test_{k}": v for k, v in scores.items()}


def latencies(model: Any, x: Any, batch_size: int, repeats: int = 5) -> list[float]:
    """Milliseconds to predict one batch of `x`, `repeats` times (after one warm-up call)."""
    batch = x[:batch_size]
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_on_batch(batch)
        times.append((time.perf_counter() - t) * 1000)
    return times


def latency_ms(model: Any, x: Any, batch_size: int, repeats: int = 5) -> float:
    """Median milliseconds to predict one batch of `x` (after one warm-up call)."""
    times = sorted(latencies(model, x, batch_size, repeats))
    return times[len(times) // 2]


def latency_metrics(model: Any, x: Any, repeats: int = 10) -> dict[str, float]:
    """Inference latency on the first LATENCY_BATCH examples: p50, p95 and samples/s."""
    import numpy as np

    times = latencies(model, x, LATENCY_BATCH, repeats)
    n = min(LATENCY_BATCH, len(x))
    p50, p95 = (float(v) for v in np.percentile(times, [50, 95]))
    return {
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "latency_batch": float(n),
        "inference_samples_per_s": n / (p50 / 1000) if p50 > 0 else float("nan"),
    }


def goal_values(
    goals: Sequence[tuple[str, str]], done: TrialResult, batch_size: int
) -> list[float]:
    """Each objective's value: a metric at the best epoch, the parameter count or latency."""
    out = []
    for metric, _ in goals:
        if metric == "params":
            out.append(float(done.params))
        elif metric == "latency_ms":
            out.append(latency_ms(done.model, done.inputs.data.val.x, batch_size))
        else:
            out.append(float(done.fit.value(metric)))
    return out
