"""Pruning: the same search (suite.runner.run, TPE) with the median pruner and with none,
interleaved in one process: epochs consumed, wall time and best validation accuracy. The noise
of a best accuracy is taken as two binomial standard errors on the validation split
(2 * sqrt(p (1 - p) / n_val)).

    python benchmarks/pruning.py --quick
"""

from __future__ import annotations

import math
from typing import Any

import _common as c


def spec(pruner: dict[str, Any], trials: int, epochs: int, examples: int) -> dict[str, Any]:
    return {
        "name": "pruning-" + next(iter(pruner)),
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": 4000, "max_examples": examples},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {"epochs": epochs, "batch_size": 64, "optimizer": {"adam": {}}},
        "search": {
            "trials": trials,
            "sampler": {"tpe": {"n_startup_trials": 3}},
            "pruner": pruner,
            "metric": "val_accuracy",
            "space": {"train.optimizer.adam.learning_rate": {"float": [1e-4, 3e-2], "log": True}},
        },
    }


def search(doc: dict[str, Any]) -> dict[str, Any]:
    import optuna
    from optuna.trial import TrialState

    from suite.progress import Reporter
    from suite.runner import run

    with c.temp_stores() as stores:
        bench = c.load_bench(stores.root, doc)
        t = c.now()
        run(bench, storage=stores.storage, tracking_uri=stores.tracking_uri, reporter=Reporter())
        wall = c.now() - t
        study = optuna.load_study(study_name=f"{bench.name}/cnn", storage=stores.storage)
        trials = study.get_trials(deepcopy=False)
        return {
            "wall": wall,
            "epochs": sum(c.trial_epochs(stores.tracking_uri, bench.name)),
            "best": study.best_value,
            "pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "trials": len(trials),
        }


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    report = c.start("pruning", args.quick)
    c.quiet()
    trials, epochs, examples = (8, 4, 512) if args.quick else (16, 8, 1600)
    reps = 1 if args.quick else 2
    pruners = {
        "median": {"median": {"n_startup_trials": 2, "n_warmup_steps": 1}},
        "none": {"none": {}},
    }
    search(spec(pruners["none"], 1, 1, examples))  # warm-up: imports, stores, first graph
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in pruners}
    n_val = 0
    for r in range(reps):
        for key in pruners if r % 2 == 0 else list(reversed(pruners)):
            doc = spec(pruners[key], trials, epochs, examples)
            results[key].append(search(doc))
            if not n_val:
                from suite.runner import load_data

                with c.temp_stores() as stores:
                    n_val = len(load_data(c.load_bench(stores.root, doc)).val)
    rows = []
    for key, runs in results.items():
        rows.append(
            [
                key,
                " / ".join(str(x["epochs"]) for x in runs),
                " / ".join(f"{x['pruned']}/{x['trials']}" for x in runs),
                " / ".join(f"{x['wall']:.1f}" for x in runs),
                " / ".join(f"{x['best']:.3f}" for x in runs),
            ]
        )
    report.table(
        f"{trials} trials x {epochs} epochs, TPE, MNIST-1D ({examples} train, {n_val} val); "
        f"{reps} interleaved rep(s)",
        ["pruner", "epochs consumed", "pruned/trials", "wall s", "best val_accuracy"],
        rows,
    )
    med = {
        k: {m: c.median([x[m] for x in v]) for m in ("epochs", "wall", "best")}
        for k, v in results.items()
    }
    saved = 1 - med["median"]["epochs"] / max(med["none"]["epochs"], 1)
    p = med["none"]["best"]
    noise = 2 * math.sqrt(p * (1 - p) / n_val)
    report.add("epochs saved by the median pruner", 100 * saved, "%", goal=">= 30")
    report.add("wall time saved", 100 * (1 - med["median"]["wall"] / med["none"]["wall"]), "%")
    diff = med["median"]["best"] - med["none"]["best"]
    report.add(
        "best val_accuracy with - without pruner",
        diff,
        note=f"noise 2 SE = {noise:.3f}: {'within' if abs(diff) <= noise else 'outside'} noise",
    )
    report.finish(args.json)


if __name__ == "__main__":
    main()
