"""Search overhead: N trials through `suite run`'s code path (suite.runner.run: Optuna study,
MLflow runs, callbacks, model artifacts) versus the same N trainings (same parameters, same
data, same model builder) in a plain loop of compile + fit, interleaved in one process.
Then the fixed cost per trial broken down by timing each piece the runner calls, and the
cost per epoch of the callbacks.

Trials are deliberately tiny (a few hundred MNIST-1D examples, 2 epochs) so the overhead shows;
it is then extrapolated to trials of 10 s.

    python benchmarks/overhead.py --quick
"""

from __future__ import annotations

from typing import Any

import _common as c

EPOCHS = 2


def spec(trials: int) -> dict[str, Any]:
    return {
        "name": "overhead",
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": 1000, "max_examples": 256},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {"epochs": EPOCHS, "batch_size": 64, "optimizer": {"adam": {}}},
        "search": {
            "trials": trials,
            "sampler": {"random": {}},
            "pruner": {"none": {}},  # every trial trains all its epochs, as in the plain loop
            "metric": "val_accuracy",
            "space": {"train.optimizer.adam.learning_rate": {"float": [1e-3, 1e-2], "log": True}},
        },
    }


def suite_search(bench: Any, n: int) -> dict[str, Any]:
    """One search through suite.runner.run in fresh stores; wall time, trial spans, params."""
    import optuna

    from suite.progress import Reporter
    from suite.runner import run

    with c.temp_stores() as stores:
        t0 = c.now()
        w0 = __import__("time").time()
        run(
            bench,
            trials=n,
            storage=stores.storage,
            tracking_uri=stores.tracking_uri,
            reporter=Reporter(),
        )
        total = c.now() - t0
        study = optuna.load_study(study_name="overhead/cnn", storage=stores.storage)
        trials = study.get_trials(deepcopy=False)
        spans = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials]
        setup = trials[0].datetime_start.timestamp() - w0
        from mlflow.tracking import MlflowClient

        client = MlflowClient(stores.tracking_uri)
        exp = client.get_experiment_by_name("overhead")
        runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
        fits = [r.data.metrics["train_time_s"] for r in runs]
        values = [t.value for t in trials]
        saved = sum(1 for i, v in enumerate(values) if i == 0 or v > max(values[:i]))
    return {
        "total": total,
        "setup": setup,
        "spans": spans,
        "fits": fits,
        "params": [t.params for t in trials],
        "saved_models": saved,
    }


def plain_loop(bench: Any, params: list[dict[str, Any]]) -> dict[str, Any]:
    """The same trainings without Optuna or MLflow: build, compile, fit."""
    import keras

    from suite.build import build_model
    from suite.runner import load_data
    from suite.spec.candidates import candidates
    from suite.tasks import TASKS

    data = load_data(bench)
    cand = candidates(bench)[0]
    task = TASKS.get("classification")
    fits = []
    t0 = c.now()
    for p in params:
        keras.utils.set_random_seed(0)
        concrete = cand.concrete(p)
        model = build_model(concrete.model.layers, data.input_shape, task, data.num_classes)
        lr = concrete.train.optimizer.adam.learning_rate
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=lr),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        t = c.now()
        model.fit(
            data.train.x,
            data.train.y,
            batch_size=concrete.train.batch_size,
            epochs=concrete.train.epochs,
            validation_data=(data.val.x, data.val.y),
            shuffle=True,
            verbose=0,
        )
        fits.append(c.now() - t)
    return {"total": c.now() - t0, "fits": fits}


def best_so_far(study: Any) -> float:
    """The query the runner makes to decide whether a trial is the best so far."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max((t.value for t in done), default=float("nan"))


def per_call(fn: Any, reps: int) -> float:
    """Median milliseconds of one call of fn()."""
    times = []
    for _ in range(reps):
        t = c.now()
        fn()
        times.append(c.now() - t)
    return c.median(times) * 1000


def breakdown(bench: Any, reps: int) -> list[tuple[str, float, str]]:
    """Milliseconds of each piece the runner adds around a training, in fresh stores."""
    import json

    import keras

    from suite import track
    from suite.build import build_model, trainable_params
    from suite.runner import load_data
    from suite.search import counted, epoch_counter, open_study, pruning_callback
    from suite.spec.candidates import candidates
    from suite.spec.space import suggest_all
    from suite.tasks import TASKS
    from suite.train import compile_model

    data = load_data(bench)
    cand = candidates(bench)[0]
    task = TASKS.get("classification")
    out: list[tuple[str, float, str]] = []
    with c.temp_stores() as stores:
        tracker = track.Tracker("overhead-parts", stores.tracking_uri)
        parent = tracker.candidate_run("cnn", {})
        from suite.spec.strategies import PRUNERS

        study = open_study(
            "parts",
            stores.storage,
            sampler=bench.search.sampler,
            pruner=bench.search.pruner,
            direction="maximize",
            seed=0,
        )
        study.pruner = PRUNERS.get("median")()  # the default pruner's per-epoch cost
        state: dict[str, Any] = {}

        def ask_tell() -> None:
            trial = study.ask()
            params = suggest_all(trial, cand.space)
            state["params"] = params
            study.tell(trial, 0.5)

        out.append(("Optuna ask + suggest + tell (SQLite)", per_call(ask_tell, reps), "trial"))
        out.append(
            (
                "budget count + best-so-far query (study.get_trials)",
                per_call(lambda: (counted(study), best_so_far(study)), reps),
                "trial",
            )
        )
        concrete = cand.concrete(state["params"])
        out.append(
            (
                "cand.concrete(params) (spec re-validated)",
                per_call(lambda: cand.concrete(state["params"]), reps),
                "trial",
            )
        )
        flat = track.flatten(concrete.model_dump(mode="json"))

        def new_run() -> None:
            state["run"] = tracker.child_run(
                parent, "cnn/trial-x", {"suite.kind": "trial", "suite.params": json.dumps({})}
            )

        out.append(("MLflow child run creation", per_call(new_run, reps), "trial"))
        run_id = state["run"]
        ids = [tracker.child_run(parent, f"p{i}", {}) for i in range(reps)]
        it = iter(ids)
        out.append(
            (
                f"MLflow log_params ({len(flat)} params)",
                per_call(lambda: tracker.log_params(next(it), flat), reps),
                "trial",
            )
        )
        summary = {
            k: 0.5
            for k in (
                "best_loss",
                "best_accuracy",
                "best_val_loss",
                "best_val_accuracy",
                "objective",
                "epochs",
                "best_epoch",
                "train_time_s",
                "first_epoch_s",
                "samples_per_s",
            )
        }
        out.append(
            (
                "MLflow log_metrics (10 summary metrics + params count)",
                per_call(
                    lambda: (
                        tracker.log_metrics(run_id, summary),
                        tracker.log_metrics(run_id, {"params": 1.0}),
                    ),
                    reps,
                ),
                "trial",
            )
        )
        out.append(
            (
                "MLflow set_tags (state) + end run",
                per_call(
                    lambda: (
                        tracker.set_tags(run_id, {track.STATE: "COMPLETE"}),
                        tracker.end(run_id),
                    ),
                    reps,
                ),
                "trial",
            )
        )

        def build() -> Any:
            keras.utils.set_random_seed(0)
            m = build_model(concrete.model.layers, data.input_shape, task, data.num_classes)
            trainable_params(m)
            compile_model(m, concrete.train, task)
            state["model"] = m
            return m

        out.append(("seed + build_model + compile", per_call(build, reps), "trial"))
        model = state["model"]
        model.fit(data.train.x[:64], data.train.y[:64], epochs=1, verbose=0)
        saves = max(2, reps // 4)
        out.append(
            (
                "log_model (.keras save + artifact), when a trial is best",
                per_call(lambda: tracker.log_model(run_id, model), saves),
                "best trial",
            )
        )

        logs = {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}
        logger = track.epoch_logger(tracker, run_id)
        epoch = iter(range(10**6))
        out.append(
            (
                "MLflow epoch logger (log_batch of 4 metrics)",
                per_call(lambda: logger.on_epoch_end(next(epoch), dict(logs)), reps),
                "epoch",
            )
        )
        trial = study.ask()
        pruner = pruning_callback(trial, "val_accuracy")
        pruner.set_model(model)
        step = iter(range(10**6))
        out.append(
            (
                "pruning callback: trial.report + should_prune (median)",
                per_call(lambda: pruner.on_epoch_end(next(step), dict(logs)), reps),
                "epoch",
            )
        )
        counter = epoch_counter(study, trial._trial_id)
        out.append(
            (
                "epoch counter (trial user attr write, for the epoch budget)",
                per_call(lambda: counter.on_epoch_end(0, dict(logs)), reps),
                "epoch",
            )
        )
    return out


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, help="trials per search (default 10 quick, 30 full)")
    args = p.parse_args()
    report = c.start("overhead", args.quick)
    c.quiet()
    n = args.trials or (10 if args.quick else 30)
    reps = 1 if args.quick else 2
    with c.temp_stores() as stores:
        bench = c.load_bench(stores.root, spec(n))
    from suite.runner import load_data

    data = load_data(bench)
    print(f"data: train {data.train.x.shape}, val {len(data.val)}; {n} trials x {EPOCHS} epochs")
    first = suite_search(bench, 1)  # warm-up: imports, first graph, store creation
    plain_loop(bench, first["params"])
    suites, plains = [], []
    params: list[dict[str, Any]] | None = None
    for r in range(reps):
        for who in ("suite", "plain") if r % 2 == 0 else ("plain", "suite"):
            if who == "suite":
                suites.append(suite_search(bench, n))
                params = params or suites[-1]["params"]
            else:
                if params is None:
                    params = suite_search(bench, n)["params"]
                plains.append(plain_loop(bench, params))
    t_suite = c.median([s["total"] for s in suites])
    t_plain = c.median([p["total"] for p in plains])
    setup = c.median([s["setup"] for s in suites])
    per_trial_suite = c.median([(s["total"] - s["setup"]) / n for s in suites])
    per_trial_plain = t_plain / n
    fit_suite = c.median([sum(s["fits"]) / n for s in suites])
    fit_plain = c.median([sum(p["fits"]) / n for p in plains])
    fixed = per_trial_suite - per_trial_plain
    report.table(
        f"{n} trials x {EPOCHS} epochs, median of {reps} interleaved runs (seconds)",
        ["path", "total", "one-time setup", "per trial", "fit per trial", "outside fit per trial"],
        [
            [
                "suite.runner.run",
                f"{t_suite:.2f}",
                f"{setup:.2f}",
                f"{per_trial_suite:.3f}",
                f"{fit_suite:.3f}",
                f"{per_trial_suite - fit_suite:.3f}",
            ],
            [
                "plain loop",
                f"{t_plain:.2f}",
                "-",
                f"{per_trial_plain:.3f}",
                f"{fit_plain:.3f}",
                f"{per_trial_plain - fit_plain:.3f}",
            ],
        ],
    )
    report.add(
        "overhead of the search, % of its wall time",
        100 * (t_suite - t_plain) / t_suite,
        "%",
        note=f"{per_trial_plain:.2f} s trials",
    )
    report.add("one-time setup of a run (data memoized, stores, study, parent run)", setup, "s")
    report.add("extra cost per trial (suite per trial - plain per trial)", 1000 * fixed, "ms")
    report.add("of which inside fit (callbacks), per trial", 1000 * (fit_suite - fit_plain), "ms")

    parts = breakdown(bench, 10 if args.quick else 30)
    rows = [[name, f"{ms:.1f}", per] for name, ms, per in parts]
    report.table(
        "cost of each piece (median ms per call, fresh SQLite stores)",
        ["piece", "ms", "paid once per"],
        rows,
    )
    per_trial_ms = sum(ms for _, ms, per in parts if per == "trial")
    per_epoch_ms = sum(ms for _, ms, per in parts if per == "epoch")
    model_ms = next(ms for name, ms, per in parts if per == "best trial")
    saved = c.median([s["saved_models"] for s in suites]) / n
    report.add("fixed cost per trial, sum of pieces (no model save)", per_trial_ms, "ms")
    report.add(
        "model save per trial where best so far", model_ms, "ms", note=f"{saved:.0%} of trials here"
    )
    report.add("callbacks' cost per epoch, sum of pieces", per_epoch_ms, "ms")
    for epochs in (10, 100):
        cost = max(fixed, 0.0) + (epochs - EPOCHS) * per_epoch_ms / 1000
        report.add(
            f"overhead at 10 s trials of {epochs} epochs (extrapolated)",
            100 * cost / (10 + cost),
            "%",
            goal="<= 2",
        )
    report.finish(args.json)


if __name__ == "__main__":
    main()
