"""Seeds trained together (suite.seeds_together): on JAX, seed k of a batch of N equals the
same loop run for seed k alone; a benchmark's batched seed runs are ordinary seed runs whose
test scores fall within the spread of seeds trained one at a time; elsewhere nothing changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# Tiny constructed data (MNIST-1D, generated), a CNN with dropout and a GRU; early stopping
# with patience 0 stops each seed at its own first epoch without improvement (a per-seed mask).
SPEC = """
name: {name}
task: classification
data: {{name: mnist1d, num_samples: 240, val_fraction: 0.2}}
candidates:
  cnn:
    model:
      layers:
        - conv1d: {{filters: 8, kernel_size: 5}}
        - dropout: {{rate: 0.3}}
        - global_avg_pool
  gru:
    model:
      layers:
        - gru: {{units: 8}}
train:
  epochs: {epochs}
  batch_size: 32
  optimizer: {{adam: {{learning_rate: 1.0e-2}}}}
  clipnorm: 1.0
  early_stopping: {{monitor: val_accuracy, patience: {patience}}}{extra}
search: {{trials: 1, metric: val_accuracy}}
seeds: 3
"""

# In a JAX process: each candidate's seeds 0, 1, 2 trained together, and seed 1 alone.
EQUAL = """
import json, sys
import numpy as np
from suite import seeds_together, trial
from suite.spec.candidates import candidates
from suite.spec.load import load
from suite.tasks import TASKS

bench = load(sys.argv[1])
data = trial.load_data(bench)
task = TASKS.get(bench.task).bind(data)
out = {}
for cand in candidates(bench):
    prep = trial.inputs(task, data, cand)
    conc = cand.concrete(cand.defaults())
    kw = dict(monitor="val_accuracy", direction="maximize")
    many = seeds_together.train_together(task, data, prep, cand.name, conc, [0, 1, 2], **kw)
    one = seeds_together.train_together(task, data, prep, cand.name, conc, [1], **kw)
    a, b = many.results[1], one.results[0]
    pairs = zip(a.model.get_weights(), b.model.get_weights())
    out[cand.name] = {
        "reason": seeds_together.unsupported(conc.train, task, prep.data, 3),
        "many": a.fit.history,
        "one": b.fit.history,
        "seed0": many.results[0].fit.history,
        "best": [a.fit.best_epoch, b.fit.best_epoch],
        "stops": [r.fit.stop for r in many.results],
        "weights": max(float(np.abs(x - y).max()) for x, y in pairs),
        "test": [trial.test_metrics(task, data, r, 32)["test_accuracy"] for r in (a, b)],
        "time": [r.fit.train_time_s for r in many.results] + [many.seconds],
    }
print("RESULT" + json.dumps(out))
"""


def _jax_env(tmp_path: Path) -> dict[str, str]:
    pytest.importorskip("jax")
    mine = ("MLFLOW_TRACKING_URI", "SUITE_OPTUNA_STORAGE", "SUITE_VERBOSE")  # this test's stores
    return {
        **{k: v for k, v in os.environ.items() if k not in mine},
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": str(REPO),
        "SUITE_RESULTS_DIR": str(tmp_path / "results"),
        "SUITE_CACHE_DIR": str(tmp_path / "cache"),
    }


def _spec(tmp_path: Path, name: str, epochs: int = 4, patience: int = 0, extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SPEC.format(name=name, epochs=epochs, patience=patience, extra=extra))
    return path


@pytest.mark.slow
def test_a_seed_trained_in_a_batch_equals_the_same_seed_trained_alone(tmp_path: Path) -> None:
    env = _jax_env(tmp_path)
    spec = _spec(tmp_path, "equal")
    cmd = [sys.executable, "-c", EQUAL, str(spec)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT", 1)[1])
    assert set(out) == {"cnn", "gru"}
    for name, r in out.items():
        assert r["reason"] is None, name
        assert r["many"].keys() == r["one"].keys() >= {"loss", "accuracy", "val_loss"}
        for key, values in r["many"].items():  # the same epochs, early stop included
            np.testing.assert_allclose(values, r["one"][key], rtol=1e-4, atol=1e-5)
        assert r["weights"] < 1e-4, name
        assert r["best"][0] == r["best"][1]
        assert abs(r["test"][0] - r["test"][1]) < 1e-6
        assert r["seed0"]["loss"] != r["many"]["loss"]  # its own initialisation and order
        assert set(r["stops"]) <= {"completed", "early_stopped"}
        # each epoch's time is shared by the seeds that trained in it
        assert sum(r["time"][:3]) <= r["time"][3] + 1e-6


def _seed_runs(name: str) -> list[object]:
    from mlflow.tracking import MlflowClient

    from suite.stores import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id])
    return [r for r in runs if r.data.tags.get("suite.kind") == "seed"]


@pytest.mark.slow
def test_a_benchmark_on_jax_trains_its_seeds_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _jax_env(tmp_path)
    monkeypatch.setenv("SUITE_RESULTS_DIR", env["SUITE_RESULTS_DIR"])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # "alone": a schedule outside the subset that never changes the rate (every 100 epochs)
    never = "\n  schedule: {step: {every: 100, factor: 0.5}}"
    for name, extra in (("together", ""), ("alone", never)):
        spec = _spec(tmp_path, name, epochs=6, patience=6, extra=extra)
        cmd = [sys.executable, "-m", "suite.cli", "run", str(spec), "--only", "cnn", "--quiet"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    from mlflow.tracking import MlflowClient

    from suite.compare import leaderboard
    from suite.stores import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    together, alone = _seed_runs("together"), _seed_runs("alone")
    assert len(together) == len(alone) == 3
    for run in together:
        tags, metrics = run.data.tags, run.data.metrics
        assert tags["suite.state"] == "COMPLETE" and tags["suite.backend"] == "jax"
        assert tags["suite.seeds_together"] == "3" and "suite.seeds_together.time" in tags
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [m.step for m in history] == list(range(int(metrics["epochs"])))
        assert {"test_accuracy", "latency_p50_ms", "params", "best_val_accuracy"} <= set(metrics)
        assert metrics["train_time_s"] <= metrics["batch_train_time_s"]
    for run in alone:
        assert run.data.tags["suite.seeds_together"] == "1"
        reason = run.data.tags["suite.seeds_together_fallback"]
        assert reason.startswith("train.schedule not supported together")
    assert {r.data.tags["suite.seed"] for r in together} == {
        r.data.tags["suite.seed"] for r in alone
    }
    # batched seeds land within the spread of seeds trained one at a time (widened by it)
    ours = [r.data.metrics["test_accuracy"] for r in together]
    theirs = [r.data.metrics["test_accuracy"] for r in alone]
    spread = max(theirs) - min(theirs) + 0.05
    assert min(theirs) - spread <= np.mean(ours) <= max(theirs) + spread, (ours, theirs)
    board = leaderboard("together")
    assert len(board) == 1 and board.iloc[0]["seeds"] == 3


def test_recipes_outside_the_subset_and_other_backends_train_one_seed_at_a_time() -> None:
    import keras

    from suite import seeds_together
    from suite.spec.schema import Train
    from suite.tasks import TASKS

    task, data = TASKS.get("classification"), None  # the data is read only on JAX
    base = Train()
    assert base.seeds_together == "auto"
    off = base.model_copy(update={"seeds_together": False})
    assert seeds_together.unsupported(off, task, data, 3) == "train.seeds_together is false"  # type: ignore[arg-type]
    assert seeds_together.unsupported(base, task, data, 1) == "a single seed to train"  # type: ignore[arg-type]
    fine = Train.model_validate({"schedule": {"cosine": {}}, "class_weight": "balanced"})
    reason = seeds_together.unsupported(fine, task, data, 3)  # type: ignore[arg-type]
    assert reason is not None and "train.schedule, train.class_weight" in reason
    assert seeds_together.SUPPORTED in reason
    if keras.backend.backend() != "jax":
        backend = keras.backend.backend()
        expected = f"the {backend} backend (seeds are trained together on JAX only)"
        assert seeds_together.unsupported(base, task, data, 3) == expected  # type: ignore[arg-type]


def test_the_default_backend_leaves_seed_runs_as_they_were(tiny) -> None:  # type: ignore[no-untyped-def]
    import keras

    if keras.backend.backend() == "jax":
        pytest.skip("the default (TensorFlow) backend's behaviour")
    runs = _seed_runs(tiny.name)
    assert len(runs) == 6
    assert not any("suite.seeds_together" in r.data.tags for r in runs)
