"""Per-epoch metrics go to MLflow asynchronously, off the training loop; nothing is lost at
the end of a trial or when the run is stopped with SIGTERM (as with Ctrl-C)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
name: sigterm
data: {name: digits, max_examples: 200}
candidates:
  mlp: {model: {family: mlp, layers: [flatten, {dense: {units: 8}}]}}
train: {epochs: 400, batch_size: 32}
search: {trials: 1, pruner: none}
seeds: 0
"""


def _epochs_logged(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            row = con.execute("select count(*) from metrics where key = 'val_accuracy'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def test_sigterm_ends_the_trial_killed_with_every_epoch_it_trained(tmp_path: Path) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    results = tmp_path / "results"
    spec = tmp_path / "sigterm.yaml"
    spec.write_text(SPEC)
    env = {**os.environ, "SUITE_RESULTS_DIR": str(results), "PYTHONPATH": str(ROOT)}
    for var in ("MLFLOW_TRACKING_URI", "SUITE_OPTUNA_STORAGE"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "suite.cli", "run", str(spec), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _epochs_logged(results / "mlflow.db") < 5 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert "Traceback" not in err.decode()

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    exp = client.get_experiment_by_name("sigterm")
    (trial,) = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert trial.info.status == "KILLED"
    steps = sorted(m.step for m in client.get_metric_history(trial.info.run_id, "val_accuracy"))
    study = optuna.load_study(
        study_name="sigterm/mlp", storage=f"sqlite:///{results / 'optuna.db'}"
    )
    trained = int(study.trials[0].user_attrs.get("epochs", 0))
    assert 5 <= trained < 400
    # every epoch the trial trained is in MLflow (the last one may be logged, not yet counted)
    assert steps == list(range(len(steps))) and len(steps) in (trained, trained + 1)
