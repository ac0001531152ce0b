"""Workers explore different points: each worker's sampler is seeded with the spec's seed
mixed with its identity, while a single process stays reproducible; the budget holds and the
spec's own values run once. Two real workers on the journal file and on PostgreSQL (the
latter needs `$SUITE_TEST_POSTGRES`, see tests/test_scale.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_scale import postgres  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[1]
LR = "train.optimizer.adam.learning_rate"
SPEC = """\
name: explore
data: {{name: digits, max_examples: 200}}
candidates:
  mlp:
    model:
      layers:
        - flatten
        - dense: {{units: 8, activation: relu}}
train: {{epochs: 4, batch_size: 16, optimizer: {{adam: {{learning_rate: 1.0e-2}}}}}}
search:
  trials: 6
  sampler: {sampler}
  pruner: none
  space:
    {lr}: {{float: [1.0e-4, 1.0e-1], log: true}}
seeds: 0
"""


def _env(results: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SUITE_WORKER", "SUITE_RECYCLED")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("SUITE_OPTUNA_STORAGE", None)
    return env | {"PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(results)}


def _check(study: Any) -> None:
    """Budget exact, no configuration twice, the spec's own values run once, both workers."""
    from optuna.trial import TrialState

    from suite.search import OWNER, RELEASED

    ran = [t for t in study.trials if not t.system_attrs.get(RELEASED)]
    done = [t for t in ran if t.state == TrialState.COMPLETE]
    assert len(done) == 6 and len(ran) == 6, [(t.number, t.state) for t in ran]
    points = [json.dumps(t.params, sort_keys=True) for t in done]
    assert len(set(points)) == len(points), points  # no configuration twice
    assert [t.params[LR] for t in done].count(1.0e-2) == 1  # the spec's own values, once
    owners = {json.dumps(t.system_attrs.get(OWNER), sort_keys=True) for t in done}
    assert len(owners) == 2, owners  # both workers proposed points


@pytest.mark.slow
def test_two_workers_on_the_journal_file_propose_different_points(tmp_path: Path) -> None:
    import optuna

    from suite.stores import make_storage

    spec = tmp_path / "explore.yaml"
    spec.write_text(SPEC.format(sampler="{random: {seed: 0}}", lr=LR))
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "suite.cli", "run", str(spec), "--workers", "2", "--quiet"],
        cwd=ROOT,
        env=_env(results),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    journal = str(results.resolve() / "optuna.journal")
    _check(optuna.load_study(study_name="explore/mlp", storage=make_storage(journal)))


@pytest.mark.slow
def test_two_workers_by_hand_on_postgres_propose_different_points(
    postgres: Callable[[str], str],  # noqa: F811
    tmp_path: Path,
) -> None:
    import optuna

    from suite.stores import make_storage

    storage = postgres("optuna")
    spec = tmp_path / "explore.yaml"
    spec.write_text(SPEC.format(sampler="{tpe: {seed: 0}}", lr=LR))
    results = tmp_path / "results"
    tracking = f"sqlite:///{results.resolve() / 'mlflow.db'}"
    args = ["worker", str(spec), "--storage", storage, "--tracking-uri", tracking, "--quiet"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "suite.cli", *args],
            cwd=ROOT,
            env=_env(results),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out[-3000:]
    _check(optuna.load_study(study_name="explore/mlp", storage=make_storage(storage)))


def test_a_single_process_keeps_the_seed_and_other_workers_mix_in_their_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    from suite.search.studies import open_study, sampler_seed
    from suite.workers import sampler_identity

    for name in ("SUITE_WORKER", "SUITE_RECYCLED"):
        monkeypatch.delenv(name, raising=False)
    assert sampler_identity() is None  # one process
    monkeypatch.setenv("SUITE_WORKER", "0")
    assert sampler_identity() is None  # the first of --workers N: as one process
    monkeypatch.setenv("SUITE_WORKER", "1")
    one = sampler_identity()
    monkeypatch.setenv("SUITE_RECYCLED", "2")
    assert one and sampler_identity() not in (None, one)  # a recycled worker draws anew
    assert sampler_seed(7, None) == 7
    mixed = {sampler_seed(7, f"worker {i}") for i in range(1, 50)}
    assert len(mixed) == 49 and 7 not in mixed

    from suite.spec.load import load

    spec = tmp_path / "explore.yaml"
    spec.write_text(SPEC.format(sampler="{random: {}}", lr=LR))
    search = load(spec).search

    def draws(worker: str | None, name: str) -> list[float]:
        study = open_study(
            name,
            f"sqlite:///{tmp_path / 'o.db'}",
            sampler=search.sampler,
            pruner=search.pruner,
            seed=7,
            worker=worker,
        )
        return [study.ask().suggest_float("x", 0, 1) for _ in range(3)]

    plain = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    reference = [plain.ask().suggest_float("x", 0, 1) for _ in range(3)]
    assert draws(None, "a") == reference  # a single process: the same points as before
    assert draws("worker 1", "b") != reference
