"""GPU checks in one script (at most about 6 minutes): on the JAX backend, the MNIST-1D CNN
(specs/models/cnn1d.yaml) and reference GRU (specs/models/mnist1d_gru.yaml) trained as a
suite trial against a hand-written Keras `fit` of the same model (steady samples/s, goal
ratio >= 0.97), the CNN's time to 0.90 validation accuracy, samples/s with and without mixed
precision, trials per hour for 1, 2 and 4 workers sharing one GPU (`suite run --workers N`),
and 10 seeds trained together against one seed (goal: <= 3x the time of one).

Each part checks the time left (--budget seconds in all) and is skipped, and said so, when
it would not fit. --quick rehearses every part at a tiny size (on a CPU it proves the
script, not the figures). See benchmarks/README.md for the wheels it needs on a GPU machine.

    KERAS_BACKEND=jax python benchmarks/gpu.py --quick
    KERAS_BACKEND=jax python benchmarks/gpu.py --budget 330 --json gpu.json
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import subprocess
import sys
import time
from typing import Any

import _common as c
import seeds as seeds_bench

START = time.monotonic()
MODELS = {"cnn": "models/cnn1d.yaml", "gru": "models/mnist1d_gru.yaml"}


def left(budget: float) -> float:
    return budget - (time.monotonic() - START)


def setup(model: str, samples: int, epochs: int, overrides: tuple[str, ...] = ()) -> tuple:
    """(task, data, prep, concrete) of the quickstart recipe with `model`."""
    return seeds_bench.setup(model, samples, epochs, overrides)


def hand_fit(task: Any, prep: Any, conc: Any, epochs: int) -> float:
    """Steady samples/s of a hand-written compile + fit of the same model."""
    import keras

    from suite import trial

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = trial.build(task, prep, conc.model.layers, "hand")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    timer = c.epoch_timer()
    d = prep.data
    model.fit(
        d.train.x,
        d.train.y,
        batch_size=conc.train.batch_size,
        epochs=epochs,
        validation_data=(d.val.x, d.val.y),
        verbose=0,
        callbacks=[timer],
    )
    return c.steady_rate(len(d.train), timer.durations)


def suite_fit(task: Any, data: Any, prep: Any, conc: Any, callbacks: list[Any] = ()) -> Any:
    from suite import trial

    return trial.train(
        task,
        data,
        prep,
        "suite",
        conc,
        0,
        monitor="val_accuracy",
        direction="maximize",
        callbacks=list(callbacks),
    ).fit


def fidelity(report: c.Report, samples: int, epochs: int) -> None:
    for model in MODELS:
        task, data, prep, conc = setup(model, samples, epochs)
        ours = suite_fit(task, data, prep, conc).samples_per_s
        theirs = hand_fit(task, prep, conc, epochs)
        report.add(
            f"{model}: suite trial / hand-written fit",
            ours / theirs,
            "",
            goal=">= 0.97",
            note=f"{ours:.0f} vs {theirs:.0f} samples/s",
        )


def time_to_target(report: c.Report, samples: int, epochs: int, target: float = 0.90) -> None:
    import keras

    class Reached(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.t0, self.at = time.perf_counter(), None

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.at is None and (logs or {}).get("val_accuracy", 0.0) >= target:
                self.at = (time.perf_counter() - self.t0, epoch + 1)
                self.model.stop_training = True

    task, data, prep, conc = setup("cnn", samples, epochs)
    reached = Reached()
    fit = suite_fit(task, data, prep, conc, [reached])
    if reached.at is None:
        report.add(
            f"cnn: time to {target} val accuracy",
            "not reached",
            "",
            note=f"best {max(fit.history['val_accuracy']):.3f} in {fit.epochs} epochs",
        )
    else:
        report.add(
            f"cnn: time to {target} val accuracy", reached.at[0], "s", note=f"epoch {reached.at[1]}"
        )


def precision(report: c.Report, samples: int, epochs: int) -> None:
    for model in MODELS:
        rates = {}
        for mixed in (False, True):
            over = (f"train.mixed_precision={str(mixed).lower()}",)
            task, data, prep, conc = setup(model, samples, epochs, over)
            rates[mixed] = suite_fit(task, data, prep, conc).samples_per_s
        report.add(f"{model}: samples/s float32", rates[False], "/s")
        report.add(
            f"{model}: samples/s mixed_float16",
            rates[True],
            "/s",
            note=f"x{rates[True] / rates[False]:.2f}",
        )


def trials_per_hour(
    report: c.Report, workers: list[int], trials: int, epochs: int, samples: int, budget: float
) -> None:
    doc = {
        "name": "gpu-workers",
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": samples},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {
            "epochs": epochs,
            "batch_size": 100,
            "optimizer": {"adam": {"learning_rate": 0.01}},
        },
        "search": {"trials": trials, "pruner": {"none": {}}},
        "seeds": 0,
    }
    for n in workers:
        if left(budget) < 45:
            report.add(f"trials/hour, {n} workers on one GPU", "skipped", "", note="time budget")
            continue
        with c.temp_stores() as stores:
            spec = c.write_spec(stores.root, doc)
            env = {**os.environ, "SUITE_RESULTS_DIR": str(stores.root), "PYTHONPATH": str(c.ROOT)}
            env.setdefault("SUITE_CACHE_DIR", str(c.cache_dir()))
            cmd = [
                sys.executable,
                "-m",
                "suite.cli",
                "run",
                str(spec),
                "--quiet",
                "--workers",
                str(n),
            ]
            t = time.perf_counter()
            done = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=max(30, left(budget))
            )
            wall = time.perf_counter() - t
        if done.returncode != 0:
            report.add(
                f"trials/hour, {n} workers on one GPU",
                "failed",
                "",
                note=done.stderr.strip().splitlines()[-1][:80] if done.stderr else "",
            )
            continue
        report.add(
            f"trials/hour, {n} workers on one GPU",
            trials / wall * 3600,
            "/h",
            note=f"{trials} trials x {epochs} epochs in {wall:.0f} s (process start included)",
        )


def batched_seeds(report: c.Report, n: int, samples: int, epochs: int) -> None:
    for model in MODELS:
        m = seeds_bench.measure(model, n, samples, epochs, sequential=False)
        report.add(
            f"{model}: {n} seeds together, in units of one seed",
            m["together_s"] / m["one_s"],
            "x",
            goal="<= 3",
            note=f"{m['together_s']:.1f} s vs {m['one_s']:.1f} s",
        )


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=330.0, help="seconds for all parts")
    args = p.parse_args()
    q = args.quick
    report = c.start("gpu", q)
    c.quiet()
    import jax
    import keras

    devices = [str(d) for d in jax.devices()]
    print(f"  backend {keras.backend.backend()}, devices {devices}", flush=True)
    if not any(d.platform == "gpu" for d in jax.devices()):
        print("  no GPU: these figures are the CPU's, not a GPU's", flush=True)
    samples = 600 if q else 5000
    parts = [
        ("fidelity", lambda: fidelity(report, samples, 2 if q else 8), 60),
        ("time to 0.90", lambda: time_to_target(report, samples, 2 if q else 40), 60),
        ("mixed precision", lambda: precision(report, samples, 2 if q else 5), 60),
        (
            "batched seeds",
            lambda: batched_seeds(report, 3 if q else 10, samples, 1 if q else 5),
            60,
        ),
        (
            "workers",
            lambda: trials_per_hour(
                report,
                [1, 2] if q else [1, 2, 4],
                2 if q else 8,
                1 if q else 3,
                samples,
                args.budget,
            ),
            45,
        ),
    ]
    for name, run, need in parts:
        if left(args.budget) < need:
            report.add(name, "skipped", "", note=f"under {need} s of the budget left")
            continue
        t = time.perf_counter()
        run()
        print(f"  [{name}: {time.perf_counter() - t:.0f} s]", flush=True)
    print(f"  total {time.monotonic() - START:.0f} s", flush=True)
    report.finish(args.json)


if __name__ == "__main__":
    main()
