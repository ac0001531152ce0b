"""Seeds trained together (suite.seeds_together) against one after the other, on JAX: the
quickstart's CNN and GRU (specs/quickstart.yaml: MNIST-1D, batch 100, Adam at 1e-2) trained
on N seeds as one vmapped program, and the same N seeds trained one at a time the way seed
runs train without it (suite.trial.train: Keras `fit`). Wall time covers model building,
compilation and training; the figure is the batch's speed-up and its time in units of one
seed's. Early stopping never fires here (patience above the epochs), so every seed trains
every epoch.

    python benchmarks/seeds.py --quick
    python benchmarks/seeds.py --seeds 10 --epochs 3
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import _common as c


def setup(name: str, samples: int, epochs: int, overrides: tuple[str, ...] = ()) -> tuple:
    """(task, data, prep, concrete) of the quickstart's candidate `name` and recipe."""
    from suite import trial
    from suite.spec.candidates import candidates
    from suite.spec.load import load
    from suite.tasks import TASKS

    bench = load(
        c.ROOT / "specs" / "quickstart.yaml",
        [f"data.num_samples={samples}", f"train.epochs={epochs}", *overrides],
    )
    cand = next(x for x in candidates(bench) if x.name == name)
    data = trial.load_data(bench)
    task = TASKS.get(bench.task).bind(data)
    prep = trial.inputs(task, data, cand)
    return task, data, prep, cand.concrete(cand.defaults())


def measure(
    name: str, seeds: int, samples: int, epochs: int, sequential: bool = True
) -> dict[str, float]:
    """Wall seconds of `seeds` seeds together, one after the other (or only the first with
    `sequential` off), and of one seed."""
    from suite import seeds_together, trial

    task, data, prep, conc = setup(name, samples, epochs)
    kw = {"monitor": "val_accuracy", "direction": "maximize"}
    assert seeds_together.unsupported(conc.train, task, prep.data, seeds) is None
    together, batch = c.timed(
        lambda: seeds_together.train_together(task, data, prep, name, conc, range(seeds), **kw)
    )
    alone = []
    for seed in range(seeds if sequential else 1):
        s, _ = c.timed(lambda seed=seed: trial.train(task, data, prep, name, conc, seed, **kw))
        alone.append(s)
    acc = [r.fit.best["val_accuracy"] for r in batch.results]
    return {
        "together_s": together,
        "sequential_s": sum(alone) if sequential else float("nan"),
        "one_s": c.median(alone),
        "val_accuracy": sum(acc) / len(acc),
    }


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=5000, help="MNIST-1D series (quickstart)")
    p.add_argument("--models", default="cnn,gru")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.samples = 3, 1, 600
    report = c.start("seeds", args.quick)
    c.quiet()
    import keras

    print(f"  backend {keras.backend.backend()}", flush=True)
    rows = []
    for name in args.models.split(","):
        m = measure(name, args.seeds, args.samples, args.epochs)
        rows.append(
            [
                name,
                str(args.seeds),
                f"{m['together_s']:.1f}",
                f"{m['sequential_s']:.1f}",
                f"{m['one_s']:.1f}",
                f"{m['sequential_s'] / m['together_s']:.2f}",
                f"{m['together_s'] / m['one_s']:.2f}",
                f"{m['val_accuracy']:.3f}",
            ]
        )
        report.add(
            f"{name}: {args.seeds} seeds together / one after the other",
            m["together_s"] / m["sequential_s"],
            "x",
        )
        report.add(
            f"{name}: {args.seeds} seeds together, in units of one seed",
            m["together_s"] / m["one_s"],
            "x",
            goal="<= 3",
            note="goal set for a GPU",
        )
    report.table(
        f"{args.seeds} seeds, {args.epochs} epochs, {args.samples} MNIST-1D series",
        [
            "model",
            "seeds",
            "together s",
            "one by one s",
            "one seed s",
            "speed-up",
            "together / one",
            "mean best val acc",
        ],
        rows,
    )
    report.finish(args.json)


if __name__ == "__main__":
    main()
