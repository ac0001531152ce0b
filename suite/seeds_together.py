"""Seeds trained together: on the JAX backend, a configuration's N seed runs as one program.

Each seed's model is built as a seed run builds it (`keras.utils.set_random_seed(seed)`, then
the layers), so each has its own initialisation and its own dropout seed-generator state.
Their weights, optimizer states and metric states are stacked along a new leading axis and
Keras' stateless `train_step` / `test_step` (built on `model.stateless_call` and
`optimizer.stateless_apply`) is `jax.vmap`-ed over that axis: one compiled epoch trains all N.
Each seed draws its own data order (a NumPy generator seeded by the seed). Early stopping is a
per-seed mask: a stopped seed's state is no longer updated while the others train on. After
training, each seed's model gets its slice of the stacked weights back and is scored exactly
like a model trained alone.

Time is shared: each epoch's wall time is divided equally among the seeds that trained in it,
so the seeds' `train_time_s` add up to the batch's (with no early stop: the batch's / N).

`unsupported` says which recipes this covers (SUPPORTED); the runner trains the others one
seed at a time, with the reason logged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from suite.data import Dataset
from suite.spec.candidates import Concrete
from suite.spec.schema import Train
from suite.tasks import Task, direction_of

SUPPORTED = (
    "epochs, batch_size, optimizer (constant learning rate), clipnorm / clipvalue / "
    "global_clipnorm, label_smoothing, early_stopping (per seed, restoring its best weights)"
)
TAG = "suite.seeds_together"  # on a seed run: how many seeds trained with it (1: alone)
REASON_TAG = "suite.seeds_together_fallback"  # why it trained alone though asked not to
TIME_NOTE = "train_time_s, first_epoch_s and samples_per_s: each epoch's wall time shared equally"


def backend() -> str:
    """The Keras backend this process trains on (KERAS_BACKEND, read without importing
    Keras where it is not imported yet)."""
    import sys

    if "keras" in sys.modules:
        import keras

        return str(keras.backend.backend())
    import os

    return os.environ.get("KERAS_BACKEND", "tensorflow")


def unsupported(recipe: Train, task: Task, data: Dataset, seeds: int) -> str | None:
    """Why `seeds` seed runs of `recipe` cannot be trained together here; None when they can."""
    if recipe.seeds_together is False:
        return "train.seeds_together is false"
    if seeds < 2:
        return "a single seed to train"
    unfit = [
        name
        for name, on in (
            ("schedule", recipe.schedule is not None),
            ("fine_tune", recipe.fine_tune is not None),
            ("class_weight", recipe.class_weight is not None),
            ("weight_penalty", recipe.weight_penalty is not None),
            ("mixed_precision", recipe.mixed_precision),
        )
        if on
    ]
    if unfit:
        return f"train.{', train.'.join(unfit)} not supported together (supported: {SUPPORTED})"
    if backend() != "jax":
        return f"the {backend()} backend (seeds are trained together on JAX only)"
    if task.callbacks(data):
        return f"task {task.name!r} adds epoch metrics by callbacks"
    if isinstance(data.train.x, dict) or not hasattr(data.train.x, "shape"):
        return "inputs that are not one array"
    return None


@dataclass(frozen=True)
class Batch:
    """The seeds' trained models and fits (in the order of `seeds`), and the batch's time."""

    results: list[Any]  # suite.trial.TrialResult per seed
    seconds: float  # wall time of the batch's training (compilation included)
    epochs: int  # epochs the batch ran (its longest seed)


def _stack(values: Sequence[Sequence[Any]]) -> list[Any]:
    import jax.numpy as jnp

    return [jnp.stack([jnp.asarray(v[i]) for v in values]) for i in range(len(values[0]))]


def _repeat(values: Sequence[Any], n: int) -> list[Any]:
    import jax.numpy as jnp

    return [jnp.stack([jnp.asarray(v)] * n) for v in values]


def _select(mask: Any, new: Any, old: Any) -> Any:
    """`new` where the seed's `mask` is on, else `old` (a tree of stacked arrays)."""
    import jax
    import jax.numpy as jnp

    def pick(a: Any, b: Any) -> Any:
        m = jnp.reshape(mask, mask.shape + (1,) * (a.ndim - 1))
        return jnp.where(m, a, b)

    return jax.tree_util.tree_map(pick, new, old)


def _improved(current: float, best: float | None, delta: float, maximize: bool) -> bool:
    """Keras EarlyStopping's test: better than `best` by more than `delta`."""
    if best is None:
        return True
    return current - delta > best if maximize else current + delta < best


class _Stopping:
    """Early stopping for each seed, as keras.callbacks.EarlyStopping decides it."""

    def __init__(self, recipe: Train, n: int) -> None:
        self.es = recipe.early_stopping
        self.best: list[float | None] = [None] * n
        self.best_epoch = [0] * n
        self.wait = [0] * n
        self.weights: Any = None  # stacked (trainable, non-trainable) at each seed's best

    def update(self, epoch: int, logs: list[dict[str, float]], active: Any, weights: Any) -> Any:
        """After `epoch`: each active seed's best and wait; returns the seeds to stop."""
        import numpy as np

        es = self.es
        stop = np.zeros(len(logs), bool)
        if es is None:
            return stop
        maximize = direction_of(es.monitor) == "maximize"
        better = np.zeros(len(logs), bool)
        for k, log in enumerate(logs):
            if not active[k] or es.monitor not in log:
                continue
            self.wait[k] += 1
            if _improved(log[es.monitor], self.best[k], es.min_delta, maximize):
                self.best[k], self.best_epoch[k], self.wait[k] = log[es.monitor], epoch, 0
                better[k] = True
            elif self.wait[k] >= es.patience and epoch > 0:
                stop[k] = True
        if es.restore_best_weights:
            self.weights = (
                weights if self.weights is None else _select(better, weights, self.weights)
            )
        return stop


def split(a: Any, size: int) -> Any:
    """`a` (a multiple of `size` long) as batches: shape (len // size, size, ...)."""
    return a.reshape(-1, size, *a.shape[1:])


def _logs(logs: dict[str, Any], k: int, prefix: str = "") -> dict[str, float]:
    return {prefix + name: float(v[k]) for name, v in logs.items()}


def train_together(
    task: Task,
    data: Dataset,
    prep: Any,
    name: str,
    concrete: Concrete,
    seeds: Sequence[int],
    *,
    monitor: str,
    direction: str,
    on_epoch: Callable[[int, list[dict[str, float]]], None] | None = None,
) -> Batch:
    """Train the model of `concrete` on `prep` once per seed in `seeds`, all together (JAX);
    `on_epoch(epoch, logs per seed)` runs after each epoch."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from suite import trial
    from suite.train import FitResult, best_epoch, compile_model, set_precision, set_seed

    recipe = concrete.train
    bound = trial.task_for(task, data, prep)
    models = []
    for seed in seeds:
        keras.backend.clear_session()
        set_seed(seed)
        set_precision(recipe)
        models.append(trial.build(bound, prep, concrete.model.layers, name))
    lead, n = models[0], len(seeds)
    d = prep.data
    compile_model(lead, recipe, bound, jit_compile=True)
    lead.evaluate(d.train.x[:2], d.train.y[:2], verbose=0)  # builds the loss and metrics
    lead.optimizer.build(lead.trainable_variables)
    lead.reset_metrics()
    train_vars = _stack([[v.value for v in m.trainable_variables] for m in models])
    fixed_vars = _stack([[v.value for v in m.non_trainable_variables] for m in models])
    opt_vars = _repeat([v.value for v in lead.optimizer.variables], n)
    metric0 = _repeat([v.value for v in lead.metrics_variables], n)

    step = jax.vmap(lambda state, x, y: lead.train_step(state, (x, y)))
    check = jax.vmap(lambda state, x, y: lead.test_step(state, (x, y)), in_axes=(0, None, None))

    @jax.jit
    def epoch_fn(state: Any, x: Any, y: Any, index: Any, active: Any) -> Any:
        def body(carry: Any, ids: Any) -> Any:
            logs, new = step(carry, x[ids], y[ids])
            return _select(active, new, carry), logs

        state, logs = jax.lax.scan(body, state, index)
        return state, jax.tree_util.tree_map(lambda v: v[-1], logs)

    @jax.jit
    def val_fn(state: Any, xs: Any, ys: Any) -> Any:
        def body(carry: Any, batch: Any) -> Any:
            logs, new = check(carry, *batch)
            return new, logs

        state, logs = jax.lax.scan(body, state, (xs, ys))
        return state, jax.tree_util.tree_map(lambda v: v[-1], logs)

    x, y = jnp.asarray(d.train.x), jnp.asarray(d.train.y)
    vx, vy = np.asarray(d.val.x), np.asarray(d.val.y)
    size, total = recipe.batch_size, len(d.train)
    full, rest = divmod(total, size)
    vfull = len(vx) // size * size
    val_batches = []
    if vfull:
        val_batches.append((split(vx[:vfull], size), split(vy[:vfull], size)))
    if len(vx) > vfull:
        val_batches.append((vx[vfull:][None], vy[vfull:][None]))
    orders = [np.random.default_rng(seed) for seed in seeds]
    active = np.ones(n, bool)
    stopping = _Stopping(recipe, n)
    history: list[dict[str, list[float]]] = [{} for _ in seeds]
    ends = [""] * n
    durations: list[list[float]] = [[] for _ in seeds]
    start = time.perf_counter()
    for epoch in range(recipe.epochs):
        t = time.perf_counter()
        index = np.stack([o.permutation(total) for o in orders], axis=1)  # (examples, seeds)
        state = (train_vars, fixed_vars, opt_vars, metric0)
        mask = jnp.asarray(active)
        if full:
            batches = index[: full * size].reshape(full, size, n).transpose(0, 2, 1)
            state, logs = epoch_fn(state, x, y, batches, mask)
        if rest:
            state, logs = epoch_fn(state, x, y, index[full * size :].T[None], mask)
        train_vars, fixed_vars, opt_vars, _ = state
        vstate = (train_vars, fixed_vars, metric0)
        for vxs, vys in val_batches:
            vstate, vlogs = val_fn(vstate, vxs, vys)
        per_seed = [{**_logs(logs, k), **_logs(vlogs, k, "val_")} for k in range(n)]
        jax.block_until_ready(train_vars)
        share = (time.perf_counter() - t) / int(active.sum())
        for k in np.flatnonzero(active):
            for key, value in per_seed[k].items():
                history[k].setdefault(key, []).append(value)
            durations[k].append(share)
        if on_epoch is not None:
            on_epoch(epoch, [per_seed[k] if active[k] else {} for k in range(n)])
        stop = stopping.update(epoch, per_seed, active, (train_vars, fixed_vars))
        for k in np.flatnonzero(active):
            if not math.isfinite(per_seed[k]["loss"]):
                ends[k], active[k] = "nan", False
            elif stop[k]:
                ends[k], active[k] = "early_stopped", False
        if not active.any():
            break
    seconds = time.perf_counter() - start
    epochs_run = max(len(h.get("loss", [])) for h in history)
    kept = stopping.weights if stopping.weights is not None else (train_vars, fixed_vars)
    results = []
    for k, model in enumerate(models):
        for var, value in zip(model.trainable_variables, kept[0], strict=True):
            var.assign(value[k])
        for var, value in zip(model.non_trainable_variables, kept[1], strict=True):
            var.assign(value[k])
        compile_model(model, recipe, bound)
        hist, times = history[k], durations[k]
        done = len(times)
        if stopping.es is not None and stopping.es.restore_best_weights:
            idx = stopping.best_epoch[k]
        else:
            idx = best_epoch(hist.get(monitor, hist["loss"]), direction)  # type: ignore[arg-type]
        steady = times[1:]
        rate = len(d.train) * len(steady) / sum(steady) if steady else len(d.train) / times[0]
        fit = FitResult(
            history=hist,
            epochs=done,
            best_epoch=idx,
            best={key: v[idx] for key, v in hist.items() if len(v) > idx},
            train_time_s=sum(times),
            first_epoch_s=times[0],
            samples_per_s=rate,
            stop=ends[k] or "completed",  # type: ignore[arg-type]
        )
        art = {} if fit.stop == "nan" else bound.artifacts(model, d)
        results.append(trial.TrialResult(model, fit, prep, trial.count_params(model), dict(art)))
    return Batch(results, seconds, epochs_run)
