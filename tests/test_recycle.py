"""Recycled worker processes: a `suite run` replaced by a fresh process after every trial
finishes its budget exactly, each trial run (and tracked) once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
name: recycle
data: {name: digits, max_examples: 200}
candidates:
  mlp:
    model:
      family: mlp
      layers:
        - flatten
        - dense: {units: 8, activation: relu}
      space:
        layers[1].dense.units: {int: [4, 16]}
train: {epochs: 1, batch_size: 32}
search: {trials: 3, sampler: {random: {}}, pruner: none}
seeds: 0
"""


def test_a_worker_recycled_after_every_trial_finishes_the_budget_exactly(tmp_path: Path) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    results = tmp_path / "results"
    spec = tmp_path / "recycle.yaml"
    spec.write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(results)}
    for var in ("MLFLOW_TRACKING_URI", "SUITE_OPTUNA_STORAGE", "SUITE_RECYCLE_MB"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "suite.cli", "run", str(spec), "--quiet", "--recycle-every", "1"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # after trials 1 and 2; the third fills the budget, so no process is started for nothing
    assert proc.stderr.count("recycling the worker process (1 trials run)") == 2, proc.stderr
    assert "mlp" in proc.stdout  # the leaderboard, printed once by the last process

    storage = f"sqlite:///{results.resolve() / 'optuna.db'}"
    study = optuna.load_study(study_name="recycle/mlp", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE"] * 3
    client = MlflowClient(f"sqlite:///{results.resolve() / 'mlflow.db'}")
    exp = client.get_experiment_by_name("recycle")
    runs = client.search_runs([exp.experiment_id])
    trials = [r for r in runs if r.data.tags.get("suite.kind") == "trial"]
    assert sorted(int(r.data.tags["suite.trial"]) for r in trials) == [0, 1, 2]
    assert {r.info.status for r in runs} == {"FINISHED"}  # the parent run too
    # the best trial's model, logged by the process that trained it (as it recycled, or last)
    best = client.get_run(study.best_trial.user_attrs["mlflow_run_id"])
    assert "suite.model_id" in best.data.tags
    assert sum(r.data.tags.get("suite.kind") == "candidate" for r in runs) == 1
