"""Character language modelling: bits per character, windows, splits in text order, samples."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.data.charlm import Corpus, prepare_corpus, vocabulary, windows
from suite.tasks.language_modeling import bits_per_character, perplexity

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REPO = Path(__file__).resolve().parents[1]
needs_shakespeare = pytest.mark.skipif(
    not (SHARED / "tiny_shakespeare" / "input.txt").is_file(),
    reason="tiny-shakespeare is not in ../shared/datasets (a fresh clone has no shared data)",
)


def test_bits_per_character_and_perplexity_of_a_known_prediction() -> None:
    from suite.blocks.tokens import TokenCrossEntropy

    assert bits_per_character(math.log(4)) == pytest.approx(2.0)
    assert perplexity(math.log(4)) == pytest.approx(4.0)
    bpc, ppl = TokenCrossEntropy("bits", name="bpc"), TokenCrossEntropy("perplexity", name="p")
    # batch 1: one token predicted with p = 0.5 (1 bit); batch 2: three with p = 0.25 (2 bits)
    y1, p1 = np.array([[0]]), np.array([[[0.5, 0.5, 0.0, 0.0]]], "float32")
    y2, p2 = np.array([[1, 2, 3]]), np.full((1, 3, 4), 0.25, "float32")
    for metric in (bpc, ppl):
        metric.update_state(y1, p1)
        metric.update_state(y2, p2)
    # a mean over the 4 tokens (7 bits / 4), not over the 2 batches ((1 + 2) / 2)
    assert float(bpc.result()) == pytest.approx(1.75, rel=1e-5)
    assert float(ppl.result()) == pytest.approx(2**1.75, rel=1e-5)
    # masked tokens (weight 0) do not count
    bpc.reset_state()
    bpc.update_state(y2, p2, sample_weight=np.array([[1.0, 0.0, 0.0]]))
    bpc.update_state(y1, p1)
    assert float(bpc.result()) == pytest.approx(1.5, rel=1e-5)


def test_windows_targets_are_inputs_shifted_by_one_inside_their_part() -> None:
    ids = np.arange(1000, dtype=np.int32)  # each id is its position in the text
    for start, end, window, stride in ((0, 900, 10, 10), (900, 950, 10, 3), (950, 1000, 49, 1)):
        x, y = windows(ids, start, end, window, stride)
        assert len(x) > 0
        np.testing.assert_array_equal(y, x + 1)  # target = the next character of each input
        assert x.min() == start and y.max() < end  # no window reads past its part
        np.testing.assert_array_equal(x[:, 0], np.arange(start, end - window, stride))
    assert windows(ids, 950, 1000, 50, 1)[0].shape == (0, 50)  # 50 chars hold no 50+1 window


def _corpus(text: str, window: int = 8, stride: int = 8) -> Corpus:
    return Corpus(text, "test", window, stride, "ab", 10, 1.0)


def test_corpus_is_split_in_text_order_with_a_train_only_vocabulary() -> None:
    text = "abcdefgh " * 100 + "ZZZZZZZZZZZZZZZZZZZZ" * 5  # 'Z' only in the last 100 chars
    ds = prepare_corpus(
        "t", _corpus(text), val_fraction=0.1, test_fraction=0.1, max_examples=None, params={}
    )
    chars = ds.meta["characters"]
    assert chars == {"train": 810, "val": 90, "test": 100}
    assert ds.classes == vocabulary(text[:810]) and "Z" not in ds.classes
    assert ds.meta["unknown_characters"] == {"train": 0, "val": 0, "test": 100}
    assert (ds.test.x == 0).all()  # every test character is unknown to the vocabulary
    assert (ds.train.x != 0).all() and (ds.val.x != 0).all()
    assert len(ds.train) == (810 - 8 - 1) // 8 + 1 and len(ds.val) == (90 - 9) // 8 + 1
    np.testing.assert_array_equal(ds.train.x[:, 1:], ds.train.y[:, :-1])
    capped = prepare_corpus(
        "t", _corpus(text), val_fraction=0.1, test_fraction=0.1, max_examples=10, params={}
    )
    assert (len(capped.train), len(capped.val)) == (10, 5)
    np.testing.assert_array_equal(capped.train.x, ds.train.x[:10])


def test_sample_starts_with_the_prime_and_is_reproducible() -> None:
    import keras

    from suite.build import build_model
    from suite.spec.schema import ModelSpec
    from suite.tasks import TASKS
    from suite.tasks.language_modeling import sample_text

    keras.utils.set_random_seed(0)
    vocab = vocabulary("abcdef \n")
    spec = ModelSpec.model_validate(
        {"layers": [{"embedding": {"dim": 4}}, {"gru": {"units": 8, "return_sequences": True}}]}
    )
    model = build_model(spec.layers, (6,), TASKS.get("language_modeling"), len(vocab), "lm", 9)
    one = sample_text(model, vocab, "abcdefgh", 12, window=6, temperature=0.7)
    assert one == sample_text(model, vocab, "abcdefgh", 12, window=6, temperature=0.7)
    # the prime's characters outside the vocabulary ('g', 'h') read as the unknown id 0
    assert one.startswith("abcdef\ufffd\ufffd") and len(one) == 20 and set(one) <= set(vocab)
    with pytest.raises(ValueError, match="temperature"):
        sample_text(model, vocab, "a", 1, window=6, temperature=0.0)


@needs_shakespeare
@pytest.mark.slow
def test_charlm_spec_runs_and_records_bpc_and_a_sample(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_tracking_uri

    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    bench = load(
        REPO / "specs" / "charlm_shakespeare.yaml",
        [
            "data.max_examples=200",
            "data.window=32",
            "data.sample_length=40",
            "train.epochs=1",
            "search.trials=2",
            "seeds=1",
        ],
    )
    summaries = run(bench)
    assert all(s.error is None for s in summaries)
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("charlm-shakespeare")
    assert exp.tags["suite.direction"] == "minimize"
    runs: list[Any] = client.search_runs([exp.experiment_id])
    trials = [r for r in runs if r.data.tags.get("suite.kind") == "trial"]
    seeds = [r for r in runs if r.data.tags.get("suite.kind") == "seed"]
    assert len(trials) == 4 and len(seeds) == 2
    for r in trials:
        m = r.data.metrics
        assert m["val_bpc"] == pytest.approx(m["val_loss"] / math.log(2), rel=1e-4)
        assert m["val_perplexity"] == pytest.approx(math.exp(m["val_loss"]), rel=1e-4)
        assert m["objective"] == m["best_val_bpc"] and math.isfinite(m["objective"])
        path = client.download_artifacts(r.info.run_id, "samples/sample.txt")
        header, sample = Path(path).read_text().split("\n", 1)
        assert header.startswith("# prime 'ROMEO:', temperature 0.8")
        assert sample.startswith("ROMEO:") and len(sample) == len("ROMEO:") + 40 + 1
    for r in seeds:
        assert r.data.metrics["test_bpc"] > 0 and r.data.metrics["test_perplexity"] > 1


def test_a_candidate_tokenizer_is_refused_not_ignored() -> None:
    from pydantic import TypeAdapter

    from suite.tasks import TASKS
    from suite.text.spec import TokenizerSpec

    text = "abcdefgh " * 30
    ds = prepare_corpus(
        "t", _corpus(text), val_fraction=0.1, test_fraction=0.1, max_examples=None, params={}
    )
    char = TypeAdapter(TokenizerSpec).validate_python({"kind": "char"})
    for name in ("language_modeling", "seq2seq"):
        task = TASKS.get(name)
        assert task.inputs(ds, None).data is ds
        with pytest.raises(ValueError, match=r"own character vocabulary.*remove the candidate's"):
            task.inputs(ds, char)
