"""Overhead: what a user pays for the suite, from process start to leaderboard, per trial,
per epoch and per restart, beside a plain Keras script training the same models.

1. `python -m suite.cli run SPEC --quiet` (N tiny trials, `seeds: 0`, fresh SQLite stores in
   a temporary results directory) and a plain script (imports Keras and the suite's spec
   loader and model builder, builds the same models for the same sampled parameters,
   compiles, fits; no Optuna, no MLflow), each a subprocess timed from Popen to exit,
   interleaved. The plain script runs twice: bare (it never frees a model), and freeing
   (`keras.backend.clear_session()` before each model, as Keras' docs advise for models made
   in a loop and KerasTuner does before each trial; it collects every object, the suite only
   what its last training left). Each wall time
   is split into start-up, fit, outside fit, between trials and end from the stores'
   timestamps (suite) or the script's own stamps (plain).
2. Start to first batch: Popen to the first new trial's first epoch, on a new results
   directory and on an existing one (the same spec run again with more trials).
3. Per epoch: the callbacks' cost (MLflow epoch logger, Optuna pruning report, epoch counter),
   timed in this process beside the fixed pieces of a trial.
4. Per restart: the same N-trial run with `--recycle-every R`.
5. Profile: the run under cProfile, its top entries, its wall reconciled.
6. The measured fixed costs extrapolated to trials of 1 s and 10 s, against each plain script.

Memory-triggered recycling is off in every run (SUITE_RECYCLE_MB=0): only `--recycle-every`
restarts a process. Trials are tiny (256 MNIST-1D examples, 2 epochs) so the overhead shows.

    python benchmarks/overhead.py --quick
"""

from __future__ import annotations

import json
import math
import os
import pstats
import shutil
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import _common as c

EPOCHS = 2
STUDY = "overhead/cnn"
RECYCLED = "recycling the worker process"  # the line a restart prints (suite.workers)


def spec(trials: int) -> dict[str, Any]:
    return {
        "name": "overhead",
        "task": "classification",
        "seeds": 0,  # no seed runs: only the search runs, as in the plain script
        "data": {"name": "mnist1d", "num_samples": 1000, "max_examples": 256},
        "candidates": {"cnn": {"model": {"extends": "models/cnn1d.yaml"}}},
        "train": {"epochs": EPOCHS, "batch_size": 64, "optimizer": {"adam": {}}},
        "search": {
            "trials": trials,
            "sampler": {"random": {}},
            "pruner": {"none": {}},  # every trial trains all its epochs, as in the plain script
            "metric": "val_accuracy",
            "space": {"train.optimizer.adam.learning_rate": {"float": [1e-3, 1e-2], "log": True}},
        },
    }


# The reference: the same models for the same parameters, built by the suite's own builder
# and compiled as the suite compiles them, fitted by a bare `model.fit`. Prints its stamps.
PLAIN_CHILD = textwrap.dedent(
    """
    import time; T = {"main": time.time()}
    import json, sys
    import keras
    T["keras imported"] = time.time()
    from suite.spec.candidates import candidates
    from suite.spec.load import load
    from suite.tasks import TASKS
    from suite.train import compile_model
    from suite.trial import build, inputs, load_data
    T["spec loader and model builder imported"] = time.time()
    bench = load(sys.argv[1])
    with open(sys.argv[2]) as f:
        params = json.load(f)
    data = load_data(bench)
    cand = candidates(bench)[0]
    task = TASKS.get(bench.task).bind(data)
    T["data loaded"] = time.time()

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 0:
                self.at, self.t = time.time(), time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.s = time.perf_counter() - self.t

    free = sys.argv[3:] == ["free"]
    trials = []
    for p in params:
        start = time.time()
        if free:  # as Keras' docs advise for models made in a loop; it collects garbage too
            keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        concrete = cand.concrete(p)
        prep = inputs(task, data, concrete)
        model = build(task, prep, concrete.model.layers, cand.name)
        compile_model(model, concrete.train, task)
        first = FirstEpoch()
        t = time.perf_counter()
        model.fit(
            prep.data.train.x,
            prep.data.train.y,
            batch_size=concrete.train.batch_size,
            epochs=concrete.train.epochs,
            validation_data=(prep.data.val.x, prep.data.val.y),
            shuffle=True,
            verbose=0,
            callbacks=[first],
        )
        fit_s = time.perf_counter() - t
        end = time.time()
        stamps = {"start": start, "fit_start": first.at, "end": end}
        trials.append({**stamps, "fit_s": fit_s, "first_s": first.s})
    print("PLAIN " + json.dumps({"stamps": T, "trials": trials}))
    """
)


# ---------------------------------------------------------------- one process, timed


@dataclass
class Trial:
    """One trial on the wall clock (epoch seconds): started (Optuna ask, or the plain
    script's build), its first epoch began, ended (Optuna tell, or fit returned); fit seconds."""

    number: int
    start: float
    fit_start: float
    end: float
    fit_s: float
    first_s: float  # the first epoch (it traces the graph)
    params: dict[str, Any] = field(default_factory=dict)
    best: bool = False  # the best so far when it ended: it held its model (a .keras save)


@dataclass
class Run:
    """One process: wall clock just before Popen, seconds from Popen to exit, its trials."""

    t0: float
    wall: float
    trials: list[Trial]
    restarts: int = 0
    stamps: dict[str, float] = field(default_factory=dict)  # plain script: seconds from t0

    def parts(self) -> dict[str, float]:
        """The wall time split in five parts that add up to it."""
        ts = self.trials
        return {
            "start-up (Popen -> first trial starts)": ts[0].start - self.t0,
            "fit (sum of model.fit)": sum(t.fit_s for t in ts),
            "in trials, outside fit": sum(t.end - t.start - t.fit_s for t in ts),
            "between trials": sum(self.gaps()),
            "end (last trial ends -> exit)": self.t0 + self.wall - ts[-1].end,
        }

    def gaps(self) -> list[float]:
        """Seconds from each trial's end to the next one's start."""
        ts = self.trials
        return [b.start - a.end for a, b in pairwise(ts)]

    def first_epoch(self) -> float:
        """Seconds from Popen to the first trial's first epoch (its first batch starts)."""
        return self.trials[0].fit_start - self.t0


def child_env(results: Path) -> dict[str, str]:
    """The environment of a timed process: stores under `results` only, no recycling by memory."""
    env = c.env_with_root(
        {
            "SUITE_RESULTS_DIR": str(results),
            "SUITE_CACHE_DIR": str(c.cache_dir()),
            "SUITE_RECYCLE_MB": "0",
        }
    )
    for k in ("MLFLOW_TRACKING_URI", "SUITE_OPTUNA_STORAGE", "SUITE_RECYCLE_EVERY"):
        env.pop(k, None)
    return env


def launch(argv: list[str], results: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall clock at Popen, seconds to exit, the finished process) of one command."""
    t0 = time.time()
    start = c.now()
    out = subprocess.run(argv, cwd=c.ROOT, env=child_env(results), capture_output=True, text=True)
    wall = c.now() - start
    if out.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[1:6])} ... exited {out.returncode}:\n{out.stderr[-3000:]}"
        )
    return t0, wall, out


def suite_run(
    spec_path: Path, results: Path, n: int, extra: tuple[str, ...] = (), profile: Path | None = None
) -> Run:
    """`suite run SPEC --quiet --trials n` in `results`; the trials this process started."""
    py = c.python()
    head = [py, "-m", "cProfile", "-o", str(profile)] if profile else [py]
    argv = [*head, "-m", "suite.cli", "run", str(spec_path), "--quiet", "--trials", str(n), *extra]
    t0, wall, out = launch(argv, results)
    trials = [t for t in read_trials(results) if t.start >= t0]
    return Run(t0, wall, trials, out.stderr.count(RECYCLED))


def read_trials(results: Path) -> list[Trial]:
    """Every trial of the study in `results`: Optuna's start and end, MLflow's fit seconds;
    the first epoch began at its step-0 metrics' timestamp minus its first epoch's seconds."""
    import optuna
    from mlflow.tracking import MlflowClient

    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{results / 'optuna.db'}")
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    out = []
    top = -math.inf  # the study maximizes
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.datetime_start is None or t.datetime_complete is None:
            continue
        best = t.value is not None and t.value > top
        if best:
            top = t.value
        run = client.get_run(t.user_attrs["mlflow_run_id"])
        m = run.data.metrics
        first = min(client.get_metric_history(run.info.run_id, "loss"), key=lambda x: x.step)
        out.append(
            Trial(
                t.number,
                t.datetime_start.timestamp(),
                first.timestamp / 1000 - m["first_epoch_s"],
                t.datetime_complete.timestamp(),
                m["train_time_s"],
                m["first_epoch_s"],
                dict(t.params),
                best,
            )
        )
    return out


def plain_run(spec_path: Path, params: list[dict[str, Any]], tmp: Path, free: bool = False) -> Run:
    """The plain script on the same spec and parameters, timed as the suite is; with `free`,
    it clears Keras' session (a full garbage collection) before each model."""
    ps = tmp / "params.json"
    ps.write_text(json.dumps(params), encoding="utf-8")
    argv = [c.python(), "-c", PLAIN_CHILD, str(spec_path), str(ps), *(["free"] if free else [])]
    t0, wall, out = launch(argv, tmp)
    line = next(x for x in out.stdout.splitlines() if x.startswith("PLAIN "))
    doc = json.loads(line[len("PLAIN ") :])
    trials = [
        Trial(i, t["start"], t["fit_start"], t["end"], t["fit_s"], t["first_s"])
        for i, t in enumerate(doc["trials"])
    ]
    return Run(t0, wall, trials, stamps={k: v - t0 for k, v in doc["stamps"].items()})


# ---------------------------------------------------------------- the profile


# Library calls shown beside the suite's functions: label, file (ends with), function.
LIBRARY = [
    ("all imports", "<frozen importlib._bootstrap>", "_find_and_load"),
    ("TensorFlow import", "tensorflow/__init__.py", "<module>"),
    ("Keras Model.fit", "keras/src/backend/tensorflow/trainer.py", "fit"),
    ("tf.function tracing", "polymorphic_function/tracing_compilation.py", "trace_function"),
    ("Keras clear_session", "keras/src/backend/common/global_state.py", "clear_session"),
    ("gc.collect", "~", "<built-in method gc.collect>"),
    ("MLflow SQL store opened", "mlflow/store/tracking/sqlalchemy_store.py", "__init__"),
    ("Optuna RDB storage opened", "optuna/storages/_rdb/storage.py", "__init__"),
    ("MLflow create_run", "mlflow/tracking/client.py", "create_run"),
    ("MLflow log_batch", "mlflow/tracking/client.py", "log_batch"),
    ("MLflow Keras save_model", "mlflow/keras/save.py", "save_model"),
    ("Optuna ask", "optuna/study/study.py", "ask"),
    ("Optuna tell", "optuna/study/study.py", "tell"),
]


def profile_rows(path: Path, wall: float, top: int) -> list[list[str]]:
    """The `top` entries by cumulative time among the suite's functions and the LIBRARY
    calls. A suite function that spends its time in one suite function it calls (within
    3 %) is left out for that callee."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    suite_dir = str(c.ROOT / "suite").replace(os.sep, "/") + "/"
    own = {
        key: v
        for key, v in stats.items()
        if key[0].replace(os.sep, "/").startswith(suite_dir) and key[2] != "<module>"
    }
    wrappers = {
        caller
        for v in own.values()
        for caller in v[4]
        if caller in own and own[caller][3] - v[3] <= max(0.02, 0.03 * own[caller][3])
    }
    rows = [
        (v[3], v[1], f"{f.replace(os.sep, '/')[len(suite_dir) - 6 :]}:{line} {func}")
        for (f, line, func), v in own.items()
        if (f, line, func) not in wrappers
    ]
    best: dict[str, tuple[float, int, str]] = {}
    for (file, line, func), v in stats.items():
        f = file.replace(os.sep, "/")
        for label, end, name in LIBRARY:  # of several matches (nested __init__): the outermost
            if f.endswith(end) and func == name and (label not in best or v[3] > best[label][0]):
                best[label] = (v[3], v[1], f"{label} ({end.rsplit('/', 1)[-1]}:{line})")
    rows = sorted([*rows, *best.values()], key=lambda r: -r[0])[:top]
    return [
        [name, str(n), f"{cum:.2f}", f"{100 * cum / wall:.0f}", f"{1000 * cum / n:.1f}"]
        for cum, n, name in rows
    ]


def profile_cum(path: Path, end: str, name: str) -> float:
    """Cumulative seconds of the outermost function `name` in a file ending with `end`."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    found = [
        v[3]
        for (f, _, fn), v in stats.items()
        if f.replace(os.sep, "/").endswith(end) and fn == name
    ]
    return max(found, default=float("nan"))


# ---------------------------------------------------------------- pieces, in this process


def per_call(fn: Any, reps: int) -> float:
    """Median milliseconds of one call of fn()."""
    times = []
    for _ in range(reps):
        t = c.now()
        fn()
        times.append(c.now() - t)
    return c.median(times) * 1000


def pieces(bench: Any, reps: int) -> list[tuple[str, float, str]]:
    """Milliseconds of each piece the runner adds around a training (per trial) and inside
    it (per epoch), in fresh stores; the pruning report with the default (median) pruner,
    over the epochs of 10-epoch trials (its first call in a trial reads the finished trials)."""
    import keras

    from suite import track
    from suite.build import build_model, trainable_params
    from suite.search import counted, epoch_counter, is_best, open_study, pruning_callback
    from suite.search.studies import reading_once
    from suite.spec.candidates import candidates
    from suite.spec.space import suggest_all
    from suite.spec.strategies import PRUNERS
    from suite.tasks import TASKS
    from suite.train import compile_model
    from suite.trial import TrialResult, hold, load_data

    data = load_data(bench)
    cand = candidates(bench)[0]
    task = TASKS.get("classification").bind(data)
    out: list[tuple[str, float, str]] = []
    with c.temp_stores() as stores:
        tracker = track.Tracker("overhead-parts", stores.tracking_uri)
        parent = tracker.candidate_run("cnn", {})
        study = open_study(
            "parts",
            stores.storage,
            sampler=bench.search.sampler,
            pruner=bench.search.pruner,
            direction="maximize",
            seed=0,
        )
        wrapped = reading_once(PRUNERS.get("median")())  # as open_study makes it
        study.pruner = wrapped
        state: dict[str, Any] = {}

        def ask_tell() -> None:
            trial = study.ask()
            state["params"] = suggest_all(trial, cand.space)
            study.tell(trial, 0.5)

        out.append(("Optuna ask + suggest + tell (SQLite)", per_call(ask_tell, reps), "trial"))
        out.append(
            (
                "budget count + best-so-far query",
                per_call(lambda: (counted(study), is_best(study, 0.5)), reps),
                "trial",
            )
        )
        concrete = cand.concrete(state["params"])
        flat = track.run_params(concrete.model_dump(mode="json"), state["params"])

        def new_run() -> None:
            state["run"] = tracker.child_run(parent, "cnn/trial-x", {"suite.kind": "trial"})

        out.append(("MLflow child run", per_call(new_run, reps), "trial"))
        run_id = state["run"]
        ids = iter([tracker.child_run(parent, f"p{i}", {}) for i in range(reps)])
        out.append(
            (
                f"MLflow log_params ({len(flat)} params) stored at once (a trial queues them)",
                per_call(lambda: tracker.log_params(next(ids), flat), reps),
                "trial",
            )
        )
        inputs = track.dataset_inputs(data, "mnist1d", ("train", "val"))
        ids = iter([tracker.child_run(parent, f"i{i}", {}) for i in range(reps)])
        out.append(
            (
                "MLflow log_inputs (train, val)",
                per_call(lambda: tracker.log_inputs(next(ids), inputs), reps),
                "trial",
            )
        )
        summary = {f"m{i}": 0.5 for i in range(15)}

        def finish() -> None:  # as runs.objective ends a trial: queued, stored by end
            run = tracker.child_run(parent, "cnn/trial-y", {"suite.kind": "trial"})
            tracker.log_params(run, flat, wait=False)
            tracker.log_metrics(run, {"params": 1.0}, wait=False)
            for epoch in range(EPOCHS):
                tracker.log_metrics(run, {"loss": 1.0, "val_accuracy": 0.5}, epoch, wait=False)
            t = c.now()
            tracker.log_metrics(run, summary, wait=False)
            tracker.tag_batch(run, {track.STATE: "COMPLETE"}, wait=False)
            tracker.end(run)
            state["finish"] = c.now() - t

        finished = []
        for _ in range(reps):
            finish()
            finished.append(state["finish"])
        out.append(
            (
                f"MLflow end of a trial: summary + state queued, end run storing the queue "
                f"({len(flat)} params, {EPOCHS} epochs, summary)",
                c.median(finished) * 1000,
                "trial",
            )
        )

        def build() -> None:
            keras.utils.set_random_seed(0)
            m = build_model(concrete.model.layers, data.input_shape, task, data.num_classes)
            trainable_params(m)
            compile_model(m, concrete.train, task)
            state["model"] = m

        out.append(
            ("seed + build_model + compile (plain pays it too)", per_call(build, reps), "trial")
        )
        model = state["model"]
        model.fit(data.train.x[:64], data.train.y[:64], epochs=1, verbose=0)
        example = data.train.x[:1]
        out.append(
            (
                "hold the best trial's training (configuration, weights, optimizer state)",
                per_call(lambda: hold(TrialResult(model, None, None, 0, {})), max(2, reps // 4)),
                "best trial",
            )
        )
        out.append(
            (
                "log_model (.keras save + MLflow model), the held best as the search ends",
                per_call(lambda: tracker.log_model(run_id, model, example), max(2, reps // 4)),
                "search",
            )
        )

        logs = {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}
        epoch_run = tracker.child_run(parent, "epochs", {})
        logger = track.epoch_logger(tracker, epoch_run)
        epoch = iter(range(10**6))
        out.append(
            (
                "MLflow epoch logger, on the training loop (queued)",
                per_call(lambda: logger.on_epoch_end(next(epoch), dict(logs)), reps),
                "epoch",
            )
        )

        def logged(k: int) -> float:  # k epochs queued, then stored as the run ends
            run = tracker.child_run(parent, f"epochs-{k}", {})
            lg = track.epoch_logger(tracker, run)
            t = c.now()
            for e in range(k):
                lg.on_epoch_end(e, dict(logs))
            tracker.end(run)
            return c.now() - t

        written = 1000 * (logged(reps) - logged(0)) / reps
        out.append(
            ("  the same with its queue stored (at the run's end), off the loop", written, "-")
        )

        def ten_epochs(pruner: Any) -> float:  # a new trial: its first call reads the study
            study.pruner = pruner
            trial = study.ask()
            callback = pruning_callback(trial, "val_accuracy")
            callback.set_model(model)
            t = c.now()
            for e in range(10):
                callback.on_epoch_end(e, dict(logs))
            spent = c.now() - t
            study.tell(trial, 0.5)
            return spent

        out.append(
            (
                "pruning callback: trial.report + should_prune (median), an epoch of a "
                "10-epoch trial",
                c.median([ten_epochs(wrapped) for _ in range(max(3, reps // 3))]) * 100,
                "epoch",
            )
        )
        unwrapped = PRUNERS.get("median")()  # Optuna's pruner as it is, for comparison
        out.append(
            (
                "  the same, the pruner unwrapped (should_prune reads the study at every epoch)",
                c.median([ten_epochs(unwrapped) for _ in range(max(3, reps // 3))]) * 100,
                "-",
            )
        )
        trial = study.ask()
        counter = epoch_counter(study, trial._trial_id)
        out.append(
            (
                "epoch counter (for the epoch budget; written at most once a second)",
                per_call(lambda: counter.on_epoch_end(0, dict(logs)), reps),
                "epoch",
            )
        )
    return out


# ---------------------------------------------------------------- the runs


@dataclass
class Measured:
    """Every process this benchmark timed."""

    n: int
    suites: list[Run]  # fresh results dirs
    plains: list[Run]
    freeing: list[Run]  # the plain script clearing Keras' session before each model
    existing: Run  # `more` trials added in the results dir of suites[0]
    more: int
    recycled: Run  # fresh, --recycle-every `every`
    every: int
    profiled: Run  # fresh, under cProfile
    profile: Path


def measure(spec_path: Path, tmp: Path, n: int, reps: int, more: int, every: int) -> Measured:
    """The suite and the plain script interleaved `reps` times (order alternating), then the
    run on an existing results dir, the recycled run and the profiled run."""
    # the libraries read once from disk, so the first timed process is not the cold one
    warm = [c.python(), "-c", "import keras, mlflow, optuna"]
    subprocess.run(warm, env=child_env(tmp), capture_output=True, check=True)
    order = ("suite", "plain", "freeing")
    runs: dict[str, list[Run]] = {who: [] for who in order}
    params: list[dict[str, Any]] = []
    for r in range(reps):
        for who in order if r % 2 == 0 else order[::-1]:
            if who == "suite":
                runs[who].append(suite_run(spec_path, tmp / f"fresh{r}", n))
                params = params or [t.params for t in runs[who][-1].trials]
                if r:
                    shutil.rmtree(tmp / f"fresh{r}", ignore_errors=True)
            else:
                runs[who].append(plain_run(spec_path, params, tmp, free=who == "freeing"))
            print(f"  rep {r + 1}/{reps} {who}: {runs[who][-1].wall:.1f} s", flush=True)
    existing = suite_run(spec_path, tmp / "fresh0", n + more)
    print(f"  existing results dir, {more} more trial(s): {existing.wall:.1f} s", flush=True)
    recycled = suite_run(spec_path, tmp / "recycled", n, ("--recycle-every", str(every)))
    print(f"  --recycle-every {every}: {recycled.wall:.1f} s", flush=True)
    profile = tmp / "run.prof"
    profiled = suite_run(spec_path, tmp / "profiled", n, profile=profile)
    print(f"  under cProfile: {profiled.wall:.1f} s", flush=True)
    return Measured(
        n,
        runs["suite"],
        runs["plain"],
        runs["freeing"],
        existing,
        more,
        recycled,
        every,
        profiled,
        profile,
    )


# ---------------------------------------------------------------- the figures

START, FIT, OUTSIDE, BETWEEN = (
    "start-up (Popen -> first trial starts)",
    "fit (sum of model.fit)",
    "in trials, outside fit",
    "between trials",
)


def med(runs: list[Run], part: str) -> float:
    return c.median([r.parts()[part] for r in runs])


def outside_per_trial(m: Measured, plains: list[Run]) -> float:
    """Seconds per trial the suite spends outside fit (in trials and between them) beyond
    the plain script's."""
    s, p = m.suites, plains
    return (med(s, OUTSIDE) + med(s, BETWEEN) - med(p, OUTSIDE) - med(p, BETWEEN)) / m.n


def report_wall(report: c.Report, m: Measured) -> dict[str, float]:
    """Process start to exit, side by side; returns the fixed seconds per trial outside fit
    against each plain script (bare: "plain"; clearing Keras' session: "freeing")."""
    n, suites, plains, freeing = m.n, m.suites, m.plains, m.freeing
    rows = []
    for k in suites[0].parts():
        s, p, f = med(suites, k), med(plains, k), med(freeing, k)
        rows.append([k, f"{s:.2f}", f"{p:.2f}", f"{f:.2f}", f"{s - p:+.2f}", f"{s - f:+.2f}"])
    wall_s, wall_p, wall_f = (
        c.median([r.wall for r in runs]) for runs in (suites, plains, freeing)
    )
    rows.append(
        [
            "wall (Popen -> exit)",
            *(f"{w:.2f}" for w in (wall_s, wall_p, wall_f)),
            f"{wall_s - wall_p:+.2f}",
            f"{wall_s - wall_f:+.2f}",
        ]
    )
    report.table(
        f"process start to exit, {n} trials x {EPOCHS} epochs, median of {len(suites)} "
        "(seconds; suite: the stores' timestamps, plain: its own stamps; plain, freeing: the "
        "plain script calling keras.backend.clear_session() before each model, as Keras' docs "
        "advise for models made in a loop and KerasTuner does before each trial)",
        ["part", "suite run", "plain script", "plain, freeing", "suite - plain", "suite - freeing"],
        rows,
    )
    fit_p = med(plains, FIT) / n
    diff = wall_s - wall_p
    report.add("suite run: process start to leaderboard", wall_s, "s", note=f"{n} trials")
    report.add("plain script: process start to exit", wall_p, "s")
    report.add("plain script, freeing each model: process start to exit", wall_f, "s")
    report.add("difference (suite - plain)", diff, "s", note=f"{1000 * diff / n:.0f} ms per trial")
    report.add(
        "overhead, % of the suite's wall time",
        100 * diff / wall_s,
        "%",
        note=f"{n} trials fitting {fit_p:.2f} s each, start-up included",
    )
    fixed = {"plain": outside_per_trial(m, plains), "freeing": outside_per_trial(m, freeing)}
    trials = [t for r in suites for t in r.trials]
    held = [t.end - t.start - t.fit_s for t in trials if t.best]
    other = [t.end - t.start - t.fit_s for t in trials if not t.best]
    report.add(
        "fixed cost per trial outside fit (suite - plain)",
        1000 * fixed["plain"],
        "ms",
        note=f"suite's trials outside fit, median: {1000 * c.median(other):.0f} ms, "
        f"{1000 * c.median(held):.0f} ms when the best so far, holding its model "
        f"({len(held)}/{len(trials)}; the search's best is logged as it ends)",
    )
    report.add(
        "fixed cost per trial outside fit (suite - plain, freeing)",
        1000 * fixed["freeing"],
        "ms",
        note="that script's clear_session collects every object (the suite's only the unfrozen)",
    )
    first = [c.median([t.first_s for r in runs for t in r.trials]) for runs in (suites, plains)]
    rest = [
        c.median([(t.fit_s - t.first_s) / (EPOCHS - 1) for r in runs for t in r.trials])
        for runs in (suites, plains)
    ]
    report.add(
        "fit per trial, suite - plain",
        1000 * (med(suites, FIT) - med(plains, FIT)) / n,
        "ms",
        note=f"{EPOCHS} epochs; medians: first epoch (tracing) {first[0]:.3f} vs "
        f"{first[1]:.3f} s, each later one {rest[0]:.3f} vs {rest[1]:.3f} s",
    )
    report.add(
        "fit per trial, suite - plain, freeing",
        1000 * (med(suites, FIT) - med(freeing, FIT)) / n,
        "ms",
    )
    report.add(
        "fit, an epoch after the first, suite - plain (callbacks + noise)",
        1000 * (rest[0] - rest[1]),
        "ms",
    )
    return fixed


def report_first_batch(report: c.Report, m: Measured) -> None:
    """Popen to the first new trial's start and to its first epoch, new and existing dirs."""
    suites, plains, existing = m.suites, m.plains, m.existing
    new_start = c.median([r.trials[0].start - r.t0 for r in suites])
    new_first = c.median([r.first_epoch() for r in suites])
    plain_start = c.median([r.trials[0].start - r.t0 for r in plains])
    plain_first = c.median([r.first_epoch() for r in plains])
    first_new = existing.trials[0]
    report.table(
        "start to first batch: seconds from Popen to the first new trial's start (suite: its "
        "Optuna datetime_start; plain: before its seed and build) and to its first epoch's "
        "start, when its first batch starts (suite: its step-0 metrics' MLflow timestamp "
        "minus first_epoch_s; plain: on_epoch_begin)",
        ["run", "trial starts", "first epoch starts", "wall to exit"],
        [
            [
                "suite run, new results dir",
                f"{new_start:.2f}",
                f"{new_first:.2f}",
                f"{c.median([r.wall for r in suites]):.2f}",
            ],
            [
                f"suite run, existing results dir (+{m.more}, from trial {first_new.number})",
                f"{first_new.start - existing.t0:.2f}",
                f"{existing.first_epoch():.2f}",
                f"{existing.wall:.2f}",
            ],
            [
                "plain script",
                f"{plain_start:.2f}",
                f"{plain_first:.2f}",
                f"{c.median([r.wall for r in plains]):.2f}",
            ],
        ],
    )
    report.add("suite run, new results dir: Popen -> first epoch starts", new_first, "s")
    report.add(
        "suite run, existing results dir: Popen -> first epoch starts",
        existing.first_epoch(),
        "s",
        goal="<= 12",
    )
    st = plains[0].stamps
    report.add(
        "plain script: Popen -> first epoch starts",
        plain_first,
        "s",
        note=f"of which import keras (TensorFlow) {st['keras imported'] - st['main']:.1f} s",
    )


def report_restart(report: c.Report, m: Measured) -> None:
    """Seconds per restart: within the recycled run, a trial's cycle (previous trial's end to
    its end) after a restart beside the other cycles; and by the wall times."""
    rec = m.recycled
    ts = rec.trials
    after = {i for i in range(1, len(ts)) if i % m.every == 0}  # a fresh process ran trial i
    cycles = [(i, b.end - a.end, b.start - a.end) for i, (a, b) in enumerate(pairwise(ts), 1)]
    restart_cycle = c.median([cy for i, cy, _ in cycles if i in after])
    other_cycle = c.median([cy for i, cy, _ in cycles if i not in after])
    restart_gap = c.median([g for i, _, g in cycles if i in after])
    other_gap = c.median([g for i, _, g in cycles if i not in after])
    base = c.median([r.wall for r in m.suites])
    report.table(
        f"per restart: {m.n} trials with --recycle-every {m.every}, beside the runs without "
        "(seconds; a trial's cycle: previous trial's end to its end; gap: to its start)",
        ["run", "restarts", "wall", "cycle", "of it gap"],
        [
            ["no recycling", "0", f"{base:.2f}", "-", "-"],
            [
                f"--recycle-every {m.every}: a trial after a restart",
                str(rec.restarts),
                f"{rec.wall:.2f}",
                f"{restart_cycle:.2f}",
                f"{restart_gap:.2f}",
            ],
            ["  the other trials", "", "", f"{other_cycle:.2f}", f"{other_gap:.3f}"],
        ],
    )
    report.add(
        "cost of one restart (cycle after a restart - other cycles)",
        restart_cycle - other_cycle,
        "s",
        note=f"{rec.restarts} restarts, of {len(after)} expected",
    )
    report.add(
        "  of it between the trials (exit -> next trial starts)", restart_gap - other_gap, "s"
    )
    report.add(
        "  by the wall times ((recycled - not recycled) / restarts)",
        (rec.wall - base) / max(rec.restarts, 1),
        "s",
        note="two runs' noise in it",
    )


def report_profile(report: c.Report, m: Measured) -> None:
    """The profile's top entries, and every run's wall time reconciled from its parts."""
    p = m.profiled
    report.table(
        f"profile of one suite run ({m.n} trials, cProfile, wall {p.wall:.1f} s): top entries "
        "by cumulative time (the suite's functions, a wrapper shown as the call it wraps; the "
        "big library calls)",
        ["function", "calls", "cumulative s", "% of wall", "ms per call"],
        profile_rows(m.profile, p.wall, 16),
    )
    runs = [("suite run", m.suites[0]), ("suite run under cProfile", p), ("plain", m.plains[0])]
    keys = list(p.parts())
    report.table(
        "each wall time reconciled: fit (train_time_s) + start-up + the rest = wall (seconds)",
        ["run", *[k.split(" (")[0] for k in keys], "sum", "wall"],
        [
            [
                label,
                *[f"{r.parts()[k]:.2f}" for k in keys],
                f"{sum(r.parts().values()):.2f}",
                f"{r.wall:.2f}",
            ]
            for label, r in runs
        ],
    )
    report.add(
        "under cProfile: Keras Model.fit, cumulative",
        profile_cum(m.profile, "keras/src/backend/tensorflow/trainer.py", "fit"),
        "s",
        note=f"sum of train_time_s {p.parts()[FIT]:.2f} s",
    )
    report.add(
        "under cProfile: TensorFlow import",
        profile_cum(m.profile, "tensorflow/__init__.py", "<module>"),
        "s",
        note=f"of a start-up of {p.parts()[START]:.2f} s",
    )


def report_pieces(report: c.Report, bench: Any, reps: int) -> float:
    """The pieces of a trial and of an epoch, timed in this process; returns ms per epoch."""
    from suite.startup import configure, import_tensorflow

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # as a quiet suite process (_common sets 2)
    configure()  # TensorFlow's and MLflow's start-up lines left out, as the suite does
    import_tensorflow()
    parts = pieces(bench, reps)
    report.table(
        "cost of each piece (median ms per call, fresh SQLite stores, this process)",
        ["piece", "ms", "paid once per"],
        [[name, f"{ms:.1f}", per] for name, ms, per in parts],
    )
    per_epoch = sum(ms for _, ms, per in parts if per == "epoch")
    report.add("callbacks' cost per epoch, on the training loop", per_epoch, "ms", goal="<= 10")
    return per_epoch


def report_goals(report: c.Report, fixed: dict[str, float], per_epoch_ms: float) -> None:
    """The fixed cost per trial and the cost per epoch as % of trials of 1 s and 10 s, against
    each plain script."""
    against = {"plain": "the plain script", "freeing": "the plain script freeing each model"}
    for ref, label in against.items():
        cost_0 = max(fixed[ref], 0.0)
        for seconds, epochs, goal in ((1.0, 10, "<= 10"), (10.0, 10, "<= 2"), (10.0, 100, "")):
            cost = cost_0 + epochs * per_epoch_ms / 1000
            report.add(
                f"overhead at {seconds:g} s trials of {epochs} epochs (extrapolated), "
                f"against {label}",
                100 * cost / (seconds + cost),
                "%",
                goal=goal,
                note=f"{1000 * cost_0:.0f} ms + {epochs} x {per_epoch_ms:.1f} ms per trial",
            )


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, help="trials per run (default 5 quick, 20 full)")
    args = p.parse_args()
    report = c.start("overhead", args.quick)
    c.quiet()
    n = args.trials or (5 if args.quick else 20)
    tmp = Path(tempfile.mkdtemp(prefix="suite-bench-overhead-"))
    try:
        spec_path = c.write_spec(tmp, spec(n), "overhead")
        with c.temp_stores() as stores:  # the dataset cached before anything is timed
            from suite.trial import load_data

            bench = c.load_bench(stores.root, spec(n))
            data = load_data(bench)
        print(
            f"data: train {data.train.x.shape}, val {len(data.val)}; {n} trials x {EPOCHS} epochs"
        )
        m = measure(
            spec_path,
            tmp,
            n,
            reps=1 if args.quick else 2,
            more=1 if args.quick else 2,
            every=2 if args.quick else 4,
        )
        fixed = report_wall(report, m)
        report_first_batch(report, m)
        report_restart(report, m)
        report_profile(report, m)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    per_epoch = report_pieces(report, bench, 10 if args.quick else 30)
    report_goals(report, fixed, per_epoch)
    report.finish(args.json)


if __name__ == "__main__":
    main()
