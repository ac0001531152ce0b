"""End to end: a tiny real benchmark, then what MLflow and Optuna hold, resume and failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SPEC = """
name: tiny
data: {name: digits, max_examples: 300}
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv2d: {filters: 8}
        - max_pool2d
        - flatten
      space:
        layers[0].conv2d.filters: {int: [4, 16]}
  gru:
    model:
      family: rnn
      layers:
        - reshape: {shape: [8, 8]}
        - gru: {units: 8}
train: {epochs: 3, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
search:
  trials: 2
  sampler: {tpe: {n_startup_trials: 1}}
  pruner: {median: {n_startup_trials: 1, n_warmup_steps: 0}}
  space:
    train.optimizer.adam.learning_rate: {float: [1.0e-3, 3.0e-2], log: true}
seeds: 2
"""

LR = "train.optimizer.adam.learning_rate"


def _load(tmp_path: Path, text: str = SPEC, overrides: tuple[str, ...] = ()) -> Any:
    from suite.spec.load import load

    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return load(path, overrides)


def _client() -> Any:
    from mlflow.tracking import MlflowClient

    from suite.stores import default_tracking_uri

    return MlflowClient(default_tracking_uri())


def _runs(client: Any, kind: str) -> list[Any]:
    exp = client.get_experiment_by_name("tiny")
    return client.search_runs([exp.experiment_id], filter_string=f"tags.`suite.kind` = '{kind}'")


def _study(name: str) -> Any:
    import optuna

    from suite.stores import default_storage

    return optuna.load_study(study_name=f"tiny/{name}", storage=default_storage())


def test_run_logs_everything_and_the_leaderboard_matches(results: Path, tmp_path: Path) -> None:
    import keras
    from optuna.trial import TrialState

    from suite.compare import leaderboard, to_csv, to_json, to_markdown
    from suite.runner import run

    bench = _load(tmp_path)
    summaries = run(bench)
    assert [s.name for s in summaries] == ["cnn", "gru"]
    client = _client()

    parents = _runs(client, "candidate")
    assert sorted(r.data.tags["suite.candidate"] for r in parents) == ["cnn", "gru"]
    assert all(r.info.status == "FINISHED" for r in parents)
    trials = _runs(client, "trial")
    assert len(trials) == 4
    for r in trials:
        assert r.data.tags["mlflow.parentRunId"] in {p.info.run_id for p in parents}
        assert len(r.data.tags["suite.data_fingerprint"]) == 16
        assert r.data.tags["suite.backend"] == keras.backend.backend()
        assert r.data.params[
            "model.layers.0.conv2d.filters"
            if "cnn" in r.info.run_name
            else "model.layers.1.gru.units"
        ]
        history = client.get_metric_history(r.info.run_id, "val_accuracy")
        assert [m.step for m in history] == list(range(len(history)))
        assert len(history) == int(r.data.metrics["epochs"]) >= 1
    parent_artifacts = [a.path for a in client.list_artifacts(parents[0].info.run_id, "spec")]
    assert parent_artifacts == ["spec/benchmark.yaml"]

    # the best trial's model is logged and reloads safely
    cnn = next(p for p in parents if p.data.tags["suite.candidate"] == "cnn")
    best_run = cnn.data.tags["suite.best_run"]
    from suite.transfer import keras_file, run_model

    local = keras_file(run_model(best_run, client.tracking_uri, tmp_path / "model"))
    model = keras.saving.load_model(local, safe_mode=True)
    assert model.output_shape == (None, 10)

    # seed runs: test figures for each seed
    seeds = _runs(client, "seed")
    assert sorted((r.data.tags["suite.candidate"], r.data.tags["suite.seed"]) for r in seeds) == [
        ("cnn", "0"),
        ("cnn", "1"),
        ("gru", "0"),
        ("gru", "1"),
    ]
    assert all(0.0 <= r.data.metrics["test_accuracy"] <= 1.0 for r in seeds)

    # Optuna holds the same trials
    study = _study("cnn")
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 2
    assert study.trials[0].params[LR] == pytest.approx(1e-2)  # the spec's own values first
    assert study.trials[0].params["model.layers[0].conv2d.filters"] == 8

    # the leaderboard is MLflow's figures
    frame = leaderboard("tiny")
    row = frame.set_index("candidate").loc["cnn"]
    complete = [
        r
        for r in trials
        if r.data.tags["suite.candidate"] == "cnn" and r.data.tags["suite.state"] == "COMPLETE"
    ]
    assert row["best_val"] == pytest.approx(max(r.data.metrics["objective"] for r in complete))
    assert row["best_val"] == pytest.approx(study.best_value)
    cnn_seeds = [
        r.data.metrics["test_accuracy"] for r in seeds if r.data.tags["suite.candidate"] == "cnn"
    ]
    assert row["test_mean"] == pytest.approx(sum(cnn_seeds) / 2)
    assert row["trials_complete"] + row["trials_pruned"] == 2
    assert "| cnn |" in to_markdown(frame)
    assert to_csv(frame).splitlines()[0].startswith("candidate,family,tok_kind,")
    assert "best_val,test_mean," in to_csv(frame).splitlines()[0]
    assert '"benchmark": "tiny"' in to_json(frame)


def test_rerun_resumes_instead_of_starting_over(results: Path, tmp_path: Path) -> None:
    from suite.runner import run

    bench = _load(tmp_path)
    run(bench, only=["cnn"])
    again = run(bench, only=["cnn"])
    assert again[0].outcomes == ()  # nothing left to do
    assert len(_study("cnn").trials) == 2
    more = run(bench, only=["cnn"], trials=3)
    assert len(more[0].outcomes) == 1
    assert len(_runs(_client(), "trial")) == 3
    best = _study("cnn").best_trial.number
    # seed runs belong to the best trial: a new best gets its own seed runs
    assert len(_runs(_client(), "seed")) == (4 if best == 2 else 2)


def test_interrupted_work_is_marked_and_resumed(results: Path, tmp_path: Path) -> None:
    import optuna
    from optuna.trial import TrialState

    from suite.runner import run
    from suite.stores import default_storage
    from suite.track import Tracker

    bench = _load(tmp_path, overrides=("seeds=0",))
    run(bench, only=["cnn"], trials=1)
    # a process killed mid-trial leaves a RUNNING trial and a RUNNING MLflow run behind
    study = optuna.load_study(study_name="tiny/cnn", storage=default_storage())
    study.ask()
    tracker = Tracker("tiny")
    parent = _runs(_client(), "candidate")[0].info.run_id
    orphan = tracker.child_run(parent, "cnn/trial-1", {"suite.kind": "trial"})
    summary = run(bench, only=["cnn"], trials=2)
    assert summary[0].stale_trials == (1,)
    states = [t.state for t in _study("cnn").trials]
    assert states.count(TrialState.FAIL) == 1
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 2
    assert _client().get_run(orphan).info.status == "KILLED"


def test_an_interrupted_search_logs_its_best_model_first(results: Path, tmp_path: Path) -> None:
    """The best trial's model waits for the search to stop; Ctrl-C stops it too."""
    from suite.mlmodels import MODEL_ID
    from suite.runner import run

    starts: list[int] = []

    def ctrl_c_at_the_second_trial() -> None:  # runs before each training
        starts.append(1)
        if len(starts) == 2:
            raise KeyboardInterrupt

    bench = _load(tmp_path, overrides=("seeds=0",))
    with pytest.raises(KeyboardInterrupt):
        run(bench, only=["cnn"], trials=3, recycle=ctrl_c_at_the_second_trial)
    (trial,) = _runs(_client(), "trial")
    run_id = trial.info.run_id
    assert trial.data.tags["suite.state"] == "COMPLETE"
    model_id = trial.data.tags[MODEL_ID]
    assert model_id in [o.model_id for o in _client().get_run(run_id).outputs.model_outputs]
    assert _client().get_logged_model(model_id).source_run_id == run_id


def test_pruning_stops_a_hopeless_trial(results: Path, tmp_path: Path) -> None:
    import optuna
    from optuna.trial import TrialState

    from suite.runner import run
    from suite.stores import default_storage

    space = "search.space={train.optimizer.adam.learning_rate: {choice: [1.0e-2, 1.0e-7]}}"
    bench = _load(tmp_path, overrides=("seeds=0", space))
    study = optuna.create_study(
        study_name="tiny/cnn", storage=default_storage(), direction="maximize"
    )
    filters = "model.layers[0].conv2d.filters"
    study.enqueue_trial({LR: 1e-2, filters: 8})
    study.enqueue_trial({LR: 1e-7, filters: 8})  # cannot learn: the pruner must stop it
    run(bench, only=["cnn"], trials=2)
    trials = _study("cnn").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    pruned = next(r for r in _runs(_client(), "trial") if r.data.tags["suite.trial"] == "1")
    assert pruned.data.tags["suite.state"] == "PRUNED"
    assert pruned.info.status == "FINISHED"
    assert pruned.info.run_name == "cnn/trial-1 (pruned)"  # visible in the runs table
    assert pruned.data.metrics["epochs"] < 3  # epochs were saved


def test_failing_candidate_is_recorded_and_others_run(results: Path, tmp_path: Path) -> None:
    from suite.runner import run

    broken = SPEC.replace("- reshape: {shape: [8, 8]}", "- conv1d: {filters: 4}")
    summaries = run(_load(tmp_path, broken, ("seeds=0",)))
    by_name = {s.name: s for s in summaries}
    assert by_name["gru"].error and "trials in a row failed" in by_name["gru"].error
    assert by_name["cnn"].error is None
    failed = [r for r in _runs(_client(), "trial") if r.data.tags["suite.candidate"] == "gru"]
    assert failed and all(r.info.status == "FAILED" for r in failed)
    assert all("conv1d" in r.data.tags["suite.error"] for r in failed)


def test_changed_spec_starts_a_new_study_version(results: Path, tmp_path: Path) -> None:
    import optuna

    from suite.runner import run
    from suite.stores import default_storage

    run(_load(tmp_path, overrides=("seeds=0",)), only=["cnn"], trials=1)
    run(_load(tmp_path, overrides=("seeds=0", "train.epochs=2")), only=["cnn"], trials=1)
    names = sorted(optuna.get_all_study_names(default_storage()))
    assert [n for n in names if not n.endswith(":seeds")] == ["tiny/cnn", "tiny/cnn@v2"]
    assert len(_study("cnn").trials) == 1  # the first version is left as it was
