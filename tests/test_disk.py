"""A disk that fills: the stores are created whole or not at all, a half-made one is made
anew, and a run that meets a full disk stops with one message and resumes once there is
space again.

The disk is a small tmpfs the test mounts (it needs root; without, the tests skip and say
so); the runs are tiny real benchmarks in subprocesses.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
name: full
data: {name: digits, max_examples: 200}
candidates:
  mlp:
    model:
      layers:
        - flatten
        - dense: {units: 8, activation: relu}
train: {epochs: 40, batch_size: 16, optimizer: {adam: {learning_rate: 1.0e-3}}}
search:
  trials: 3
  sampler: {random: {seed: 0}}
  pruner: none
  space:
    train.optimizer.adam.learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
seeds: 0
"""


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mounts (or remounts) a tmpfs of the given size; returns its folder. Unmounted after."""
    point = tmp_path / "disk"
    point.mkdir()
    mounted: list[bool] = []
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root")

    def mount(size: str) -> Path:
        opts = f"remount,size={size}" if mounted else f"size={size}"
        cmd = ["mount", "-o", opts, str(point)] if mounted else ["mount", "-t", "tmpfs"]
        if not mounted:
            cmd += ["-o", opts, "tmpfs", str(point)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
        mounted.append(True)
        return point

    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _suite(
    results: Path, *args: str, background: bool = False
) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
    env.pop("SUITE_OPTUNA_STORAGE", None)
    env |= {"PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(results)}
    cmd = [sys.executable, "-m", "suite.cli", *args]
    if background:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _fill(folder: Path) -> None:
    """Write zeros until the disk is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    finally:
        os.close(fd)


def _assert_one_disk_message(
    proc: subprocess.CompletedProcess[str] | subprocess.Popen[str], err: str
) -> None:
    from suite import exits

    assert proc.returncode == exits.INCOMPLETE, err[-3000:]
    assert "Traceback" not in err and "During handling" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if "disk is full" in line]
    assert len(lines) == 1, err[-3000:]
    assert "MB free of" in lines[0] and "Finished trials are safe" in lines[0]


@pytest.mark.slow
def test_a_full_disk_at_first_creation_leaves_no_store_and_a_rerun_with_space_works(
    disk: Callable[[str], Path],
) -> None:
    results = disk("160k") / "results"
    full = _suite(results, "list", "benchmarks")
    _assert_one_disk_message(full, full.stderr)
    assert not (results / "mlflow.db").exists()  # nothing half-made
    assert not [p for p in results.iterdir() if p.name.endswith(".part")]
    disk("40m")
    again = _suite(results, "list", "benchmarks")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (results / "mlflow.db").is_file() and "half-made" not in again.stderr


@pytest.mark.slow
def test_a_half_made_tracking_store_without_runs_is_set_aside_and_made_anew(
    disk: Callable[[str], Path],
) -> None:
    results = disk("300k") / "results"
    results.mkdir()
    uri = f"sqlite:///{results / 'mlflow.db'}"
    # MLflow left alone on a full disk: its tables half-made
    code = f"from mlflow.tracking import MlflowClient; MlflowClient({uri!r})"
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert made.returncode != 0 and (results / "mlflow.db").is_file(), made.stderr[-2000:]
    disk("40m")
    again = _suite(results, "list", "benchmarks")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "half-made and held no runs" in again.stderr
    assert len(list(results.glob("mlflow.db.half-made-*"))) == 1
    assert _suite(results, "list", "benchmarks").stderr.count("half-made") == 0  # whole now


def _completed(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_gives_one_message_and_a_rerun_finishes_the_budget(
    disk: Callable[[str], Path], tmp_path: Path
) -> None:
    import optuna
    from optuna.trial import TrialState

    folder = disk("64m")
    results = folder / "results"
    spec = tmp_path / "full.yaml"
    spec.write_text(SPEC)
    proc = _suite(results, "run", str(spec), "--quiet", background=True)
    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 300
    while _completed(results / "optuna.db") < 1 and proc.poll() is None:
        assert time.monotonic() < deadline, "the first trial did not finish"
        time.sleep(0.1)
    _fill(folder)  # the next trial (40 epochs, each logged) meets a full disk
    _, err = proc.communicate(timeout=300)
    _assert_one_disk_message(proc, err)

    (folder / "filler").unlink()
    again = _suite(results, "run", str(spec), "--quiet")
    assert again.returncode == 0, again.stderr[-3000:]
    study = optuna.load_study(study_name="full/mlp", storage=f"sqlite:///{results / 'optuna.db'}")
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 3  # the budget exactly
    assert TrialState.RUNNING not in states
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    exp = client.get_experiment_by_name("full")
    runs = client.search_runs([exp.experiment_id])
    assert all(r.info.status != "RUNNING" for r in runs)
