"""Training throughput: one trial through the suite's training path versus a hand-written
model.fit of the same model, in the same process, interleaved; then XLA (jit_compile) on/off,
batch sizes and steps_per_execution of the hand-written fit.

Models: a 2-D CNN on Fashion-MNIST (28x28x1, real images from the local idx files), an LSTM
on UCR GunPoint (150 steps, 1 feature, from aeon's wheel) and Kim's TextCNN on SST-2 token ids
(whitespace words, 56 ids per sentence; the Kim 2014 files under the data dir, the row is
skipped with its reason when they are absent). For the text row both sides train on the same
int32 id arrays: the suite's cached tokenization, done once before the timed runs. GunPoint
ships only 50 training series; its training split is repeated (tiled) to a fixed number of
examples so that an epoch lasts long enough to time: real values, each seen several times per
epoch.

    python benchmarks/throughput.py --quick
"""

from __future__ import annotations

import dataclasses
from typing import Any

import _common as c
import numpy as np

CNN_LAYERS: list[Any] = [
    {"conv2d": {"filters": 32, "kernel_size": 3}},
    "max_pool2d",
    {"conv2d": {"filters": 64, "kernel_size": 3}},
    "max_pool2d",
    "flatten",
    {"dense": {"units": 128}},
]
LSTM_LAYERS: list[Any] = [{"lstm": {"units": 64}}, {"dense": {"units": 64}}]
TEXTCNN_LAYERS: list[Any] = [  # specs/models/textcnn.yaml (Kim 2014 CNN-rand, 128-d)
    {"embedding": {"dim": 128}},
    {
        "parallel": {
            "branches": [
                [
                    {"conv1d": {"filters": 100, "kernel_size": k, "padding": "valid"}},
                    "global_max_pool",
                ]
                for k in (3, 4, 5)
            ]
        }
    },
    {"dropout": {"rate": 0.5}},
]
WORDS = {"kind": "whitespace", "max_length": 56}


def spec(
    name: str,
    data: dict[str, Any],
    layers: list[Any],
    epochs: int,
    batch: int,
    tokenizer: dict[str, Any] | None = None,
    family: str | None = None,
) -> dict:
    cand: dict[str, Any] = {"model": {"family": family or name, "layers": layers}}
    if tokenizer:
        cand["tokenizer"] = tokenizer
    return {
        "name": f"throughput-{name}",
        "task": "text_classification" if tokenizer else "classification",
        "data": data,
        "candidates": {name: cand},
        "train": {
            "epochs": epochs,
            "batch_size": batch,
            "optimizer": {"adam": {"learning_rate": 1.0e-3}},
        },
        "search": {
            "trials": 1,
            "sampler": {"random": {}},
            "pruner": {"median": {}},
            "metric": "val_accuracy",
        },
    }


def tiled(data: Any, n: int) -> Any:
    """The dataset with its training split repeated to n examples (read-only like the suite's)."""
    from suite.data.base import Split

    reps = -(-n // len(data.train))
    x = np.concatenate([data.train.x] * reps)[:n]
    y = np.concatenate([data.train.y] * reps)[:n]
    x.flags.writeable = False
    y.flags.writeable = False
    return dataclasses.replace(data, train=Split(x, y))


def hand_fit(
    bench: Any,
    data: Any,
    *,
    batch: int,
    jit: bool | str = "auto",
    spe: int = 1,
    vocab: int | None = None,
) -> dict[str, float]:
    """A hand-written compile + fit of the same architecture with fresh weights
    (`vocab`: the embedding's input size, for token ids)."""
    import keras

    from suite.build import build_model
    from suite.tasks import TASKS

    keras.utils.set_random_seed(0)
    layers = next(iter(bench.candidate_models().values())).layers
    head = TASKS.get("classification")
    model = build_model(layers, data.input_shape, head, data.num_classes, vocab_size=vocab)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
        steps_per_execution=spe,
    )
    timer = c.epoch_timer()
    t = c.now()
    model.fit(
        data.train.x,
        data.train.y,
        batch_size=batch,
        epochs=bench.train.epochs,
        validation_data=(data.val.x, data.val.y),
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    return rates(len(data.train), timer.durations, c.now() - t)


def rates(n: int, durations: list[float], total: float) -> dict[str, float]:
    """First epoch, mean steady rate, best (fastest) steady epoch's rate, total seconds."""
    steady = durations[1:]
    return {
        "first_s": durations[0],
        "rate": c.steady_rate(n, durations),
        "best": n / min(steady) if steady else float("nan"),
        "total_s": total,
    }


def suite_fit(trials: c.SuiteTrials) -> dict[str, float]:
    """One trial through the runner's training function (build, compile, fit with callbacks),
    timed by the same epoch timer as the hand-written fit (added after the suite's callbacks)."""
    timer = c.epoch_timer()
    t = c.now()
    _, result = trials.train(callbacks=[timer])
    out = rates(len(trials.ctx.data.train), timer.durations, c.now() - t)
    out.update(fit_s=result.train_time_s, own_rate=result.samples_per_s)
    return out


def measure(
    report: c.Report, name: str, doc: dict, n_train: int | None, reps: int, variants: list
) -> None:
    import keras

    with c.temp_stores() as stores:
        bench = c.load_bench(stores.root, doc)
        from suite.runner import load_data

        data = load_data(bench)
        if n_train is not None:
            data = tiled(data, n_train)
        batch = bench.train.batch_size
        trials = c.SuiteTrials.open(bench, stores, data)
        vocab = None
        if trials.cand.tokenizer is not None:  # text: the suite's ids, tokenized once (cached)
            t0 = c.now()
            prep = trials.ctx.task.inputs(data, trials.cand.tokenizer)
            data, vocab = prep.data, prep.tokenizer.vocab_size
            print(
                f"{name}: tokenizer {prep.tokenizer.spec.kind} "
                f"{'cache hit' if prep.hit else 'fitted'} in {c.now() - t0:.1f} s, vocabulary "
                f"{vocab}, ids {data.train.x.shape} {data.train.x.dtype}",
                flush=True,
            )
        print(
            f"\n{name}: train {data.train.x.shape}, val {len(data.val)}, batch {batch}, "
            f"epochs {bench.train.epochs}",
            flush=True,
        )
        hand_fit(
            bench, data, batch=batch, vocab=vocab
        )  # warm-up: the process's first model pays extra
        suite_runs: list[dict[str, float]] = []
        hand_runs: list[dict[str, float]] = []
        for r in range(reps):  # interleaved, order alternating
            order = ("suite", "hand") if r % 2 == 0 else ("hand", "suite")
            for who in order:
                keras.backend.clear_session()
                if who == "suite":
                    suite_runs.append(suite_fit(trials))
                else:
                    hand_runs.append(hand_fit(bench, data, batch=batch, vocab=vocab))
        pairs = list(zip(suite_runs, hand_runs, strict=True))
        ratios = [s["rate"] / h["rate"] for s, h in pairs]
        tot = [h["total_s"] / s["total_s"] for s, h in pairs]
        rows = []
        for who, runs in (("suite trial", suite_runs), ("hand model.fit", hand_runs)):
            mean = [x["rate"] for x in runs]
            rows.append(
                [
                    who,
                    f"{max(x['best'] for x in runs):.0f}",
                    f"{c.median(mean):.0f}",
                    c.spread(mean),
                    f"{c.median([x['first_s'] for x in runs]):.2f}",
                    f"{c.median([x['total_s'] for x in runs]):.2f}",
                ]
            )
        rows[0].append(f"{c.median([x['own_rate'] for x in suite_runs]):.0f}")
        report.table(
            f"{name}: suite vs hand (batch {batch}, {reps} interleaved reps)",
            [
                "path",
                "best epoch samples/s",
                "median steady samples/s",
                "range",
                "first epoch s",
                "trial/fit wall s",
                "FitResult.samples_per_s",
            ],
            rows,
        )
        best = max(x["best"] for x in suite_runs) / max(x["best"] for x in hand_runs)
        report.add(
            f"{name} samples/s suite/hand (fastest steady epoch)",
            best,
            goal=">= 0.97",
            note=f"median of paired mean-steady ratios {c.median(ratios):.3f} {c.spread(ratios)}",
        )
        report.add(
            f"{name} first epoch s suite/hand",
            c.median([s["first_s"] / h["first_s"] for s, h in pairs]),
        )
        report.add(
            f"{name} wall time hand fit / suite trial (build+log+fit)",
            c.median(tot),
            note=c.spread(tot),
        )

        if not variants:
            return
        # XLA, batch size, steps_per_execution (hand-written fit), interleaved per round.
        results: dict[tuple, list[dict[str, float]]] = {v: [] for v in variants}
        for r in range(reps):
            for v in variants if r % 2 == 0 else list(reversed(variants)):
                keras.backend.clear_session()
                b, jit, spe = v
                results[v].append(hand_fit(bench, data, batch=b, jit=jit, spe=spe, vocab=vocab))
        base = {b: max(x["best"] for x in results[(b, False, 1)]) for b, _, _ in variants}
        rows = []
        for v in variants:
            b, jit, spe = v
            rate = max(x["best"] for x in results[v])
            rows.append(
                [
                    str(b),
                    str(jit),
                    str(spe),
                    f"{rate:.0f}",
                    f"{rate / base[b]:.2f}",
                    f"{c.median([x['first_s'] for x in results[v]]):.2f}",
                ]
            )
            if jit is True and spe == 1:
                report.add(f"{name} XLA on/off samples/s at batch {b}", rate / base[b])
            if spe != 1:
                report.add(f"{name} steps_per_execution {spe}/1, batch {b}", rate / base[b])
        report.table(
            f"{name}: hand-written fit variants (fastest steady epoch of {reps} reps)",
            [
                "batch",
                "jit_compile",
                "steps/exec",
                "best epoch samples/s",
                "vs jit off, spe 1",
                "first epoch s",
            ],
            rows,
        )


def text(report: c.Report, epochs: int, reps: int, quick: bool) -> None:
    """TextCNN on SST-2 whitespace ids (batch 50 as Kim); skipped with its reason without data."""
    from suite.data import DataError

    n = 2048 if quick else None  # full: all 6,920 training sentences
    data = {"name": "sst2", "max_examples": n} if n else {"name": "sst2"}
    doc = spec("textcnn", data, TEXTCNN_LAYERS, epochs, 50, tokenizer=WORDS, family="cnn")
    variants = [] if quick else [(50, False, 1), (50, True, 1), (50, False, 8)]
    try:
        measure(report, "textcnn SST-2 words", doc, None, reps, variants)
    except DataError as e:
        reason = str(e).splitlines()[0]
        print(f"\ntextcnn SST-2: skipped: {reason}", flush=True)
        report.add("textcnn SST-2 words", "skipped", note=f"no data: {reason[:80]}")


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--only", choices=["cnn", "lstm", "text"], help="measure one model only")
    args = p.parse_args()
    report = c.start("throughput", args.quick)
    c.quiet()
    epochs = 3
    reps = 1 if args.quick else 3
    cnn_n = 1024 if args.quick else 4096
    lstm_n = 512 if args.quick else 2048
    if args.quick:
        variants = [(32, False, 1), (32, True, 1)]
    else:
        variants = [
            (32, False, 1),
            (32, True, 1),
            (32, False, 8),
            (128, False, 1),
            (128, True, 1),
        ]
    if args.only in (None, "cnn"):
        doc = spec(
            "cnn",
            {"name": "fashion_mnist", "max_examples": cnn_n, "val_fraction": 0.1},
            CNN_LAYERS,
            epochs,
            32,
        )
        measure(report, "cnn fashion_mnist", doc, None, reps, variants)
    if args.only in (None, "lstm"):
        doc = spec("lstm", {"name": "ucr", "problem": "GunPoint"}, LSTM_LAYERS, epochs, 32)
        measure(report, "lstm GunPoint(150 steps)", doc, lstm_n, reps, variants)
    if args.only in (None, "text"):
        text(report, epochs, reps, args.quick)
    report.finish(args.json)


if __name__ == "__main__":
    main()
