"""A benchmark begun before the package was re-laid resumes and compares after it."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent / "fixtures" / "prerelayout.tar.gz"
MADE_IN = "file:///tmp/fixmake/results"  # where the fixture was made (see fixtures/README.md)


def unpack(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    results = tmp_path / "results"
    here = results.resolve().as_uri()
    with sqlite3.connect(results / "mlflow.db") as db:
        db.execute(
            "update experiments set artifact_location = replace(artifact_location, ?, ?)",
            (MADE_IN, here),
        )
        db.execute("update runs set artifact_uri = replace(artifact_uri, ?, ?)", (MADE_IN, here))
    return tmp_path / "prerelayout.yaml"


def test_a_pre_relayout_benchmark_resumes_and_compares(tmp_path: Path, results: Path) -> None:
    import optuna

    from suite.compare import leaderboard
    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_storage

    spec = unpack(tmp_path)
    assert results == tmp_path / "results"
    before = leaderboard("prerelayout")
    assert set(before["candidate"]) == {"mlp", "gru"}
    old = {
        name: [
            t.params
            for t in optuna.load_study(
                study_name=f"prerelayout/{name}", storage=default_storage()
            ).trials
        ]
        for name in ("mlp", "gru")
    }

    summaries = run(load(spec), trials=3, only=["mlp"])  # one more trial, same study

    assert [s.name for s in summaries] == ["mlp"]
    study = optuna.load_study(study_name="prerelayout/mlp", storage=default_storage())
    assert [t.params for t in study.trials[:2]] == old["mlp"]  # the same study, resumed
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 3
    names = optuna.get_all_study_names(default_storage())
    assert not [n for n in names if "@v" in n]  # no new study version: the spec hash held
    after = leaderboard("prerelayout")
    assert set(after["candidate"]) == {"mlp", "gru"}
    gru = before.set_index("candidate").loc["gru", "test_mean"]
    assert after.set_index("candidate").loc["gru", "test_mean"] == pytest.approx(gru)

    # Results land on every parent run, the old candidate's too; the new trial's searched
    # values have stable names beside the old trials' flattened spec, and all read back.
    from mlflow.tracking import MlflowClient

    from suite.export import table
    from suite.report import build
    from suite.stores import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("prerelayout")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = {
        r.data.tags["suite.candidate"]: r for r in runs if r.data.tags["suite.kind"] == "candidate"
    }
    assert parents["gru"].data.metrics["test_accuracy_mean"] == pytest.approx(gru)
    verdict = after.set_index("candidate").loc["gru", "verdict"]
    assert parents["gru"].data.tags.get("suite.verdict") == (
        verdict if isinstance(verdict, str) and verdict else None
    )
    trials = {
        r.data.tags["suite.trial"]: r
        for r in runs
        if r.data.tags["suite.kind"] == "trial" and r.data.tags["suite.candidate"] == "mlp"
    }
    assert {"hp.learning_rate", "hp.dense.units"} <= set(trials["2"].data.params)
    assert not [k for k in trials["0"].data.params if k.startswith("hp.")]  # logged before
    assert [d.dataset.name for d in trials["2"].inputs.dataset_inputs] == [
        "digits/train",
        "digits/val",
    ]
    exported = table("prerelayout")
    assert len(exported[exported["kind"] == "trial"]) == len(
        [r for r in runs if r.data.tags["suite.kind"] == "trial"]
    )
    report = build(["prerelayout"], output=tmp_path / "report.html", log=False)
    html = report.path.read_text(encoding="utf-8")
    assert report.sections and "gru" in html and "mlp" in html


def test_compare_to_runs_puts_results_on_a_pre_change_benchmarks_parents(
    tmp_path: Path, results: Path
) -> None:
    from click.testing import CliRunner
    from mlflow.tracking import MlflowClient

    from suite.cli import main
    from suite.compare import leaderboard
    from suite.stores import default_tracking_uri

    unpack(tmp_path)
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("prerelayout")

    def parents() -> dict[str, Any]:
        runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'candidate'")
        return {r.data.tags["suite.candidate"]: r for r in runs}

    assert not [p for p in parents().values() if "test_accuracy_mean" in p.data.metrics]
    out = CliRunner().invoke(main, ["compare", "prerelayout", "--to-runs", "--format", "csv"])
    assert out.exit_code == 0, out.output
    board = leaderboard("prerelayout").set_index("candidate")
    for name, parent in parents().items():
        assert parent.data.metrics["test_accuracy_mean"] == pytest.approx(
            board.loc[name, "test_mean"]
        )
        assert parent.data.metrics["best_val_accuracy"] == pytest.approx(
            board.loc[name, "best_val"]
        )
