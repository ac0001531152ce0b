"""Worker processes: who runs a trial, whether it is alive, and N workers on one machine.

A worker is a `suite worker` process. Workers of one benchmark share its Optuna studies
and MLflow experiment; `suite run --workers N` starts N of them here, round robin over the
GPUs where there are GPUs (several on one GPU when N is larger, each limited to its share of
the GPU's memory).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

from suite import settings, startup
from suite.progress import Reporter

WORKER = "SUITE_WORKER"  # environment: this worker's name (its index under --workers N)
RECYCLED = "SUITE_RECYCLED"  # environment: how many times this worker was replaced
CLOCKS = "SUITE_CLOCKS"  # environment: when the worker started on each candidate (wall clock)


def _start_time(pid: int) -> int | None:
    """The process's start (clock ticks since boot) where /proc tells it, to tell reused pids."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@cache
def identity() -> dict[str, Any]:
    """This process: host, pid and start time (recorded on every trial it runs)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _start_time(pid)}


def is_me(owner: Any) -> bool:
    me = identity()
    return isinstance(owner, dict) and all(owner.get(k) == me[k] for k in ("host", "pid"))


def alive(owner: Any) -> bool | None:
    """Whether the process `owner` names still runs; None when it ran on another machine."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    start = owner.get("start")
    return start is None or _start_time(pid) in (None, start)


def gpus() -> list[str]:
    """The GPUs workers may use: $CUDA_VISIBLE_DEVICES, else those nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def sampler_identity() -> str | None:
    """What sets this process's sampler apart from other workers' (see
    `suite.search.studies.sampler_seed`): its worker name ($SUITE_WORKER: an index under
    `suite run --workers N`, host and pid for a `suite worker` started by hand) and how often
    it was recycled. None for a single process and the first of N workers."""
    parts = []
    name = os.environ.get(WORKER, "")
    if name not in ("", "0"):
        parts.append(f"worker {name}")
    restarts = os.environ.get(RECYCLED, "0")
    if restarts not in ("", "0"):  # a fresh process would repeat its predecessor's points
        parts.append(f"restart {restarts}")
    return ", ".join(parts) or None


def name_worker() -> None:
    """Name a worker started by hand after its host and pid ($SUITE_WORKER), unless named."""
    me = identity()
    os.environ.setdefault(WORKER, f"{me['host']}:{me['pid']}")


# The share of a GPU's memory the workers placed on it may take together (the rest: the
# driver, other programs); each of k workers sharing a GPU may take this / k.
GPU_MEMORY_SHARE = 0.9


def placement(n: int, devices: Sequence[str]) -> list[str | None]:
    """The GPU of each of `n` workers: round robin over `devices` (several workers on one
    GPU when `n` is larger), None for all without GPUs."""
    return [devices[i % len(devices)] if devices else None for i in range(n)]


def memory_env(sharing: int) -> dict[str, str]:
    """The environment that limits one of `sharing` workers on a GPU to its share: JAX
    allocates as it needs, up to GPU_MEMORY_SHARE / sharing of the GPU; TensorFlow grows
    its memory as it needs. Nothing when the worker has the GPU to itself."""
    if sharing < 2:
        return {}
    fraction = int(GPU_MEMORY_SHARE / sharing * 100) / 100
    return {
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{fraction:.2f}",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }


def worker_env(
    index: int,
    devices: Sequence[str],
    workers: int = 1,
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """Worker `index`'s environment (of `workers`; from `base`, default this process's): its
    GPU (round robin) where there are GPUs and, when it shares that GPU with others, its
    memory limits (memory_env; settings already in `base` win)."""
    env = dict(os.environ if base is None else base)
    env[WORKER] = str(index)
    if devices:
        places = placement(max(workers, index + 1), devices)
        gpu = places[index]
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        sharing = places.count(gpu)
        env["SUITE_GPU_SHARED_BY"] = str(sharing)
        for key, value in memory_env(sharing).items():
            env.setdefault(key, value)
    return env


def launch(
    n: int, args: Sequence[str], devices: Sequence[str] | None = None, quiet: bool = False
) -> int:
    """Run `suite worker ARGS` in `n` processes here and wait for them; the worst exit code.
    `devices`: the GPUs to place them on (default: gpus()).

    Ctrl-C reaches every worker (one process group); each fails its running trial and stops.
    """
    devices = gpus() if devices is None else devices
    cmd = [sys.executable, "-m", "suite.cli", "worker", *args, *(["--quiet"] if quiet else [])]
    filtered = quiet and not startup.verbose()
    pipe = subprocess.PIPE if filtered else None
    procs = [
        subprocess.Popen(cmd, env=worker_env(i, devices, n), stderr=pipe, text=filtered)
        for i in range(n)
    ]
    passing = [_pass_on(p.stderr) for p in procs if p.stderr is not None]
    try:
        codes = [p.wait() for p in procs]
        for t in passing:
            t.join()
    except KeyboardInterrupt:
        for p in procs:  # a terminal's Ctrl-C reached them too; a signal to us alone did not
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        raise
    return max(codes, key=abs)


def _pass_on(stream: Any) -> threading.Thread:
    """A thread that copies a quiet worker's stderr to ours, without TensorFlow's C++ log
    lines (which its absl logging prints whatever the worker's settings say)."""

    def copy() -> None:
        for line in stream:
            if not startup.is_runtime_log(line):
                sys.stderr.write(line)
                sys.stderr.flush()

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


class Recycle(Exception):
    """This process has run its share of trials: a fresh process carries on its work."""


def rss_mb() -> float:
    """This process's resident memory in MB (0 where /proc does not tell it)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


class Recycler:
    """Decides, before each trial or seed run, whether this process should give way to a
    fresh one: after `every` trainings, or once its resident memory grew `mb` MB over its
    level after its first training (TensorFlow keeps some memory per trial even after
    `clear_session()`). A process always runs at least one training."""

    def __init__(self, every: int | None = None, mb: float | None = None) -> None:
        self.every = settings.recycle_every() if every is None else every
        self.mb = settings.recycle_mb() if mb is None else mb
        self.trained = 0
        self.base: float | None = None

    def __call__(self) -> None:
        """Raise Recycle when due; else count the training about to start."""
        if self.trained == 1 and self.base is None:
            self.base = rss_mb()
        if self.trained and self.every and self.trained >= self.every:
            raise Recycle(f"{self.trained} trials run")
        if self.trained and self.mb and self.base:
            grown = rss_mb() - self.base
            if grown > self.mb:
                raise Recycle(f"memory grew {grown:.0f} MB in {self.trained} trials")
        self.trained += 1


def clock(name: str) -> float:
    """When this worker started on candidate `name` (time.monotonic()): a replaced process
    keeps the clock of the one it replaces, so a timeout is not restarted by recycling."""
    import json
    import time

    clocks = json.loads(os.environ.get(CLOCKS, "{}"))
    clocks.setdefault(name, time.time())
    os.environ[CLOCKS] = json.dumps(clocks)
    return time.monotonic() - max(0.0, time.time() - clocks[name])


def replace_process(reason: str) -> None:
    """Replace this process by a fresh run of the same command (same pid; the stores hold
    everything done so far, so the new process resumes where this one stopped)."""
    n = int(os.environ.get(RECYCLED, "0")) + 1
    os.environ[RECYCLED] = str(n)
    print(f"recycling the worker process ({reason}); restart {n}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


class LineReporter(Reporter):
    """One line per event on stderr, prefixed by the worker (for several at once)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.prefix = f"[worker {os.environ.get(WORKER, os.getpid())}]"
        self.name = ""
        self.number = -1

    def _say(self, text: str) -> None:
        print(f"{self.prefix} {text}", file=sys.stderr, flush=True)

    def candidate(self, name: str, trials_done: int, trials: int) -> None:
        self.name = name
        self._say(f"{name}: {trials_done}/{trials} trials done")

    def trial(self, number: int, epochs: int) -> None:
        self.number = number

    def trial_end(self, state: str, value: float | None) -> None:
        shown = f" {self.metric}={value:.4f}" if value is not None else ""
        self._say(f"{self.name}: trial {self.number} {state.lower()}{shown}")

    def seeds(self, name: str, done: int, total: int) -> None:
        self.name = name
        self._say(f"{name}: {done}/{total} seed runs done")

    def seed(self, seed: int, epochs: int) -> None:
        self.number = seed

    def seed_end(self, state: str, value: float | None) -> None:
        shown = f" test score {value:.4f}" if value is not None else ""
        self._say(f"{self.name}: seed {self.number} {state.lower()}{shown}")

    def message(self, text: str) -> None:
        self._say(text)
