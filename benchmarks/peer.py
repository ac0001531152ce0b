"""The suite's search versus the same search written by hand with Optuna + MLflow (the way their
documentation shows: create_study, an objective with trial.suggest_*, nested MLflow runs, a
KerasPruningCallback-like callback, mlflow.keras.MlflowCallback), and versus KerasTuner's
BayesianOptimization where keras-tuner is installed. Same model (the 1-D CNN of
specs/models/cnn1d.yaml), space, data, trial count, epochs, batch size and seeds; TPE with 3
start-up trials and the median pruner for the two Optuna searches (KerasTuner has no
per-epoch median pruning, so it spends its whole budget). Interleaved in one process.

    python benchmarks/peer.py --quick
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import _common as c

# The space: cnn1d.yaml's own (the three conv1d filter counts, int [16, 64] log) plus the rate.
RATE = {"float": [3e-4, 1e-2], "log": True}
DEFAULTS = {  # the spec's own values, which the suite enqueues as the first trial
    "filters_0": 32,
    "filters_1": 32,
    "filters_2": 32,
    "learning_rate": 3e-3,
}
PRUNER = {"n_startup_trials": 2, "n_warmup_steps": 1}


def spec(trials: int, epochs: int, examples: int) -> dict[str, Any]:
    return {
        "name": "peer",
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": 4000, "max_examples": examples},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {
            "epochs": epochs,
            "batch_size": 64,
            "optimizer": {"adam": {"learning_rate": 3e-3}},
        },
        "search": {
            "trials": trials,
            "sampler": {"tpe": {"n_startup_trials": 3}},
            "pruner": {"median": PRUNER},
            "metric": "val_accuracy",
            "space": {"train.optimizer.adam.learning_rate": RATE},
        },
    }


def cnn1d(f0: int, f1: int, f2: int, lr: float, input_shape: tuple[int, ...]) -> Any:
    """specs/models/cnn1d.yaml written by hand in Keras, with its softmax head."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv1D(f0, 5, padding="same", activation="relu"),
            layers.Conv1D(f1, 3, padding="same", activation="relu"),
            layers.MaxPooling1D(2),
            layers.Conv1D(f2, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def run_suite(bench: Any) -> dict[str, Any]:
    import optuna

    from suite.progress import Reporter
    from suite.runner import run

    with c.temp_stores() as stores:
        t = c.now()
        run(bench, storage=stores.storage, tracking_uri=stores.tracking_uri, reporter=Reporter())
        wall = c.now() - t
        study = optuna.load_study(study_name="peer/cnn", storage=stores.storage)
        out = summarize("suite run", wall, study)
        out["epochs"] = sum(c.trial_epochs(stores.tracking_uri, bench.name))
        return out


def summarize(name: str, wall: float, study: Any) -> dict[str, Any]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    return {
        "name": name,
        "wall": wall,
        "best": study.best_value,
        "trials": len(trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "epochs": sum(len(t.intermediate_values) for t in trials),  # each epoch is reported
    }


def run_hand(data: Any, trials: int, epochs: int) -> dict[str, Any]:
    """Optuna + MLflow as their documentation shows them, with the same choices as the suite."""
    import keras
    import mlflow
    import mlflow.keras
    import optuna

    class KerasPruningCallback(keras.callbacks.Callback):  # as optuna-integration's
        def __init__(self, trial: optuna.Trial, monitor: str) -> None:
            super().__init__()
            self.trial, self.monitor = trial, monitor

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            value = (logs or {}).get(self.monitor)
            if value is None:
                return
            self.trial.report(float(value), step=epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"trial {self.trial.number} pruned at epoch {epoch}")

    with c.temp_stores() as stores:
        mlflow.set_tracking_uri(stores.tracking_uri)
        mlflow.set_experiment("peer-hand")
        best_so_far: list[float] = []

        def objective(trial: optuna.Trial) -> float:
            f0 = trial.suggest_int("filters_0", 16, 64, log=True)
            f1 = trial.suggest_int("filters_1", 16, 64, log=True)
            f2 = trial.suggest_int("filters_2", 16, 64, log=True)
            lr = trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True)
            with mlflow.start_run(nested=True, run_name=f"trial-{trial.number}"):
                mlflow.log_params(trial.params)
                keras.utils.set_random_seed(0)
                model = cnn1d(f0, f1, f2, lr, data.input_shape)
                hist = model.fit(
                    data.train.x,
                    data.train.y,
                    batch_size=64,
                    epochs=epochs,
                    validation_data=(data.val.x, data.val.y),
                    shuffle=True,
                    verbose=0,
                    callbacks=[
                        KerasPruningCallback(trial, "val_accuracy"),
                        mlflow.keras.MlflowCallback(),
                    ],
                )
                value = max(hist.history["val_accuracy"])
                mlflow.log_metric("best_val_accuracy", value)
                if not best_so_far or value > max(best_so_far):  # keep the best model
                    with tempfile.TemporaryDirectory() as tmp:
                        path = Path(tmp) / "model.keras"
                        model.save(path)
                        mlflow.log_artifact(str(path), "model")
                best_so_far.append(value)
                return value

        t = c.now()
        with mlflow.start_run(run_name="cnn"):
            study = optuna.create_study(
                study_name="peer-hand",
                storage=stores.storage,
                direction="maximize",
                sampler=optuna.samplers.TPESampler(n_startup_trials=3, seed=0),
                pruner=optuna.pruners.MedianPruner(**PRUNER),
            )
            study.enqueue_trial(DEFAULTS)
            study.optimize(objective, n_trials=trials)
        wall = c.now() - t
        mlflow.set_tracking_uri("")
        return summarize("Optuna + MLflow by hand", wall, study)


def run_keras_tuner(data: Any, trials: int, epochs: int) -> dict[str, Any] | None:
    try:
        import keras_tuner as kt
    except ImportError:
        return None
    import keras

    def build(hp: Any) -> Any:
        return cnn1d(
            hp.Int("f0", 16, 64, sampling="log", default=32),
            hp.Int("f1", 16, 64, sampling="log", default=32),
            hp.Int("f2", 16, 64, sampling="log", default=32),
            hp.Float("lr", 3e-4, 1e-2, sampling="log", default=3e-3),
            data.input_shape,
        )

    with tempfile.TemporaryDirectory(prefix="suite-bench-kt-") as tmp:
        keras.utils.set_random_seed(0)
        tuner = kt.BayesianOptimization(
            build,
            objective="val_accuracy",
            max_trials=trials,
            num_initial_points=3,
            seed=0,
            directory=tmp,
            project_name="peer",
            overwrite=True,
        )
        t = c.now()
        try:
            tuner.search(
                data.train.x,
                data.train.y,
                batch_size=64,
                epochs=epochs,
                validation_data=(data.val.x, data.val.y),
                shuffle=True,
                verbose=0,
            )
        except RuntimeError as e:  # e.g. its TensorFlow path imports tensorboard
            return {"name": "KerasTuner BayesianOptimization", "error": str(e)[:200]}
        wall = c.now() - t
        done = list(tuner.oracle.trials.values())
        return {
            "name": "KerasTuner BayesianOptimization",
            "wall": wall,
            "best": tuner.oracle.get_best_trials(1)[0].score,
            "trials": len(done),
            "pruned": 0,
            "epochs": len(done) * epochs,
        }


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    args = p.parse_args()
    report = c.start("peer", args.quick)
    c.quiet()
    trials, epochs, examples = (6, 3, 512) if args.quick else (12, 6, 1600)
    reps = 1 if args.quick else 2
    with c.temp_stores() as stores:
        doc = spec(trials, epochs, examples)
        bench = c.load_bench(stores.root, doc)
    from suite.runner import load_data

    data = load_data(bench)
    print(f"data: train {data.train.x.shape}, val {len(data.val)}; {trials} trials x {epochs} ep")
    with c.temp_stores() as stores:  # warm-up: imports, stores, the process's first graph
        run_suite(c.load_bench(stores.root, spec(1, 1, examples)))
    runners = {
        "suite": lambda: run_suite(bench),
        "hand": lambda: run_hand(data, trials, epochs),
        "kt": lambda: run_keras_tuner(data, trials, epochs),
    }
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in runners}
    for r in range(reps):
        for key in runners if r % 2 == 0 else list(reversed(runners)):
            out = runners[key]()
            if out is not None and "error" not in out:
                results[key].append(out)
            elif out is not None:
                report.add(out["name"], "failed", note=out["error"])
    rows = []
    for runs in results.values():
        if not runs:
            continue
        rows.append(
            [
                runs[0]["name"],
                f"{c.median([x['wall'] for x in runs]):.1f}",
                c.spread([x["wall"] for x in runs]),
                " / ".join(f"{x['best']:.3f}" for x in runs),
                str(runs[0]["trials"]),
                " / ".join(str(x["pruned"]) for x in runs),
                " / ".join(str(x["epochs"]) for x in runs),
            ]
        )
    report.table(
        f"{trials} trials x {epochs} epochs on MNIST-1D ({len(data.train)} train, "
        f"{len(data.val)} val), {reps} interleaved rep(s)",
        ["search", "wall s (median)", "range", "best val_accuracy", "trials", "pruned", "epochs"],
        rows,
    )
    suite_wall = c.median([x["wall"] for x in results["suite"]])
    hand_wall = c.median([x["wall"] for x in results["hand"]])
    suite_ep = c.median([x["epochs"] for x in results["suite"]])
    hand_ep = c.median([x["epochs"] for x in results["hand"]])
    report.add("wall time suite / Optuna+MLflow by hand", suite_wall / hand_wall, goal="<= 1.03")
    report.add(
        "wall time per epoch consumed, suite / hand",
        (suite_wall / suite_ep) / (hand_wall / hand_ep),
        note="removes the luck of which trials were pruned",
    )
    report.add(
        "best val_accuracy suite - hand",
        c.median([x["best"] for x in results["suite"]])
        - c.median([x["best"] for x in results["hand"]]),
    )
    if results["kt"]:
        kt_wall = c.median([x["wall"] for x in results["kt"]])
        report.add("wall time suite / KerasTuner", suite_wall / kt_wall)
        report.add(
            "best val_accuracy suite - KerasTuner",
            c.median([x["best"] for x in results["suite"]])
            - c.median([x["best"] for x in results["kt"]]),
        )
    elif not _has_keras_tuner():
        report.add("KerasTuner", "not installed", note="pip install keras-tuner")
    report.finish(args.json)


def _has_keras_tuner() -> bool:
    import importlib.util

    return importlib.util.find_spec("keras_tuner") is not None


if __name__ == "__main__":
    main()
