"""Shared fixtures: every test writes results into its own temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "true")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _environment_kept() -> Iterator[None]:
    """Each test leaves os.environ as it found it (MLflow's set_tracking_uri, `--verbose`
    and other settings made in-process must not reach later tests' subprocesses)."""
    before = dict(os.environ)
    yield
    if os.environ != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh results directory (tracking store, studies, caches) for one test."""
    out = tmp_path / "results"
    monkeypatch.setenv("SUITE_RESULTS_DIR", str(out))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SUITE_OPTUNA_STORAGE", raising=False)
    return out


TINY_SPEC = """
name: tiny-shared
data: {name: digits, max_examples: 240}
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv2d: {filters: 4}
        - max_pool2d
        - flatten
      space:
        layers[0].conv2d.filters: {int: [2, 8]}
  mlp:
    model:
      family: mlp
      layers:
        - flatten
        - dense: {units: 8}
      space:
        layers[1].dense.units: {int: [4, 16]}
train: {epochs: 2, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
search:
  trials: 2
  sampler: {random: {seed: 0}}
  pruner: none
  space:
    train.optimizer.adam.learning_rate: {float: [3.0e-3, 3.0e-2], log: true}
seeds: 3
"""


@dataclass(frozen=True)
class TinyStore:
    """A finished tiny benchmark: its folder, results directory, spec file and name."""

    root: Path
    results: Path
    spec: Path
    name: str = "tiny-shared"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.results.resolve() / 'mlflow.db'}"

    @property
    def storage(self) -> str:
        return f"sqlite:///{self.results.resolve() / 'optuna.db'}"


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyStore]:
    """One tiny benchmark (digits; cnn and mlp; 2 trials, 3 seeds, 2 epochs), run once per
    test session and shared by the tests that only read it back (MLflow, compare, report).
    Tests that add runs make their own."""
    from suite.runner import run
    from suite.spec.load import load

    root = tmp_path_factory.mktemp("tiny-shared")
    store = TinyStore(root, root / "results", root / "tiny-shared.yaml")
    store.spec.write_text(TINY_SPEC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUITE_RESULTS_DIR", str(store.results))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("SUITE_OPTUNA_STORAGE", raising=False)
        run(load(store.spec))
    yield store


@pytest.fixture
def tiny(tiny_store: TinyStore, monkeypatch: pytest.MonkeyPatch) -> TinyStore:
    """The shared tiny benchmark, with this test's environment pointing at its stores."""
    monkeypatch.setenv("SUITE_RESULTS_DIR", str(tiny_store.results))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SUITE_OPTUNA_STORAGE", raising=False)
    return tiny_store
