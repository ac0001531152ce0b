"""Shared helpers of the performance benchmarks: timing, memory, tables, temporary stores,
specs written to disk and loaded through the suite's own loader, and one trial trained through
the runner's per-trial training function.

Every benchmark measures the suite and its reference side by side in one process (or in
subprocesses started by one process) and reports ratios, because absolute figures move with
the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- measuring


def now() -> float:
    """A monotonic clock in seconds."""
    return time.perf_counter()


@dataclass
class Stopwatch:
    """`with Stopwatch() as w: ...` then `w.s` holds the elapsed seconds."""

    s: float = 0.0
    _t: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._t = now()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = now() - self._t


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t = now()
    out = fn()
    return now() - t, out


def rss_mb() -> float:
    """Resident memory of this process now, in MB (VmRSS), or the peak where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """`min-max` of repeated figures, to show the noise beside a median."""
    if len(values) < 2:
        return ""
    return f"{min(values):.3g}-{max(values):.3g}"


# ---------------------------------------------------------------- reporting


@dataclass
class Figure:
    """One measured figure with its goal, e.g. ratio 0.98 (goal >= 0.97) OK."""

    name: str
    value: float | str
    unit: str = ""
    goal: str = ""  # ">= 0.97", "<= 2 %", "= no" (text), ...
    note: str = ""

    @property
    def verdict(self) -> str:
        if not self.goal:
            return ""
        op, _, target = self.goal.partition(" ")
        if op == "=":
            return "OK" if str(self.value) == target else "MISS"
        if isinstance(self.value, str):
            return ""
        limit = float(target.split()[0])
        ok = self.value >= limit if op == ">=" else self.value <= limit
        return "OK" if ok else "MISS"

    def cells(self) -> list[str]:
        v = self.value if isinstance(self.value, str) else f"{self.value:.4g}"
        goal = f"(goal {self.goal})" if self.goal else ""
        return [self.name, f"{v} {self.unit}".strip(), goal, self.verdict, self.note]


@dataclass
class Report:
    """The figures of one benchmark run, printed as a table and optionally saved as JSON."""

    benchmark: str
    quick: bool
    figures: list[Figure] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        fig = Figure(*args, **kwargs)
        self.figures.append(fig)
        print("  " + "  ".join(c for c in fig.cells() if c), flush=True)
        return fig

    def table(self, title: str, headers: list[str], rows: list[list[str]]) -> None:
        self.tables.append((title, headers, rows))
        print_table(title, headers, rows)

    def finish(self, json_path: str | None) -> None:
        print_table(
            f"{self.benchmark} ({'quick' if self.quick else 'full'}): figures",
            ["figure", "value", "goal", "", "note"],
            [f.cells() for f in self.figures],
        )
        if json_path:
            doc = {
                "benchmark": self.benchmark,
                "quick": self.quick,
                "machine": machine(),
                "figures": [f.__dict__ | {"verdict": f.verdict} for f in self.figures],
                "tables": [{"title": t, "headers": h, "rows": r} for t, h, r in self.tables],
            }
            Path(json_path).write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A plain fixed-width table (pastes into Markdown as a code block)."""
    widths = [len(h) for h in headers]
    for row in rows:  # a short row leaves the widths of the later columns as they are
        widths = [max(w, len(str(row[i])) if i < len(row) else 0) for i, w in enumerate(widths)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}\n{line}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip())
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    print(line, flush=True)


def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and library versions, git commit, date and load."""
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("tensorflow", "keras", "optuna", "mlflow", "numpy", "jax", "torch"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = "not installed"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return info


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark has: --quick and --json."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a small run that proves the script works")
    p.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")
    return p


def start(name: str, quick: bool) -> Report:
    """Print the machine line and return an empty report."""
    m = machine()
    print(
        f"# {name} ({'quick' if quick else 'full'}) {m['date']} commit {m.get('commit', '?')} "
        f"| {m.get('cpu', '?')} x{m['cpus']}, {m.get('ram', '?')} | Python {m['python']}, "
        f"TF {m['tensorflow']}, Keras {m['keras']} | load {m['loadavg']}",
        flush=True,
    )
    return Report(name, quick)


# ---------------------------------------------------------------- stores and specs


@dataclass(frozen=True)
class Stores:
    """A temporary results directory with its SQLite Optuna storage and MLflow store."""

    root: Path

    @property
    def storage(self) -> str:
        return f"sqlite:///{self.root / 'optuna.db'}"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"


@contextlib.contextmanager
def temp_stores(prefix: str = "suite-bench-") -> Iterator[Stores]:
    """A fresh results directory (SUITE_RESULTS_DIR points at it meanwhile), removed afterwards.

    The dataset cache ($SUITE_CACHE_DIR) is kept where it was, so generated data is reused.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    old = {k: os.environ.get(k) for k in ("SUITE_RESULTS_DIR", "SUITE_CACHE_DIR")}
    if old["SUITE_CACHE_DIR"] is None:
        os.environ["SUITE_CACHE_DIR"] = str(cache_dir())
    os.environ["SUITE_RESULTS_DIR"] = str(root)
    try:
        yield Stores(root)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)


def cache_dir() -> Path:
    """Where benchmarks keep generated datasets between runs ($SUITE_CACHE_DIR or a temp dir)."""
    env = os.environ.get("SUITE_CACHE_DIR")
    return Path(env) if env else Path(tempfile.gettempdir()) / "suite-bench-cache"


def write_spec(folder: Path, doc: dict[str, Any], name: str = "bench") -> Path:
    """Write a spec document as JSON (a YAML subset the loader reads) and return its path."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def load_bench(folder: Path, doc: dict[str, Any], name: str = "bench") -> Any:
    """Write `doc` under `folder` and load it through the suite's spec loader (validated)."""
    from suite.spec.load import load

    return load(write_spec(folder, doc, name))


def quiet() -> None:
    """Silence Optuna's and MLflow's info logs (the CLI does the same)."""
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with contextlib.suppress(ImportError):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---------------------------------------------------------------- the suite's per-trial path


@dataclass
class SuiteTrials:
    """One candidate's study, tracker and parent run, set up as `suite.runner.run` does,
    to train single trials through the runner's own per-trial training function."""

    ctx: Any
    cand: Any
    study: Any
    parent: str

    @classmethod
    def open(cls, bench: Any, stores: Stores, data: Any = None) -> SuiteTrials:
        from suite import runs, track
        from suite.progress import Reporter
        from suite.search import open_study
        from suite.spec.candidates import candidates
        from suite.spec.load import spec_hash
        from suite.tasks import TASKS
        from suite.trial import load_data

        data = data if data is not None else load_data(bench)
        tracker = track.Tracker(bench.name, stores.tracking_uri)
        ctx = runs.Context(
            bench, data, TASKS.get(bench.task), tracker, Reporter(), spec_hash(bench), 0, {}
        )
        cand = candidates(bench)[0]
        study = open_study(
            f"{bench.name}/{cand.name}",
            stores.storage,
            sampler=bench.search.sampler,
            pruner=bench.search.pruner,
            direction=bench.search.resolved_direction,
            seed=0,
        )
        parent = tracker.candidate_run(cand.name, {})
        return cls(ctx, cand, study, parent)

    def train(
        self, params: dict[str, Any] | None = None, callbacks: Sequence[Any] = ()
    ) -> tuple[Any, Any]:
        """One trial: Optuna ask, MLflow child run, the runner's training with its callbacks
        (timer, NaN guard, MLflow epoch logging, progress, pruning), Optuna tell.
        `callbacks` are added after the suite's own. Returns (model, FitResult)."""
        from suite import runs
        from suite.search import pruning_callback

        trial = self.study.ask()
        tracker = self.ctx.tracker
        run_id = tracker.child_run(self.parent, f"{self.cand.name}/trial-{trial.number}", {})
        concrete = self.cand.concrete(params or {})
        pruner = pruning_callback(trial, self.ctx.bench.search.metric)
        done = runs.train_logged(self.ctx, self.cand, concrete, run_id, 0, [pruner, *callbacks])
        model, result = done.model, done.fit
        self.study.tell(trial, result.value(self.ctx.bench.search.metric))
        tracker.end(run_id)
        return model, result


def trial_epochs(tracking_uri: str, experiment: str) -> list[int]:
    """Epochs each trial trained, as the suite logged them (MLflow metric `epochs`)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    return [int(r.data.metrics.get("epochs", 0)) for r in runs]


def epoch_timer() -> Any:
    """A Keras callback recording each epoch's duration (for the hand-written references)."""
    import keras

    class Durations(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.durations: list[float] = []
            self._t = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t = now()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.durations.append(now() - self._t)

    return Durations()


def steady_rate(n: int, durations: Sequence[float]) -> float:
    """Samples per second over the epochs after the first (the first traces the graph)."""
    rest = list(durations[1:])
    return n * len(rest) / sum(rest) if rest else float("nan")


def python() -> str:
    """The interpreter running this benchmark (subprocesses use the same one)."""
    return sys.executable


def env_with_root(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with the repository on PYTHONPATH (for subprocesses)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env
