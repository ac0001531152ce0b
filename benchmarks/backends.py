"""Keras backends: the same small spec (the 1-D CNN of specs/models/cnn1d.yaml on MNIST-1D,
a few trials through suite.runner.run) on TensorFlow, JAX and PyTorch, one subprocess per
backend (KERAS_BACKEND must be set before Keras is imported). A backend whose package is not
importable is reported "not installed". Figures: the time to import Keras, the run's wall
time, first-epoch and steady-state samples/s (as the suite logs them to MLflow), best
validation accuracy; ratios against TensorFlow.

    python benchmarks/backends.py --quick
    python benchmarks/backends.py --extra-path DIR   # a backend installed with pip --target DIR
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import _common as c

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}

CHILD = textwrap.dedent(
    """
    import importlib.util, json, os, sys, time
    sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
    if importlib.util.find_spec(sys.argv[2]) is None:
        print("RESULT " + json.dumps({"missing": True}))
        raise SystemExit(0)
    import _common as c
    c.quiet()
    t = time.perf_counter()
    import keras
    import_s = time.perf_counter() - t
    trials, epochs, examples = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    doc = {
        "name": "backends",
        "task": "classification",
        "data": {"name": "mnist1d", "num_samples": 4000, "max_examples": examples},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {"epochs": epochs, "batch_size": 64},
        "search": {"trials": trials, "sampler": {"random": {}}, "pruner": {"none": {}}},
    }
    from mlflow.tracking import MlflowClient
    from suite.progress import Reporter
    from suite.runner import run

    with c.temp_stores() as stores:
        bench = c.load_bench(stores.root, doc)
        t = time.perf_counter()
        run(bench, storage=stores.storage, tracking_uri=stores.tracking_uri,
            reporter=Reporter())
        wall = time.perf_counter() - t
        client = MlflowClient(stores.tracking_uri)
        exp = client.get_experiment_by_name("backends")
        runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
        m = [r.data.metrics for r in runs]
        out = {
            "backend": keras.backend.backend(),
            "version": getattr(sys.modules.get(sys.argv[2]), "__version__", "?"),
            "import_s": import_s,
            "wall": wall,
            "first_epoch_s": [x["first_epoch_s"] for x in m],
            "samples_per_s": [x["samples_per_s"] for x in m],
            "best": max(x["objective"] for x in m),
            "states": sorted(r.data.tags.get("suite.state", "?") for r in runs),
        }
    print("RESULT " + json.dumps(out))
    """
)


def run_backend(name: str, args: list[str], extra: str | None) -> dict:
    env = c.env_with_root(
        {
            "KERAS_BACKEND": name,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SUITE_CACHE_DIR": str(c.cache_dir()),
        }
    )
    if extra:  # appended: the venv's packages win over the extra folder's copies
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], extra])
    out = subprocess.run(
        [c.python(), "-c", CHILD, str(c.ROOT), BACKENDS[name], *args],
        cwd=c.ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--extra-path", help="a folder appended to the subprocesses' PYTHONPATH")
    p.add_argument("--only", nargs="+", choices=list(BACKENDS), help="backends to measure")
    args = p.parse_args()
    report = c.start("backends", args.quick)
    trials, epochs, examples = (2, 2, 512) if args.quick else (4, 4, 1600)
    reps = 1 if args.quick else 2
    names = args.only or list(BACKENDS)
    results: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(reps):  # interleaved, order reversed on odd rounds
        for name in names if r % 2 == 0 else list(reversed(names)):
            res = run_backend(name, [str(trials), str(epochs), str(examples)], args.extra_path)
            results[name].append(res)
            if res.get("missing") or res.get("error"):
                break
    rows = []
    base = None
    for name, runs in results.items():
        ok = [x for x in runs if "wall" in x]
        if not ok:
            why = "not installed" if runs and runs[0].get("missing") else runs[0].get("error")
            rows.append([name, why or "?", "", "", "", "", "", ""])
            report.add(
                f"{name}",
                "not installed" if why == "not installed" else "failed",
                note="" if why == "not installed" else why,
            )
            continue
        wall = c.median([x["wall"] for x in ok])
        steady = c.median([c.median(x["samples_per_s"]) for x in ok])
        first = c.median([c.median(x["first_epoch_s"]) for x in ok])
        if name == "tensorflow":
            base = {"wall": wall, "steady": steady}
        rows.append(
            [
                name,
                ok[0]["version"],
                f"{c.median([x['import_s'] for x in ok]):.2f}",
                f"{wall:.1f}",
                f"{first:.2f}",
                f"{steady:.0f}",
                " / ".join(f"{x['best']:.3f}" for x in ok),
                ",".join(sorted(set(ok[0]["states"]))),
            ]
        )
        report.add(f"{name}: run wall time", wall, "s")
        if base and name != "tensorflow":
            report.add(f"{name}: steady samples/s vs tensorflow", steady / base["steady"])
            report.add(f"{name}: run wall time vs tensorflow", wall / base["wall"])
    report.table(
        f"{trials} trials x {epochs} epochs, cnn1d on MNIST-1D ({examples} train), "
        f"{reps} interleaved rep(s), medians",
        [
            "backend",
            "version",
            "import keras s",
            "run wall s",
            "first epoch s",
            "steady samples/s",
            "best val_acc",
            "trial states",
        ],
        rows,
    )
    report.finish(args.json)


if __name__ == "__main__":
    main()
