"""Start-up cost of the command line: wall and CPU time of light commands (best of N
subprocesses, beside a bare `python -c pass`), whether they import TensorFlow/Keras
(`python -X importtime`), and the time from process start to the end of the first training
batch of a tiny `suite run` (through the Python API the command calls), beside a plain Keras
script training the same model.

    python benchmarks/startup.py --quick
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import _common as c

COMMANDS = [
    ["--help"],
    ["validate", "specs/quickstart.yaml"],
    ["schema"],
    ["list"],
]
HEAVY = ("tensorflow", "keras", "jax", "torch", "mlflow", "optuna", "sklearn", "pandas")

SPEC = {
    "name": "startup-probe",
    "task": "classification",
    "data": {"name": "mnist1d", "num_samples": 1000, "max_examples": 256},
    "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
    "train": {"epochs": 1, "batch_size": 64, "optimizer": {"adam": {}}},
    "search": {"trials": 1, "pruner": {"none": {}}},
}

# The suite: load the spec and run it through suite.runner.run (what `suite run --quiet`
# calls), stamping the wall clock at progress events and at the end of the first batch.
SUITE_CHILD = textwrap.dedent(
    """
    import time; T = {"main": time.time()}
    import json, sys
    from suite.progress import Reporter
    from suite.spec.load import load
    from suite.runner import run

    class Stamps(Reporter):
        def start(self, *a): T.setdefault("reporter started", time.time())
        def candidate(self, *a): T.setdefault("study open, parent run logged", time.time())
        def trial(self, *a): T.setdefault("trial asked, child run created", time.time())
        def callback(self):
            import keras

            class First(keras.callbacks.Callback):
                def on_train_batch_end(self, batch, logs=None):
                    T.setdefault("first_batch", time.time())

                def on_train_begin(self, logs=None):
                    T.setdefault("model built+compiled, fit starts", time.time())

            return First()

    import suite.runner as runner, suite.track as track

    def stamp(owner, name, label):  # wraps a function the run calls to stamp its start and end
        real = getattr(owner, name)
        def wrapped(*a, **k):
            T.setdefault(label + " start", time.time())
            out = real(*a, **k)
            T.setdefault(label, time.time())
            return out
        setattr(owner, name, wrapped)

    stamp(runner, "load_data", "data prepared")
    stamp(track.Tracker, "__init__", "MLflow store + experiment ready")
    stamp(runner, "environment", "Keras, MLflow, Optuna imported (version tags)")
    bench = load(sys.argv[1])
    T["spec_loaded"] = time.time()
    run(bench, trials=int(sys.argv[4]), storage=sys.argv[2], tracking_uri=sys.argv[3],
        reporter=Stamps())
    T["done"] = time.time()
    print("STAMPS " + json.dumps(T))
    """
)

# The reference: the same architecture written in plain Keras, on the same cached arrays.
PLAIN_CHILD = textwrap.dedent(
    """
    import time; T = {"main": time.time()}
    import json, sys
    import numpy as np
    import keras
    from keras import layers

    with np.load(sys.argv[1]) as f:
        x, y = f["x"][:256, :, None].astype("float32"), f["y"][:256].astype("int64")
    model = keras.Sequential([
        keras.Input((40, 1)),
        layers.Conv1D(32, 5, padding="same", activation="relu"),
        layers.Conv1D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(32, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class First(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            T.setdefault("first_batch", time.time())

    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[First()])
    T["done"] = time.time()
    print("STAMPS " + json.dumps(T))
    """
)

# Where the MLflow step's time goes: importing the client, then opening a SQLite store.
MLFLOW_CHILD = textwrap.dedent(
    """
    import time; T = {"main": time.time()}
    import json, sys
    from mlflow.tracking import MlflowClient
    T["mlflow.tracking imported"] = time.time()
    client = MlflowClient(sys.argv[1])
    client.get_experiment_by_name("x")
    T["store opened, first query"] = time.time()
    client.search_experiments()
    T["second query"] = time.time()
    print("STAMPS " + json.dumps(T))
    """
)


def wall(args: list[str], env: dict[str, str]) -> float:
    return timed(args, env)[0]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of `args`. On a loaded machine
    the CPU time is what an idle machine's wall time would be, near enough."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = c.now()
    out = subprocess.run(args, cwd=c.ROOT, env=env, capture_output=True, text=True)
    elapsed = c.now() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:])} exited {out.returncode}: {out.stderr[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def imports(args: list[str], env: dict[str, str]) -> tuple[set[str], int, list[tuple[int, str]]]:
    """Top-level packages imported, the module count, and the slowest top-level imports (us)."""
    out = subprocess.run(
        [c.python(), "-X", "importtime", *args], cwd=c.ROOT, env=env, capture_output=True, text=True
    )
    tops: set[str] = set()
    slow: list[tuple[int, str]] = []
    n = 0
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, raw = line[len("import time:") :].split("|")
        name = raw.strip()
        n += 1
        tops.add(name.split(".")[0])
        if len(raw) - len(raw.lstrip()) <= 1:  # imported by the command itself, not nested
            slow.append((int(cumulative), name))
    return tops, n, sorted(slow, reverse=True)[:4]


def stamps(args: list[str], env: dict[str, str]) -> dict[str, float]:
    t0 = time.time()
    out = subprocess.run(args, cwd=c.ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed:\n{out.stderr[-3000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("STAMPS "))
    return {k: v - t0 for k, v in json.loads(line[len("STAMPS ") :]).items()}


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    report = c.start("startup", args.quick)
    reps = 3
    env = c.env_with_root({"TF_CPP_MIN_LOG_LEVEL": "2"})
    py = c.python()

    rows = []
    bare = min(wall([py, "-c", "pass"], env) for _ in range(reps))
    rows.append(["python -c pass", f"{bare:.3f}", "", "", "", ""])
    for cmd in COMMANDS:
        argv = [py, "-m", "suite.cli", *cmd]
        times = []
        cpus = []
        try:
            for _ in range(reps):  # interleaved with the bare interpreter
                w, cpu = timed(argv, env)
                times.append(w)
                cpus.append(cpu)
                bare = min(bare, wall([py, "-c", "pass"], env))
        except RuntimeError as e:
            report.add(f"suite {' '.join(cmd)}", "failed", note=str(e).replace("\n", " ")[:300])
            continue
        best = min(times)
        tops, n, slow = imports(["-m", "suite.cli", *cmd], env)
        heavy = sorted(t for t in tops if t in HEAVY)
        tf = "yes" if {"tensorflow", "keras"} & tops else "no"
        label = "suite " + " ".join(cmd)
        rows.append(
            [
                label,
                f"{best:.3f}",
                f"{min(cpus):.3f}",
                str(n),
                ", ".join(heavy) or "-",
                ", ".join(f"{name} {us / 1e6:.2f}s" for us, name in slow[:3]),
            ]
        )
        report.add(f"{label}: wall s (best of {reps})", best, "s", goal="<= 1.0")
        report.add(f"{label}: CPU s (user + system, best of {reps})", min(cpus), "s", goal="<= 1.0")
        report.add(f"{label}: imports TensorFlow/Keras", tf, goal="= no")
    report.table(
        "command line start-up (best of N, seconds)",
        [
            "command",
            "wall s",
            "CPU s",
            "modules",
            "heavy packages imported",
            "slowest imports (cumulative)",
        ],
        rows,
    )
    report.add("bare interpreter start (python -c pass)", bare, "s")

    # Time to the first training step: the suite's run path vs a plain Keras script.
    from suite.data.synthetic import mnist1d_cache_path

    cache = c.cache_dir()
    os.environ["SUITE_CACHE_DIR"] = str(cache)
    npz = mnist1d_cache_path(1000, 42)
    runs: dict[str, list[dict[str, float]]] = {"fresh": [], "existing": [], "plain": []}
    with tempfile.TemporaryDirectory(prefix="suite-bench-startup-") as tmp:
        root = Path(tmp)
        spec = c.write_spec(root, SPEC)
        env_run = dict(env, SUITE_CACHE_DIR=str(cache), SUITE_RESULTS_DIR=str(root))
        kept = [f"sqlite:///{root}/optuna.db", f"sqlite:///{root}/mlflow.db"]
        # Warm the dataset cache and create the kept stores (a first run in a results dir).
        stamps([py, "-c", SUITE_CHILD, str(spec), *kept, "1"], env_run)
        for r in range(2 if args.quick else reps):
            fresh = [f"sqlite:///{root}/o{r}.db", f"sqlite:///{root}/m{r}.db"]
            runs["fresh"].append(stamps([py, "-c", SUITE_CHILD, str(spec), *fresh, "1"], env_run))
            # one more trial of the same benchmark in the kept stores (a resumed run)
            more = str(r + 2)
            runs["existing"].append(
                stamps([py, "-c", SUITE_CHILD, str(spec), *kept, more], env_run)
            )
            runs["plain"].append(stamps([py, "-c", PLAIN_CHILD, str(npz)], env_run))
        mlflow_runs = {
            "new store": stamps([py, "-c", MLFLOW_CHILD, f"sqlite:///{root}/new.db"], env_run),
            "existing store": stamps([py, "-c", MLFLOW_CHILD, kept[1]], env_run),
        }
    rows = []
    for kind, st in mlflow_runs.items():
        for k in ("mlflow.tracking imported", "store opened, first query", "second query"):
            rows.append([kind, k, f"{st[k] - st['main']:.2f}"])
    report.table(
        "MLflow alone (seconds from the script's start)", ["SQLite store", "stamp", "at s"], rows
    )
    best = {k: min(v, key=lambda s: s["first_batch"]) for k, v in runs.items()}
    for kind in ("fresh", "existing"):
        rows, prev = [], 0.0
        for k, at in sorted(best[kind].items(), key=lambda kv: kv[1]):
            if k == "done":
                continue
            rows.append([k, f"{at:.2f}", f"{at - prev:.2f}"])
            prev = at
        report.table(
            f"suite run, {kind} stores: seconds from process start to each stamp (fastest run)",
            ["stamp (end of a step unless 'start')", "at s", "since previous s"],
            rows,
        )
    for kind, label in (("fresh", "new results dir"), ("existing", "existing results dir")):
        report.add(
            f"suite run ({label}): process start -> end of first batch",
            best[kind]["first_batch"],
            "s",
        )
    report.add(
        "plain Keras: process start -> end of first batch", best["plain"]["first_batch"], "s"
    )
    for kind in ("fresh", "existing"):
        report.add(
            f"time to first batch suite ({kind} stores)/plain",
            best[kind]["first_batch"] / best["plain"]["first_batch"],
            note=f"suite +{best[kind]['first_batch'] - best['plain']['first_batch']:.2f} s",
        )
    report.finish(args.json)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
