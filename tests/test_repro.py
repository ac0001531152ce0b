"""Reproducibility on tiny real runs: the environment on every run, `reproduce` giving
identical metrics on CPU, a changed dataset refused, the export read back with pandas,
study versions for a changed spec and `--rerun-failed` retrying exactly the failures."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SPEC = """
name: repro
data: {{name: npz, path: {data}, modality: image, max_examples: 200}}
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv2d: {{filters: 4}}
        - max_pool2d
        - flatten
      space:
        layers[0].conv2d.filters: {{int: [2, 8]}}
train: {{epochs: 1, batch_size: 32, optimizer: {{adam: {{learning_rate: 1.0e-2}}}}}}
search:
  trials: 2
  sampler: {{random: {{}}}}
  pruner: none
  space:
    train.optimizer.adam.learning_rate: {{float: [1.0e-3, 3.0e-2], log: true}}
seeds: 2
"""

FAILING = """
name: flaky
data: {name: digits, max_examples: 200}
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv2d: {filters: 4}
        - max_pool2d
        - flatten
      space:
        layers[1].max_pool2d.pool_size: {int: [2, 16]}
train: {epochs: 1, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
search: {trials: 2, sampler: random, pruner: none}
seeds: 0
"""
POOL = "model.layers[1].max_pool2d.pool_size"


def _write_data(path: Path, shift: float = 0.0) -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images[..., None] / 16.0 + shift).astype("float32")
    np.savez(path, x=x, y=d.target.astype("int64"))


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def _runs(client: Any, benchmark: str, kind: str) -> list[Any]:
    exp = client.get_experiment_by_name(benchmark)
    query = f"tags.`suite.kind` = '{kind}'"
    return client.search_runs([exp.experiment_id], filter_string=query)


def _client() -> Any:
    from mlflow.tracking import MlflowClient

    from suite.stores import default_tracking_uri

    return MlflowClient(default_tracking_uri())


@pytest.mark.skipif(subprocess.run(["git", "--version"]).returncode, reason="needs git")
def test_environment_reproduce_export_and_changed_data(results: Path, tmp_path: Path) -> None:
    import keras
    import numpy
    import optuna
    import pandas as pd
    from click.testing import CliRunner

    from suite import env
    from suite.cli import main
    from suite.compare import leaderboard
    from suite.export import table, write
    from suite.reproduce import reproduce
    from suite.runner import RunError, run
    from suite.spec.load import load

    repo = tmp_path / "bench"
    repo.mkdir()
    data = tmp_path / "digits.npz"
    _write_data(data)
    spec = repo / "repro.yaml"
    spec.write_text(SPEC.format(data=data))
    (repo / "notes.txt").write_text("a\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "spec")
    head = _git(repo, "rev-parse", "HEAD").strip()

    run(load(spec), source=spec)
    client = _client()
    runs = [*_runs(client, "repro", "trial"), *_runs(client, "repro", "seed")]
    assert len(runs) == 4
    for r in [*runs, *_runs(client, "repro", "candidate")]:
        tags = r.data.tags
        assert tags["suite.keras"] == keras.__version__
        assert tags["suite.backend"] == keras.backend.backend()
        assert tags["suite.numpy"] == numpy.__version__
        assert tags["suite.optuna"] == optuna.__version__
        assert int(tags["suite.cpu_count"]) >= 1 and tags["suite.cpu"]
        assert tags["suite.git_commit"] == head
        assert tags["suite.git_dirty"] == "false"
        assert len(tags["suite.data_fingerprint"]) == len(tags["suite.spec_hash"]) == 16
    assert {r.data.tags["suite.seed"] for r in runs} == {"0", "1"}
    (repo / "notes.txt").write_text("b\n")  # an uncommitted change
    assert env.git_state(spec)["suite.git_dirty"] == "true"
    assert env.git_state(tmp_path / "elsewhere.yaml") == {}
    _git(repo, "commit", "-qam", "notes")  # the repository moved on since the run

    # the seed run with the trial's seed took the best trial's training over instead of
    # repeating it; trained again from scratch it is identical, test scores included
    best = client.get_run(runs[0].data.tags["mlflow.parentRunId"]).data.tags["suite.best_run"]
    seeds = {r.data.tags["suite.seed"]: r for r in runs if r.data.tags["suite.kind"] == "seed"}
    assert seeds["0"].data.tags["suite.trained_as"] == best
    assert "suite.trained_as" not in seeds["1"].data.tags
    history = [m.value for m in client.get_metric_history(best, "val_accuracy")]
    assert history == [
        m.value for m in client.get_metric_history(seeds["0"].info.run_id, "val_accuracy")
    ]
    # the same seed on the same machine: identical metrics (trial and seed run)
    trial = next(r for r in runs if r.data.tags["suite.kind"] == "trial")
    seed = seeds["0"]
    for original in (trial, seed):
        again = reproduce(original.info.run_id)
        assert again.verdict == "identical", again.rows
        assert any(head in w for w in again.warnings)  # the spec's commit then
        assert any(m == "objective" for m, _, _ in again.rows)
        assert any(m.startswith("test_") for m, _, _ in again.rows) == (original is seed)
        new = client.get_run(again.run_id)
        assert new.data.tags["suite.reproduces"] == original.info.run_id
        assert new.data.tags["mlflow.parentRunId"] == original.data.tags["mlflow.parentRunId"]
        assert new.info.experiment_id == original.info.experiment_id
    assert leaderboard("repro").iloc[0]["seeds"] == 2  # reproductions are not seed runs

    frame = table("repro")
    assert len(frame) == 4 and set(frame["kind"]) == {"trial", "seed"}
    write(frame, "parquet", tmp_path / "out.parquet")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert pd.api.types.is_integer_dtype(back["hp.model.layers[0].conv2d.filters"])
    assert pd.api.types.is_float_dtype(back["hp.train.optimizer.adam.learning_rate"])
    assert pd.api.types.is_float_dtype(back["objective"])
    assert (back["env.keras"] == keras.__version__).all()
    assert back["test_accuracy"].notna().sum() == 2
    curves = CliRunner().invoke(
        main, ["export", "repro", "--curves", "--format", "csv", "-o", str(tmp_path / "c.csv")]
    )
    assert curves.exit_code == 0, curves.output
    per_epoch = pd.read_csv(tmp_path / "c.csv")
    assert len(per_epoch) == 4 and (per_epoch["epoch"] == 1).all()  # counted from 1
    assert pd.api.types.is_float_dtype(per_epoch["val_loss"])

    # the data changed under the run: refused, from the API and the CLI (exit 2)
    _write_data(data, shift=0.5)
    with pytest.raises(RunError, match="fingerprint"):
        reproduce(trial.info.run_id)
    refused = CliRunner().invoke(main, ["reproduce", trial.info.run_id])
    assert refused.exit_code == 2 and "fingerprint" in refused.output


def test_rerun_failed_and_new_study_version(results: Path, tmp_path: Path) -> None:
    import optuna
    from optuna.trial import TrialState

    from suite.compare import leaderboard
    from suite.progress import Reporter
    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_storage

    class Messages(Reporter):
        """Keeps the lines the console would show."""

        def __init__(self) -> None:
            self.lines: list[str] = []

        def message(self, text: str) -> None:
            self.lines.append(text)

    path = tmp_path / "flaky.yaml"
    path.write_text(FAILING)
    bench = load(path)
    study = optuna.create_study(
        study_name="flaky/cnn", storage=default_storage(), direction="maximize"
    )
    study.enqueue_trial({POOL: 16})  # larger than the 8x8 input: this trial fails
    study.enqueue_trial({POOL: 2})
    study.enqueue_trial({POOL: 4})
    run(bench)

    def states() -> list[tuple[int, Any]]:
        s = optuna.load_study(study_name="flaky/cnn", storage=default_storage())
        return [(t.params[POOL], t.state) for t in s.trials]

    assert states() == [(16, TrialState.FAIL), (2, TrialState.COMPLETE), (4, TrialState.COMPLETE)]
    assert run(bench)[0].outcomes == ()  # a rerun: nothing left to do, the failure not counted
    retried = run(bench, rerun_failed=True)[0].outcomes
    assert [(o.number, o.params[POOL], o.state) for o in retried] == [(3, 16, "FAIL")]
    again = optuna.load_study(study_name="flaky/cnn", storage=default_storage()).trials[3]
    assert again.user_attrs["suite.rerun_of"] == 0
    assert len(_runs(_client(), "flaky", "trial")) == 4

    # a changed spec under the same name: a new study version, said on the console
    changed = load(path, [f"candidates.cnn.model.space.{POOL[6:]}={{int: [2, 4]}}"])
    reporter = Messages()
    summary = run(changed, reporter=reporter)
    assert [o.state for o in summary[0].outcomes] == ["COMPLETE", "COMPLETE"]
    assert any("study version 2" in line for line in reporter.lines)
    names = optuna.get_all_study_names(default_storage())
    assert "flaky/cnn@v2" in names and "flaky/cnn" in names
    assert len(states()) == 4  # the old study is untouched
    v2 = [
        r for r in _runs(_client(), "flaky", "trial") if r.data.tags["suite.study_version"] == "2"
    ]
    assert len(v2) == 2
    parents = _runs(_client(), "flaky", "candidate")
    assert sorted(p.data.tags["suite.study_version"] for p in parents) == ["1", "2"]
    row = leaderboard("flaky").iloc[0]
    assert (row["trials_complete"], row["trials_failed"]) == (2, 0)  # version 2 only
    assert run(changed)[0].outcomes == ()  # and the changed spec resumes its own version
    assert run(bench)[0].outcomes == ()  # back to the first spec: version 1 resumes
    row = leaderboard("flaky").iloc[0]
    assert (row["trials_complete"], row["trials_failed"]) == (2, 2)  # and is the one shown


def test_spec_hash_counts_given_values_only(tmp_path: Path) -> None:
    from suite.spec.load import given, load, spec_hash

    path = tmp_path / "flaky.yaml"
    path.write_text(FAILING)
    bench = load(path)
    base = spec_hash(bench)
    # a value spelt out at its default, or a new option left at its default: the same hash
    assert spec_hash(load(path, ["train.label_smoothing=0.0", "search.prune_on=null"])) == base
    assert "label_smoothing" not in given(bench)["train"]
    assert given(bench)["candidates"]["cnn"]["model"]["layers"][2] == {"flatten": {}}
    # a component with all its defaults still counts by name
    assert spec_hash(load(path, ["candidates.cnn.model.layers[2]=global_avg_pool"])) != base
    assert spec_hash(load(path, ["train.epochs=2"])) != base
    assert spec_hash(load(path, ["search.trials=9"])) == base


def test_verdict_falls_back_to_the_seed_spread() -> None:
    from suite.reproduce import verdict

    same = [("objective", 0.5, 0.5), ("epochs", 1.0, 1.0)]
    assert verdict(same, "objective", None) == "identical"
    moved = [("objective", 0.5, 0.52), ("epochs", 1.0, 1.0)]
    assert verdict(moved, "objective", (0.45, 0.55)) == "within the seed spread"
    assert verdict(moved, "objective", (0.45, 0.51)) == "outside the seed spread"
    assert verdict(moved, "objective", None).startswith("differs")
