"""Sequence to sequence: teacher-forcing inputs, greedy decoding, the lemma pairs, a tiny run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.data.pairs import END, PAD, START, UNK, char_vocabulary, encode_pairs, shift_right
from suite.tasks.seq2seq import (
    exact_match,
    greedy_decode,
    trim,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REPO = Path(__file__).resolve().parents[1]
needs_ud = pytest.mark.skipif(
    not (SHARED / "ud_english_ewt" / "en_ewt-ud-dev.conllu").is_file(),
    reason="UD English-EWT is not in ../shared/datasets (a fresh clone has no shared data)",
)


def test_decoder_input_is_the_target_shifted_right_behind_the_start_token() -> None:
    vocab = char_vocabulary(["abc", "ab"])
    a, b, c = (vocab.index(ch) for ch in "abc")
    x, y = encode_pairs(["ab", "b"], ["abc", "xa"], vocab, steps=5)
    assert x.shape == (2, 2, 5) and y.shape == (2, 5)
    assert x[0, 0].tolist() == [a, b, PAD, PAD, PAD]  # source
    assert y[0].tolist() == [a, b, c, END, PAD]  # target, then the end token
    assert x[0, 1].tolist() == [START, a, b, c, PAD]  # decoder input: target shifted right
    assert y[1].tolist() == [UNK, a, END, PAD, PAD]  # 'x' is not in the vocabulary
    assert x[1, 1].tolist() == [START, UNK, a, PAD, PAD]
    np.testing.assert_array_equal(shift_right(y), x[:, 1])
    # padding of the decoder input is exactly the padding of the target (the loss mask)
    np.testing.assert_array_equal(x[:, 1] == PAD, y == PAD)
    with pytest.raises(ValueError, match="longer than 5 steps"):
        encode_pairs(["a"], ["abcde"], vocab, steps=5)


def _counting_model(steps: int, vocab: int) -> Any:
    """A real Keras model whose output at step t is decided by the decoder input at t alone:
    the token two above it, or the end token past 9 (so greedy decoding must feed back)."""
    import keras
    from keras import ops

    inputs = keras.Input((2, steps))

    def rule(x: Any) -> Any:
        prev = ops.cast(x[:, 1], "int32")
        nxt = prev + 2
        nxt = ops.where(nxt > 9, ops.full_like(nxt, END), nxt)
        return ops.one_hot(nxt, vocab)

    return keras.Model(inputs, keras.layers.Lambda(rule)(inputs))


def test_greedy_decoding_feeds_its_own_predictions_back() -> None:
    model = _counting_model(steps=6, vocab=12)
    sources = np.zeros((3, 6), np.int32)
    pred = greedy_decode(model, sources, batch_size=2)  # two chunks: 2 rows, then 1
    # START=2 -> 4 -> 6 -> 8 -> 10 > 9 -> END, then padding
    assert pred[0].tolist() == [4, 6, 8, END, PAD, PAD]
    assert trim(pred[0]) == (4, 6, 8)
    target = np.array(
        [[4, 6, 8, END, PAD, PAD], [4, 6, 9, END, PAD, PAD], [4, 6, 8, 9, END, PAD]], np.int64
    )
    assert exact_match(pred, target).tolist() == [True, False, False]


def test_decoder_step_depends_only_on_earlier_decoder_inputs() -> None:
    """Greedy decoding relies on it: changing decoder inputs after t leaves step t unchanged."""
    import keras

    from suite.build import build_model
    from suite.spec.schema import ModelSpec
    from suite.tasks import TASKS

    keras.utils.set_random_seed(0)
    for attention in ("none", "additive"):
        spec = ModelSpec.model_validate(
            {"layers": [{"seq2seq": {"units": 8, "embed_dim": 4, "attention": attention}}]}
        )
        model = build_model(spec.layers, (2, 6), TASKS.get("seq2seq"), 9, vocab_size=9)
        x = np.array([[[5, 6, 7, 0, 0, 0], [START, 5, 6, 7, 8, 0]]], np.int32)
        changed = x.copy()
        changed[0, 1, 3:5] = [4, 4]
        a, b = model.predict_on_batch(x), model.predict_on_batch(changed)
        np.testing.assert_allclose(a[0, :3], b[0, :3], rtol=1e-5, atol=1e-6)
        assert not np.allclose(a[0, 3], b[0, 3])


@needs_ud
def test_lemma_pairs_are_deduplicated_and_split_as_documented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from suite.data import prepare
    from suite.data.lemmas import read_pairs

    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    dev, missing = read_pairs(SHARED / "ud_english_ewt" / "en_ewt-ud-dev.conllu")
    assert len(dev) == len(set(dev)) and missing > 0  # `goeswith` parts have no lemma
    ds = prepare("ud_lemmas", {"max_length": 12}, val_fraction=0.1, seed=3)
    sizes, dropped = ds.meta["sizes"], ds.meta["dropped_longer_than_max_length"]
    assert sizes["train"] + sizes["val"] + dropped["dev"] == len(dev)  # type: ignore[index]
    assert ds.input_shape == (2, 13) and ds.train.y.shape[1] == 13
    pairs = {
        split: {(tuple(x[0]), tuple(y)) for x, y in zip(s.x, s.y, strict=True)}
        for split, s in (("train", ds.train), ("val", ds.val))
    }
    assert not pairs["train"] & pairs["val"]  # held out, never trained on
    # the vocabulary comes from the training pairs only
    chars = {c for a, b in dev for c in a + b if max(len(a), len(b)) <= 12}
    assert set(ds.classes[4:]) <= chars
    assert ds.meta["unseen_test"].sum() == ds.meta["unseen_sources"]["test"] > 0  # type: ignore[index, union-attr]


@needs_ud
@pytest.mark.slow
def test_lemmatize_spec_runs_and_records_exact_match(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_tracking_uri

    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    bench = load(
        REPO / "specs" / "lemmatize_ud.yaml",
        [
            "data.max_examples=100",
            "data.max_length=12",
            "train.epochs=1",
            "search.trials=2",
            "seeds=1",
            "train.early_stopping=null",
        ],
    )
    summaries = run(bench)
    assert all(s.error is None for s in summaries)
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("lemmatize-ud")
    runs = client.search_runs([exp.experiment_id])
    trials = [r for r in runs if r.data.tags.get("suite.kind") == "trial"]
    seeds = [r for r in runs if r.data.tags.get("suite.kind") == "seed"]
    assert len(trials) == 4 and len(seeds) == 2
    for r in trials:
        m = r.data.metrics
        assert 0.0 <= m["val_exact_match"] <= 1.0 and m["objective"] == m["best_val_exact_match"]
        assert "val_token_accuracy" in m
        names = [a.path for a in client.list_artifacts(r.info.run_id, "samples")]
        assert names == ["samples/decoded.tsv"]
    for r in seeds:
        assert 0.0 <= r.data.metrics["test_exact_match"] <= 1.0
        assert "test_exact_match_unseen" in r.data.metrics
    text = client.download_artifacts(trials[0].info.run_id, "samples/decoded.tsv")
    lines = Path(text).read_text().splitlines()
    assert lines[0] == "source\ttarget\tgreedy\tmatch" and len(lines) == 41
