"""Dataset reuse: the time of a process's first suite.data.prepare() call per dataset versus
later calls (from the disk cache after the in-process memo is cleared, and from the memo), and
how many times the dataset's loader runs over N trials of `suite.runner.run` called twice in
one process (expected: once). Text (SST-2, Kim 2014 files under the data dir; skipped with its
reason when absent): the time of trial 1 (fits the tokenizer, tokenizes) versus later trials
and a rerun (ids from the memo or the disk cache: no tokenization), read from each trial's
`suite.tokenize_cache` tag and `tok.tokenize_s` metric; and each tokenizer kind's throughput
(tokens/s applying a fitted tokenizer to SST-2 train) against the model's consumption rate
(the trials' samples/s x tokens per example), goal >= 10x.

    python benchmarks/reuse.py --quick
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import _common as c

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("mnist1d", {"num_samples": 4000}, {}),
    ("digits", {}, {}),
    ("fashion_mnist", {}, {}),
    ("ucr", {"problem": "GunPoint"}, {}),
    ("ucr", {"problem": "OSULeaf"}, {}),
]


def load_times(report: c.Report, quick: bool) -> None:
    from suite.data import DataError, prepare
    from suite.data.prepare import clear_cache

    fresh_cache = tempfile.mkdtemp(prefix="suite-bench-reuse-")
    old = os.environ.get("SUITE_CACHE_DIR")
    os.environ["SUITE_CACHE_DIR"] = fresh_cache  # mnist1d is generated, then read back
    rows = []
    try:
        for name, params, opts in CASES if not quick else CASES[:4]:
            label = f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})"
            try:
                first, ds = c.timed(lambda n=name, p=params, o=opts: prepare(n, p, **o))
            except DataError as e:
                rows.append([label, "unavailable", "", "", "", str(e).splitlines()[0][:60]])
                continue
            clear_cache()
            again, _ = c.timed(lambda n=name, p=params, o=opts: prepare(n, p, **o))
            memo = min(
                c.timed(lambda n=name, p=params, o=opts: prepare(n, p, **o))[0] for _ in range(5)
            )
            rows.append(
                [
                    label,
                    f"{first:.3f}",
                    f"{again:.3f}",
                    f"{memo * 1e6:.0f}",
                    f"{first / memo:.0f}x",
                    f"train {ds.train.x.shape}",
                ]
            )
            report.add(f"{label}: memoized call", memo * 1e6, "us", note=f"first {first:.2f} s")
    finally:
        if old is None:
            os.environ.pop("SUITE_CACHE_DIR", None)
        else:
            os.environ["SUITE_CACHE_DIR"] = old
        shutil.rmtree(fresh_cache, ignore_errors=True)
    report.table(
        "prepare() per dataset (first call of the process; after clear_cache(); memoized)",
        ["dataset", "first s", "memo cleared s", "memoized us", "first/memo", "shape"],
        rows,
    )


def loader_calls(report: c.Report, trials: int) -> None:
    """Count the calls of the registered loader while runner.run trains `trials` trials twice."""
    from suite.data import DATASETS
    from suite.data.prepare import clear_cache
    from suite.progress import Reporter
    from suite.runner import run

    original = DATASETS.get("mnist1d")
    calls = {"n": 0}

    @functools.wraps(original)
    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(*args, **kwargs)

    doc = {
        "name": "reuse",
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": 1000, "max_examples": 128},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {"epochs": 1, "batch_size": 64},
        "search": {"trials": trials, "sampler": {"random": {}}, "pruner": {"none": {}}},
    }
    clear_cache()
    DATASETS._items["mnist1d"] = counting  # counts, then calls the real loader
    try:
        with c.temp_stores() as stores:
            bench = c.load_bench(stores.root, doc)
            run(
                bench, storage=stores.storage, tracking_uri=stores.tracking_uri, reporter=Reporter()
            )
            after_one = calls["n"]
            run(
                bench,
                trials=2 * trials,
                storage=stores.storage,
                tracking_uri=stores.tracking_uri,
                reporter=Reporter(),
            )
    finally:
        DATASETS._items["mnist1d"] = original
    report.add(f"loader calls over {trials} trials (one run)", after_one, goal="<= 1")
    report.add(
        f"loader calls over {2 * trials} trials (two runs, one process)", calls["n"], goal="<= 1"
    )


TEXT_MODEL: dict[str, Any] = {  # specs/models/textcnn.yaml at 64-d (Kim 2014 CNN-rand)
    "family": "cnn",
    "layers": [
        {"embedding": {"dim": 64}},
        {
            "parallel": {
                "branches": [
                    [{"conv1d": {"filters": 100, "kernel_size": k}}, "global_max_pool"]
                    for k in (3, 4, 5)
                ]
            }
        },
        {"dropout": {"rate": 0.5}},
    ],
}
KINDS: list[dict[str, Any]] = [
    {"kind": "whitespace", "max_length": 56},
    {"kind": "wordpiece", "vocab_size": 8000, "max_length": 64},
    {"kind": "sentencepiece_unigram", "vocab_size": 8000, "max_length": 64},
    {"kind": "sentencepiece_bpe", "vocab_size": 8000, "max_length": 64},
    {"kind": "char", "max_length": 256},
]


def text_trials(report: c.Report, trials: int, n: int | None) -> float | None:
    """Trial 1 vs later trials vs a rerun (memo cleared: the disk cache) of a text search on a
    fresh cache; returns the trials' median samples/s (the model's consumption rate)."""
    from mlflow.tracking import MlflowClient

    from suite.data import DataError
    from suite.progress import Reporter
    from suite.runner import run
    from suite.text import cache

    tok = KINDS[1]
    doc = {
        "name": "reuse-text",
        "task": "text_classification",
        "data": {"name": "sst2", "max_examples": n} if n else {"name": "sst2"},
        "candidates": {"textcnn": {"model": TEXT_MODEL, "tokenizer": tok}},
        "train": {"epochs": 2, "batch_size": 50},
        "search": {"trials": trials, "sampler": {"random": {}}, "pruner": {"none": {}}},
    }
    fresh = tempfile.mkdtemp(prefix="suite-bench-textcache-")
    with c.temp_stores() as stores:
        old = os.environ.get("SUITE_CACHE_DIR")
        os.environ["SUITE_CACHE_DIR"] = fresh  # nothing tokenized yet
        cache.clear_memo()
        counts0 = dict(cache.COUNTS)
        try:
            bench = c.load_bench(stores.root, doc)
            kw = {"storage": stores.storage, "tracking_uri": stores.tracking_uri}
            try:
                run(bench, reporter=Reporter(), **kw)
            except DataError as e:
                reason = str(e).splitlines()[0]
                print(f"\ntext reuse: skipped: {reason}", flush=True)
                report.add("text tokenization reuse", "skipped", note=f"no data: {reason[:80]}")
                return None
            cache.clear_memo()  # a rerun as a new process sees it: the disk cache only
            run(bench, trials=trials + 2, reporter=Reporter(), **kw)
        finally:
            if old is None:
                os.environ.pop("SUITE_CACHE_DIR", None)
            else:
                os.environ["SUITE_CACHE_DIR"] = old
            shutil.rmtree(fresh, ignore_errors=True)
        counts = {k: cache.COUNTS[k] - counts0[k] for k in counts0}
        client = MlflowClient(stores.tracking_uri)
        exp = client.get_experiment_by_name(bench.name)
        runs = client.search_runs(
            [exp.experiment_id], "tags.`suite.kind` = 'trial'", order_by=["start_time ASC"]
        )
    rows, later, rates = [], [], []
    for i, r in enumerate(runs):
        hit = r.data.tags.get("suite.tokenize_cache", "?")
        tok_s = r.data.metrics.get("tok.tokenize_s", float("nan"))
        wall = ((r.info.end_time or 0) - r.info.start_time) / 1000
        fit = r.data.metrics.get("train_time_s", float("nan"))
        rates.append(r.data.metrics.get("samples_per_s", float("nan")))
        who = "run 1" if i < trials else "rerun (memo cleared)"
        rows.append([str(i + 1), who, hit, f"{tok_s:.3f}", f"{fit:.2f}", f"{wall:.2f}"])
        if i:
            later.append(tok_s)
    report.table(
        f"text: {tok['kind']} tokenizer on SST-2, trials of a TextCNN (fresh cache, then a rerun)",
        ["trial", "run", "suite.tokenize_cache", "tok.tokenize_s", "fit s", "trial wall s"],
        rows,
    )
    first = runs[0].data.metrics.get("tok.tokenize_s", float("nan")) if runs else float("nan")
    report.add("text: tokenize s, trial 1 (fit + tokenize)", first, "s")
    report.add("text: tokenize s, trials 2..N and rerun (max)", max(later), "s")
    report.add("text: tokenizations (cache misses)", counts["miss"], goal="<= 1")
    report.add(
        "text: reuses (disk hits, memo)",
        f"{counts['hit']}, {counts['memo']}",
        note="calls served without tokenizing, seed runs included",
    )
    good = [x for x in rates if x == x and x > 0]  # steady state: epoch 2 of each trial
    return c.median(good) if good else None


def tokenizer_rates(report: c.Report, model_rate: float | None) -> None:
    """Each kind fitted on SST-2 train, then applied to it (best of 2): tokens/s vs the model's."""
    from suite.data import DataError, prepare
    from suite.text.fit import fit_tokenizer, spec_of

    try:
        data = prepare("sst2", {}, target="class", split="stratified")
    except DataError as e:
        report.add("tokenizer throughput", "skipped", note=f"no data: {str(e)[:80]}")
        return
    texts = [str(t) for t in data.train.x.tolist()]
    rows = []
    for doc in KINDS:
        spec = spec_of(doc)
        folder = tempfile.mkdtemp(prefix="suite-bench-tok-")
        try:
            fit_s, tok = c.timed(lambda s=spec, f=folder: fit_tokenizer(s, texts, Path(f)))
            tok.encode(texts[:100])  # warm-up: first TensorFlow call of this kind
            best = float("inf")
            for _ in range(2):
                t = c.now()
                seqs = tok.ids(texts)
                tok.pad(seqs)
                best = min(best, c.now() - t)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        tokens = sum(len(s) for s in seqs)
        per = tokens / len(texts)
        rate = tokens / best
        need = model_rate * per if model_rate else float("nan")
        ratio = rate / need if model_rate else float("nan")
        rows.append(
            [
                doc["kind"],
                f"{fit_s:.2f}",
                f"{best:.3f}",
                f"{len(texts) / best:,.0f}",
                f"{per:.1f}",
                f"{rate:,.0f}",
                f"{need:,.0f}",
                f"{ratio:.0f}x",
            ]
        )
        if model_rate:
            report.add(f"tokenizer {doc['kind']}: tokens/s over model's", ratio, goal=">= 10")
    report.table(
        f"tokenizers on SST-2 train ({len(texts)} texts): apply (ids + padding) vs the model's "
        f"consumption ({model_rate or float('nan'):.0f} samples/s x tokens per example)",
        [
            "kind",
            "fit s",
            "apply s",
            "texts/s",
            "tokens/text",
            "tokens/s",
            "model tokens/s",
            "ratio",
        ],
        rows,
    )


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    report = c.start("reuse", args.quick)
    c.quiet()
    load_times(report, args.quick)
    loader_calls(report, 3 if args.quick else 10)
    rate = text_trials(report, 3 if args.quick else 8, 2048 if args.quick else None)
    tokenizer_rates(report, rate)
    report.finish(args.json)


if __name__ == "__main__":
    main()
