"""Memory over many trials: resident memory (VmRSS) after each of N small trials run through
suite.runner.run with the CLI's process recycling (`suite run`: the process re-executes
itself once its memory grew $SUITE_RECYCLE_MB, or every $SUITE_RECYCLE_EVERY trials), and
in one process without recycling, beside the same trainings in a plain Keras loop, and the
plain loop calling keras.backend.clear_session() between trials. Each mode runs in its own
subprocess (memory is per process); growth is measured from trial 5 to the last trial (and
to the highest level after trial 5). The recycled mode also reports what each restart cost:
seconds from the old process's last trial to the new process's first.

    python benchmarks/memory.py --quick
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap

import _common as c

CHILD = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, os.path.join(sys.argv[3], "benchmarks"))
    import _common as c
    import time
    from pathlib import Path
    mode, n = sys.argv[1], int(sys.argv[2])
    c.quiet()
    doc = {
        "name": "memory",
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": 1000, "max_examples": 128},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {"epochs": 1, "batch_size": 64},
        "search": {"trials": n, "sampler": {"random": {}}, "pruner": {"none": {}},
                   "space": {"train.optimizer.adam.learning_rate":
                             {"float": [1e-3, 1e-2], "log": True}}},
    }
    rss = [c.rss_mb()]
    states = []
    if mode == "suite+recycle":  # re-executed by replace_process: state lives in files
        from suite.progress import Reporter
        from suite.runner import run
        from suite.workers import Recycle, Recycler, replace_process

        root = Path(sys.argv[4])
        os.environ["SUITE_RESULTS_DIR"] = str(root)
        log = root / "rss.jsonl"
        if not log.exists():
            log.write_text(json.dumps({"start": rss[0]}) + "\\n")
        stores = c.Stores(root)
        bench = c.load_bench(root, doc)

        def note(**kw):
            with log.open("a") as f:
                f.write(json.dumps(kw) + "\\n")

        class Sampler(Reporter):
            first = True

            def trial(self, number, epochs):
                if self.first and "BENCH_RECYCLED_AT" in os.environ:
                    note(restart_s=time.time() - float(os.environ.pop("BENCH_RECYCLED_AT")))
                self.first = False

            def trial_end(self, state, value):
                note(rss=c.rss_mb(), state=state)

        try:
            run(bench, storage=stores.storage, tracking_uri=stores.tracking_uri,
                reporter=Sampler(), recycle=Recycler())
        except Recycle as e:
            os.environ["BENCH_RECYCLED_AT"] = repr(time.time())
            replace_process(str(e))
        rows = [json.loads(x) for x in log.read_text().splitlines()]
        rss = [rows[0]["start"]] + [r["rss"] for r in rows if "rss" in r]
        states = [r["state"] for r in rows if "state" in r]
        restarts = [r["restart_s"] for r in rows if "restart_s" in r]
        out = {"rss": rss, "peak": max(rss), "complete": states.count("COMPLETE"),
               "restarts": restarts}
        print("RSS " + json.dumps(out))
        sys.exit(0)
    with c.temp_stores() as stores:
        bench = c.load_bench(stores.root, doc)
        if mode == "suite":
            from suite.progress import Reporter
            from suite.runner import run

            class Sampler(Reporter):
                def trial_end(self, state, value):
                    rss.append(c.rss_mb())
                    states.append(state)

            run(bench, storage=stores.storage, tracking_uri=stores.tracking_uri,
                reporter=Sampler())
        else:
            import keras
            from suite.build import build_model
            from suite.runner import load_data
            from suite.spec.candidates import candidates
            from suite.tasks import TASKS
            from suite.train import compile_model

            data = load_data(bench)
            cand = candidates(bench)[0]
            for i in range(n):
                if mode == "plain+clear_session":
                    keras.backend.clear_session()
                keras.utils.set_random_seed(0)
                concrete = cand.concrete({})
                model = build_model(concrete.model.layers, data.input_shape,
                                    TASKS.get("classification"), data.num_classes)
                compile_model(model, concrete.train, TASKS.get("classification"))
                model.fit(data.train.x, data.train.y, batch_size=64, epochs=1,
                          validation_data=(data.val.x, data.val.y), verbose=0)
                rss.append(c.rss_mb())
                states.append("COMPLETE")
    out = {"rss": rss, "peak": c.peak_rss_mb(), "complete": states.count("COMPLETE")}
    print("RSS " + json.dumps(out))
    """
)

MODES = ("suite+recycle", "suite", "plain", "plain+clear_session")


def run_mode(mode: str, n: int) -> dict:
    env = c.env_with_root({"TF_CPP_MIN_LOG_LEVEL": "2", "SUITE_CACHE_DIR": str(c.cache_dir())})
    # the mechanism at its floor (the default scales with the machine's memory)
    env.setdefault("SUITE_RECYCLE_MB", "150")
    with tempfile.TemporaryDirectory(prefix="suite-memory-") as root:
        out = subprocess.run(
            [c.python(), "-c", CHILD, mode, str(n), str(c.ROOT), root],
            cwd=c.ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("RSS "))
    return json.loads(line[4:])


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, help="trials per mode (default 15 quick, 50 full)")
    p.add_argument("--only", nargs="+", choices=MODES, help="modes to measure (default all)")
    args = p.parse_args()
    report = c.start("memory", args.quick)
    n = args.trials or (15 if args.quick else 50)
    rows = []
    growth = {}
    highs = {}
    restarts: dict[str, list[float]] = {}
    for mode in args.only or MODES:
        res = run_mode(mode, n)
        rss = res["rss"]  # [before any trial, after trial 1, ..., after trial n]
        g = rss[-1] - rss[5]
        highest = max(rss[5:]) - rss[5]
        growth[mode] = g
        highs[mode] = highest
        per = g / (n - 5)
        picks = [1, 5, n // 2, n]
        rows.append(
            [
                mode,
                f"{rss[0]:.0f}",
                *(f"{rss[i]:.0f}" for i in picks),
                f"{g:.0f}",
                f"{highest:.0f}",
                f"{per:.2f}",
                f"{res['peak']:.0f}",
                str(res["complete"]),
                str(len(res.get("restarts", []))),
            ]
        )
        if res.get("restarts"):
            restarts[mode] = res["restarts"]
        sys.stdout.flush()
    report.table(
        f"resident memory (MB) over {n} trials of a small 1-D CNN, one process per mode",
        [
            "mode",
            "start",
            "after 1",
            "after 5",
            f"after {n // 2}",
            f"after {n}",
            f"growth 5..{n}",
            "highest - after 5",
            "MB/trial",
            "peak",
            "complete trials",
            "restarts",
        ],
        rows,
    )
    if "suite+recycle" in growth:
        report.add(
            f"suite (recycled): RSS growth from trial 5 to {n}",
            growth["suite+recycle"],
            "MB",
        )
        report.add(
            "suite (recycled): highest RSS after trial 5 minus RSS after trial 5",
            highs["suite+recycle"],
            "MB",
            goal="<= 200",
        )
    for mode, times in restarts.items():
        mean = sum(times) / len(times)
        report.add(f"{mode}: seconds per restart (mean of {len(times)})", mean, "s")
    if "suite" in growth:
        report.add(f"suite, one process: RSS growth from trial 5 to {n}", growth["suite"], "MB")
    if "plain" in growth:
        report.add(f"plain Keras loop: RSS growth from trial 5 to {n}", growth["plain"], "MB")
    if "plain+clear_session" in growth:
        report.add("plain loop with clear_session: RSS growth", growth["plain+clear_session"], "MB")
    if n < 50 and "suite" in growth:
        report.add(
            "suite: growth extrapolated to 50 trials",
            growth["suite"] / (n - 5) * 45,
            "MB",
            goal="<= 200",
        )
    report.finish(args.json)


if __name__ == "__main__":
    main()
