"""Models in MLflow's own format: every seed run and the best trial log an MLflow model, each
candidate's champion is registered, and `models:/<benchmark>.<candidate>@champion` loads and
predicts in a fresh process (image: the shared tiny benchmark; text: raw strings in).
Runs logged before (a plain `model/model.keras` artifact) still read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TinyStore

pytestmark = pytest.mark.slow

# Run in a fresh interpreter: the script imports nothing of the suite; the model's loader does.
LOAD = """
import json, sys
import mlflow, numpy as np
model = mlflow.pyfunc.load_model(sys.argv[1])
meta = model.metadata
data = json.load(open(sys.argv[2]))
out = model.predict(np.asarray(data, dtype="float32") if sys.argv[3] == "array" else data)
out = out.to_dict(orient="list") if hasattr(out, "to_dict") else np.asarray(out).tolist()
print(json.dumps({
    "out": out,
    "signature": meta.signature is not None,
    "example": meta.saved_input_example_info is not None,
    "flavors": sorted(meta.flavors),
    "suite_loaded": "suite.blocks" in sys.modules,
}))
"""


def _fresh(uri: str, model_uri: str, data: object, kind: str, tmp: Path) -> dict:
    """Load `model_uri` in a new Python process and predict `data`; what it reports."""
    file = tmp / "input.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", LOAD, model_uri, str(file), kind]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _runs(client: object, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)  # type: ignore[attr-defined]
    return client.search_runs([exp.experiment_id], max_results=1000)  # type: ignore[attr-defined]


def test_champions_are_registered_and_load_in_a_fresh_process(
    tiny: TinyStore, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    from suite.blocks.saved import load_model
    from suite.mlmodels import MODEL_ID
    from suite.transfer import keras_file, run_model

    client = MlflowClient(tiny.tracking_uri)
    runs = _runs(client, tiny.name)
    for cand in ("cnn", "mlp"):
        mine = [r for r in runs if r.data.tags.get("suite.candidate") == cand]
        parent = next(r for r in mine if r.data.tags["suite.kind"] == "candidate")
        seeds = [r for r in mine if r.data.tags["suite.kind"] == "seed"]
        best_trial = client.get_run(parent.data.tags["suite.best_run"])
        # the search logs the model of its best trial only: one beaten later keeps none
        trials = [r for r in mine if r.data.tags["suite.kind"] == "trial"]
        assert len(trials) == 2
        assert {r.info.run_id for r in trials if MODEL_ID in r.data.tags} == {
            best_trial.info.run_id
        }
        # every seed run and the best trial log an MLflow model, linked as the run's output
        for run in [*seeds, best_trial]:
            model_id = run.data.tags[MODEL_ID]
            outputs = client.get_run(run.info.run_id).outputs.model_outputs
            assert model_id in [o.model_id for o in outputs]
            logged = client.get_logged_model(model_id)
            assert logged.source_run_id == run.info.run_id
            # the run's results are the model's metrics (MLflow's Models page shows them)
            assert {"objective", "train_time_s"} <= {m.key for m in logged.metrics or []}
        # the champion: the best validation value among the best configuration's seed runs
        best = [
            r
            for r in seeds
            if r.data.tags["suite.best_trial"] == parent.data.tags["suite.best_trial"]
        ]
        top = max(r.data.metrics["objective"] for r in best)
        version = client.get_model_version_by_alias(f"{tiny.name}.{cand}", "champion")
        champ = client.get_run(version.run_id)
        assert champ.data.tags["suite.kind"] == "seed"
        assert champ.data.metrics["objective"] == top
        assert version.source == f"models:/{champ.data.tags[MODEL_ID]}"

    # in a fresh process, what the registry serves answers like the run's model here
    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    version = client.get_model_version_by_alias(f"{tiny.name}.cnn", "champion")
    folder = run_model(version.run_id, tiny.tracking_uri, tmp_path / "here")
    want = np.asarray(load_model(keras_file(folder), compile=False).predict(x, verbose=0))
    uri = f"models:/{tiny.name}.cnn@champion"
    got = _fresh(tiny.tracking_uri, uri, x.tolist(), "array", tmp_path)
    assert got["suite_loaded"] and got["signature"] and got["example"]
    assert "keras" in got["flavors"]
    assert np.asarray(got["out"]) == pytest.approx(want, abs=1e-5)
    assert np.asarray(got["out"]).sum(axis=1) == pytest.approx([1.0] * 3, abs=1e-4)


def test_pretrained_reads_a_run_logged_before_mlflow_models(results: Path) -> None:
    """A run holding only the artifact `model/model.keras` (the earlier layout) still loads."""
    import tempfile

    import keras
    from mlflow.tracking import MlflowClient

    from suite import stores
    from suite.blocks.saved import load_model
    from suite.transfer import download

    uri = stores.default_tracking_uri()
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("legacy")).info.run_id
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(3, name="head")(inp))
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "model.keras")
        client.log_artifact(run, str(Path(tmp) / "model.keras"), "model")
    loaded = load_model(download(run, uri), compile=False)
    assert [layer.name for layer in loaded.layers] == ["input_layer", "head"]
    x = np.ones((2, 4), dtype="float32")
    assert np.asarray(loaded.predict(x, verbose=0)) == pytest.approx(
        np.asarray(model.predict(x, verbose=0))
    )
    with pytest.raises(ValueError, match="cannot fetch"):
        download(client.create_run("0").info.run_id, uri)


TEXT_SPEC = """
name: tiny-text
task: text_classification
data: {{name: text_file, path: {path}, val_fraction: 0.2, test_fraction: 0.2}}
candidates:
  bow:
    model:
      layers:
        - embedding: {{dim: 8}}
        - global_avg_pool
    tokenizer: {{kind: unicode_script, lower: true, max_length: 12}}
train: {{epochs: 2, batch_size: 32, optimizer: {{adam: {{learning_rate: 3.0e-2}}}}}}
search: {{trials: 1, sampler: {{random: {{}}}}, pruner: none}}
seeds: 1
"""


def test_a_text_champion_takes_raw_strings(results: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow_text")
    from mlflow.tracking import MlflowClient

    from suite import stores
    from suite.runner import run
    from suite.spec.load import load
    from suite.text.predict import predict

    words = {"good": "great fine lovely superb nice", "bad": "awful poor dull bleak nasty"}
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for i in range(160):
        label = ("good", "bad")[i % 2]
        rows.append(f"{' '.join(rng.choice(words[label].split(), 4))},{label}")
    csv = tmp_path / "reviews.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = tmp_path / "tiny-text.yaml"
    spec.write_text(TEXT_SPEC.format(path=csv), encoding="utf-8")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(load(spec))
    # MLflow's advice to type `predict` is not for the user's screen (the signature is given)
    assert not [w for w in caught if "type hints" in str(w.message)]

    uri = stores.default_tracking_uri()
    client = MlflowClient(uri)
    version = client.get_model_version_by_alias("tiny-text.bow", "champion")
    texts = ["great lovely superb", "awful dull nasty"]
    want = predict(version.run_id, texts)  # what `suite predict` answers
    parent = next(
        r for r in _runs(client, "tiny-text") if r.data.tags.get("suite.kind") == "candidate"
    )
    assert predict(parent.info.run_id, texts).probabilities.shape == (2, 2)  # the best trial
    got = _fresh(uri, "models:/tiny-text.bow@champion", texts, "list", tmp_path)
    assert got["signature"] and got["example"] and "python_function" in got["flavors"]
    assert got["out"]["label"] == want.labels()
    for i, name in enumerate(want.classes):
        assert got["out"][name] == pytest.approx(want.probabilities[:, i], abs=1e-5)
