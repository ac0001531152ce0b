"""Dataset reuse: the time of a process's first suite.data.prepare() call per dataset versus
later calls (from the disk cache after the in-process memo is cleared, and from the memo), and
how many times the dataset's loader runs over N trials of `suite.runner.run` called twice in
one process (expected: once).

    python benchmarks/reuse.py --quick
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
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


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    report = c.start("reuse", args.quick)
    c.quiet()
    load_times(report, args.quick)
    loader_calls(report, 3 if args.quick else 10)
    report.add("text tokenization reuse", "TODO", note="comes with the text issue; not measured")
    report.finish(args.json)


if __name__ == "__main__":
    main()
