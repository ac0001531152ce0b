"""Memory over many trials: resident memory (VmRSS) after each of N small trials run in one
process through suite.runner.run, beside the same trainings in a plain Keras loop, and the
plain loop calling keras.backend.clear_session() between trials. Each mode runs in its own
subprocess (memory is per process); growth is measured from trial 5 to the last trial.

    python benchmarks/memory.py --quick
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import _common as c

CHILD = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, os.path.join(sys.argv[3], "benchmarks"))
    import _common as c
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

MODES = ("suite", "plain", "plain+clear_session")


def run_mode(mode: str, n: int) -> dict:
    env = c.env_with_root({"TF_CPP_MIN_LOG_LEVEL": "2", "SUITE_CACHE_DIR": str(c.cache_dir())})
    out = subprocess.run(
        [c.python(), "-c", CHILD, mode, str(n), str(c.ROOT)],
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
    for mode in args.only or MODES:
        res = run_mode(mode, n)
        rss = res["rss"]  # [before any trial, after trial 1, ..., after trial n]
        g = rss[-1] - rss[5]
        growth[mode] = g
        per = g / (n - 5)
        picks = [1, 5, n // 2, n]
        rows.append(
            [
                mode,
                f"{rss[0]:.0f}",
                *(f"{rss[i]:.0f}" for i in picks),
                f"{g:.0f}",
                f"{per:.2f}",
                f"{res['peak']:.0f}",
                str(res["complete"]),
            ]
        )
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
            "MB/trial",
            "peak",
            "complete trials",
        ],
        rows,
    )
    if "suite" in growth:
        report.add(f"suite: RSS growth from trial 5 to {n}", growth["suite"], "MB", goal="<= 200")
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
