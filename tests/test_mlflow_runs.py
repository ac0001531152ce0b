"""What MLflow holds for a benchmark: results on the parent runs (the leaderboard's figures),
searched values under stable `hp.*` names, datasets as run inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import TinyStore

from suite.spec.hparams import stable_name, stable_params

# ---- stable names (no training) --------------------------------------------------------

GRU_FIRST = {
    "model": {"layers": [{"gru": {"units": 32}}, {"dense": {"units": 8}}]},
    "train": {"optimizer": {"adam": {"learning_rate": 0.01}}},
}
GRU_THIRD = {
    "model": {
        "layers": [{"conv1d": {"filters": 8}}, {"conv1d": {"filters": 16}}, {"gru": {"units": 64}}]
    },
    "train": {"optimizer": {"sgd": {"learning_rate": 0.1, "momentum": 0.9}}},
}


def test_a_layers_dimension_is_named_by_its_block_wherever_the_layer_sits() -> None:
    a = stable_params({"model.layers[0].gru.units": 32}, GRU_FIRST)
    b = stable_params({"model.layers[2].gru.units": 64}, GRU_THIRD)
    assert a == {"hp.gru.units": 32}
    assert b == {"hp.gru.units": 64}


def test_repeated_blocks_are_numbered_like_keras_names_them() -> None:
    params = {"model.layers[0].conv1d.filters": 8, "model.layers[1].conv1d.filters": 16}
    assert stable_params(params, GRU_THIRD) == {"hp.conv1d.filters": 8, "hp.conv1d_1.filters": 16}


def test_the_learning_rate_is_one_name_whatever_the_optimizer() -> None:
    adam = {"train.optimizer": "adam", "train.optimizer.adam.learning_rate": 0.01}
    sgd = {"train.optimizer": "sgd", "train.optimizer.sgd.learning_rate": 0.1}
    sgd["train.optimizer.sgd.momentum"] = 0.9
    assert stable_params(adam, GRU_FIRST) == {"hp.optimizer": "adam", "hp.learning_rate": 0.01}
    assert stable_params(sgd, GRU_THIRD) == {
        "hp.optimizer": "sgd",
        "hp.learning_rate": 0.1,
        "hp.momentum": 0.9,
    }


def test_schedules_nested_blocks_whole_layers_and_tokenizers() -> None:
    doc = {
        "model": {
            "layers": [
                {"embedding": {"dim": 16}},
                {"bidirectional": {"layer": {"lstm": {"units": 8}}}},
                {"lstm": {"units": 4}},
            ]
        },
        "train": {"schedule": {"cosine": {"alpha": 0.1}}, "batch_size": 32},
        "tokenizer": {"kind": "wordpiece", "vocab_size": 800},
    }
    assert stable_name("train.schedule.cosine.alpha", doc) == "schedule.alpha"
    assert stable_name("train.batch_size", doc) == "batch_size"
    assert stable_name("model.layers[1].bidirectional.layer.lstm.units", doc) == (
        "bidirectional.layer.lstm.units"
    )
    assert stable_name("model.layers[2]", doc) == "layers.2"  # the whole layer is chosen
    assert stable_name("model.layers[2].lstm.units", doc) == "lstm.units"
    assert stable_name("tokenizer.vocab_size", doc) == "tokenizer.vocab_size"


def test_names_two_dimensions_would_share_keep_their_whole_paths() -> None:
    doc = {"model": {"dropout": 0.1}, "train": {"dropout": 0.2}}
    got = stable_params({"model.dropout": 0.1, "train.dropout": 0.2}, doc)
    assert got == {"hp.model.dropout": 0.1, "hp.train.dropout": 0.2}


def test_run_params_drop_the_spec_noise_and_parents_drop_the_searched_paths() -> None:
    from suite import track

    doc = {
        "model": {
            "family": "rnn",
            "description": "a GRU",
            "layers": [{"gru": {"units": 32}}],
            "space": {"layers[0].gru.units": {"int": [8, 64]}},
            "reference": {"input_shape": [8], "source": "a paper"},
        },
        "train": {"optimizer": {"adam": {"learning_rate": 0.01}}},
    }
    params = track.run_params(doc, {"model.layers[0].gru.units": 32})
    assert params["hp.gru.units"] == "32"
    assert params["model.layers.0.gru.units"] == "32"
    assert not [k for k in params if k.startswith(track.NOISE)]
    parent = track.spec_params(doc, ["model.layers[0].gru.units"])
    assert "model.layers.0.gru.units" not in parent and "model.family" in parent
    assert "train.optimizer.adam.learning_rate" in parent


# ---- read back from the shared tiny benchmark -------------------------------------------


def _runs(tiny: TinyStore) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tiny.tracking_uri)
    exp = client.get_experiment_by_name(tiny.name)
    return client.search_runs([exp.experiment_id], max_results=1000)


def _compare_json(tiny: TinyStore) -> dict[str, Any]:
    """`suite compare NAME --format json`, as printed."""
    from click.testing import CliRunner

    from suite.cli import main

    out = CliRunner().invoke(main, ["compare", tiny.name, "--format", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.mark.slow
def test_parent_runs_carry_the_leaderboard_and_sort_like_it(tiny: TinyStore) -> None:
    doc = _compare_json(tiny)
    metric, test_metric = doc["metric"], doc["test_metric"]
    rows = [r for r in doc["rows"] if r["family"] != "baseline"]
    parents = {
        r.data.tags["suite.candidate"]: r
        for r in _runs(tiny)
        if r.data.tags["suite.kind"] == "candidate"
    }
    assert set(parents) == {r["candidate"] for r in rows}
    for rank, row in enumerate(rows, start=1):
        m = parents[row["candidate"]].data.metrics
        tags = parents[row["candidate"]].data.tags
        assert m[f"best_{metric}"] == pytest.approx(row["best_val"])
        assert m[f"{test_metric}_mean"] == pytest.approx(row["test_mean"])
        assert m[f"{test_metric}_ci_low"] == pytest.approx(row["test_ci_low"])
        assert m[f"{test_metric}_ci_high"] == pytest.approx(row["test_ci_high"])
        assert m["seeds"] == row["seeds"] == 3
        assert m["params"] == row["params"]
        assert m["leaderboard_rank"] == rank
        assert m["trials_complete"] == row["trials_complete"]
        assert m["epochs_used"] == row["epochs_total"]
        assert tags["suite.verdict"] == row["verdict"]
    # the runs table sorted by the logged best validation value: the leaderboard's order
    up = doc["direction"] == "maximize"
    logged = [parents[r["candidate"]].data.metrics[f"best_{metric}"] for r in rows]
    assert logged == sorted(logged, reverse=up)


@pytest.mark.slow
def test_parents_hold_the_winners_values_and_hp_names_line_up(tiny: TinyStore) -> None:
    runs = _runs(tiny)
    work = [r for r in runs if r.data.tags["suite.kind"] in ("trial", "seed")]
    by_candidate: dict[str, set[frozenset[str]]] = {}
    for r in work:
        hp = frozenset(k for k in r.data.params if k.startswith("hp."))
        by_candidate.setdefault(r.data.tags["suite.candidate"], set()).add(hp)
        assert not [k for k in r.data.params if k.startswith(("model.space", "model.reference"))]
        assert "model.description" not in r.data.params
    assert by_candidate == {
        "cnn": {frozenset({"hp.learning_rate", "hp.conv2d.filters"})},
        "mlp": {frozenset({"hp.learning_rate", "hp.dense.units"})},
    }
    for parent in (r for r in runs if r.data.tags["suite.kind"] == "candidate"):
        name, best = parent.data.tags["suite.candidate"], parent.data.tags["suite.best_trial"]
        winner = next(
            r
            for r in work
            if r.data.tags["suite.candidate"] == name
            and r.data.tags["suite.kind"] == "trial"
            and r.data.tags["suite.trial"] == best
        )
        hp = {k: v for k, v in winner.data.params.items() if k.startswith("hp.")}
        assert {k: v for k, v in parent.data.tags.items() if k.startswith("hp.")} == hp
        searched = json.loads(winner.data.tags["suite.params"])
        assert float(hp["hp.learning_rate"]) == searched["train.optimizer.adam.learning_rate"]
        # the parent's params are the spec without its searched values
        assert "train.optimizer.adam.learning_rate" not in parent.data.params
        assert "train.batch_size" in parent.data.params


@pytest.mark.slow
def test_trial_and_seed_runs_log_the_dataset_as_inputs(tiny: TinyStore) -> None:
    from mlflow.tracking import MlflowClient

    runs = _runs(tiny)
    work = [r for r in runs if r.data.tags["suite.kind"] in ("trial", "seed")]
    assert work
    for r in work:
        fp = r.data.tags["suite.data_fingerprint"]
        inputs = {
            d.dataset.name: (
                d.dataset.digest,
                [t.value for t in d.tags if t.key == "mlflow.data.context"],
            )
            for d in r.inputs.dataset_inputs
        }
        want = {"digits/train": "training", "digits/val": "validation"}
        if r.data.tags["suite.kind"] == "seed":
            want["digits/test"] = "test"  # only seed runs are scored on test
        assert inputs == {name: (fp, [ctx]) for name, ctx in want.items()}
        train = next(d.dataset for d in r.inputs.dataset_inputs if d.dataset.name == "digits/train")
        assert json.loads(train.profile)["num_rows"] > 0
        assert "mlflow_tensorspec" in json.loads(train.schema)
    # MLflow's own dataset filter finds them
    client = MlflowClient(tiny.tracking_uri)
    exp = client.get_experiment_by_name(tiny.name)
    tested = client.search_runs([exp.experiment_id], "dataset.context = 'test'", max_results=1000)
    assert {r.info.run_id for r in tested} == {
        r.info.run_id for r in work if r.data.tags["suite.kind"] == "seed"
    }
