"""Sequence labelling: CoNLL-U/IOB2 readers and loaders, exact-span entity F1, masking of
padding in the loss and the metrics, label alignment for subwords, and a tiny end-to-end run
of each tagging spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.data import DataError, prepare
from suite.data.conll import hold_out_documents, read_conllu, read_iob2
from suite.spans import score, spans
from suite.tasks.tagging import align, char_ids, is_iob2, predicted_tags

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"

needs_shared = pytest.mark.skipif(
    not (SHARED / "ud_english_atis").is_dir() or not (SHARED / "uner_english_ewt").is_dir(),
    reason=f"the shared datasets folder {SHARED} (UD English-ATIS, UNER English-EWT) is absent",
)


# --- entity spans and exact-match F1 -------------------------------------------------------------


def test_spans_follow_conlleval() -> None:
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "B-ORG"]
    # an I- after O or after another type starts an entity; B- always does
    assert spans(tags) == [
        ("PER", 0, 1),
        ("LOC", 3, 4),
        ("LOC", 5, 5),
        ("ORG", 6, 6),
        ("ORG", 7, 7),
    ]
    assert spans(["O", "O"]) == [] and spans(["B-X"]) == [("X", 0, 0)]
    with pytest.raises(ValueError, match="not an IOB2 tag"):
        spans(["E-PER"])


def test_exact_span_f1_on_a_hand_checked_example() -> None:
    gold = [
        ["B-PER", "I-PER", "O", "B-LOC"],  # Jane Doe in Paris
        ["B-ORG", "I-ORG", "I-ORG", "O"],
    ]
    pred = [
        ["B-PER", "I-PER", "O", "B-ORG"],  # PER right; LOC typed ORG: one false, one missed
        ["B-ORG", "I-ORG", "O", "O"],  # span one token short: wrong (exact match)
    ]
    s = score(gold, pred)
    # gold: PER, LOC, ORG = 3; predicted: PER, ORG, ORG = 3; correct: PER only
    assert (s.correct, s.predicted, s.gold) == (1, 3, 3)
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(1 / 3)
    perfect = score(gold, gold)
    assert perfect.f1 == 1.0 and perfect.metrics("val_")["val_entity_recall"] == 1.0
    # nothing predicted: precision and F1 are 0, not NaN
    assert score(gold, [["O"] * 4, ["O"] * 4]).metrics()["entity_f1"] == 0.0
    with pytest.raises(ValueError, match="sentence 0"):
        score([["O"]], [["O", "O"]])


def test_iob2_detection_and_metric_directions() -> None:
    from suite.tasks import TASKS, direction_of

    assert is_iob2(("B-LOC", "I-LOC", "O"))
    assert not is_iob2(("NOUN", "VERB")) and not is_iob2(("O",))
    task = TASKS.get("tagging")
    for metric in ("val_entity_f1", "test_entity_recall", "val_token_accuracy"):
        assert task.knows_metric(metric) and direction_of(metric) == "maximize"
    assert task.direction("val_loss") == "minimize" and not task.knows_metric("val_accuracy")


# --- readers: malformed input names file and line -------------------------------------------------


def test_conllu_skips_ranges_and_empty_nodes(tmp_path: Path) -> None:
    f = tmp_path / "a.conllu"
    row = "{}\t{}\t_\t{}\t_\t_\t0\t_\t_\t_"
    f.write_text(
        "# sent_id = 1\n"
        + "\n".join(
            [
                row.format("1-2", "don't", "_"),
                row.format(1, "do", "AUX"),
                row.format(2, "n't", "PART"),
                row.format("2.1", "x", "X"),
                row.format(3, "go", "VERB"),
            ]
        )
        + "\n\n"
    )
    (s,) = read_conllu(f)
    assert s.words == ("do", "n't", "go") and s.tags == ("AUX", "PART", "VERB")
    assert s.where == f"{f}:2"
    f.write_text(row.format(1, "a", "DET") + "\n1\tb\tc\n")
    with pytest.raises(DataError, match=rf"{f.name}:2: expected 10 tab-separated"):
        read_conllu(f)


def test_iob2_refuses_a_bad_tag_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "a.iob2"
    f.write_text("# text = x\n1\tJane\tB-PER\t-\t-\n2\tDoe\tE-PER\t-\t-\n")
    with pytest.raises(DataError, match=rf"{f.name}:3: 'E-PER' is not an IOB2 tag"):
        read_iob2(f)
    f.write_text("1\tJane\n")
    with pytest.raises(DataError, match=rf"{f.name}:1: expected at least 3"):
        read_iob2(f)


def test_missing_corpus_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"(?s)en_atis-ud-train\.conllu.*Looked in.*SUITE_DATA_DIR"):
        prepare("ud_english_atis", {}, target="tags", split="random")


def test_tags_unseen_in_training_error_keep_or_drop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uner_english_ewt"
    folder.mkdir()
    dev = "".join(f"1\tJane\tB-PER\n2\tsaw\tO\n3\tRome{i}\tB-LOC\n\n" for i in range(4))
    (folder / "en_ewt-ud-dev.iob2").write_text(dev)
    test = "1\tJane\tB-PER\n\n# text = Nobel\n1\tNobel\tB-MISC\n\n"
    (folder / "en_ewt-ud-test.iob2").write_text(test)
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"test sentence at .*en_ewt-ud-test.iob2:4 .*'B-MISC'"):
        prepare("uner_english_ewt", {}, target="tags", split="random")
    kept = prepare("uner_english_ewt", {"unseen_tags": "keep"}, target="tags", split="random")
    assert kept.classes == ("B-LOC", "B-PER", "O", "B-MISC") and len(kept.test) == 2
    dropped = prepare("uner_english_ewt", {"unseen_tags": "drop"}, target="tags", split="random")
    assert dropped.classes == ("B-LOC", "B-PER", "O") and len(dropped.test) == 1
    assert len(dropped.train) + len(dropped.val) == 4  # dev, with a held-out slice


@needs_shared
def test_loaders_read_the_real_corpora(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    pos = prepare("ud_english_atis", {"unseen_tags": "keep"}, target="tags", split="random")
    assert pos.meta["sizes"] == {"train": 4274, "val": 572, "test": 586}
    assert pos.meta["val_split"] == "native" and len(pos.classes) == 14  # 13 in train + SYM
    assert all(len(w) == len(t) for w, t in zip(pos.train.x, pos.train.y, strict=True))
    assert sum(len(w) for w in pos.train.x) == 48655
    # the dev file's SYM tokens are unseen in train: an error naming file:line by default
    with pytest.raises(DataError, match=r"dev sentence at .*en_atis-ud-dev.conllu:\d+ .*'SYM'"):
        prepare("ud_english_atis", {}, target="tags", split="random")
    ner = prepare("uner_english_ewt", {}, target="tags", split="random")
    # trained on dev less 20% of its documents (held out whole for validation), tested on test
    assert ner.meta["sizes"] == {"train": 1685, "val": 316, "test": 2077}
    dev = read_iob2(SHARED / "uner_english_ewt" / "en_ewt-ud-dev.iob2")
    kept, held = hold_out_documents(dev, 0.2)
    assert len({s.doc for s in dev}) == 318 and round(318 * 0.2) == len({s.doc for s in held})
    assert not {s.doc for s in kept} & {s.doc for s in held}
    assert [s.words for s in held] == [tuple(w) for w in ner.val.x]
    assert ner.classes == ("B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O")
    gold = [[ner.classes[k] for k in y] for y in ner.test.y]
    assert sum(len(spans(t)) for t in gold) == 1088  # entities in en_ewt-ud-test


# --- alignment and masking ------------------------------------------------------------------------


def test_first_subtoken_carries_the_tag() -> None:
    # words: [un, ##believ, ##able] [news] | then padding; the second sentence is truncated
    first = np.array([[1, 0, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0]], dtype=bool)
    ids = np.array([[5, 6, 7, 8, 0, 0], [9, 9, 9, 0, 0, 0]])
    y = align(first, [np.array([3, 4]), np.array([1, 2, 0, 2])])
    assert y.tolist() == [[3, -1, -1, 4, -1, -1], [1, 2, 0, -1, -1, -1]]
    chars = char_ids([("ab", "c"), ("d", "e", "f", "g")], first, ids, 2)
    assert chars[0, :4].tolist() == [[99, 100], [99, 100], [99, 100], [101, 0]]
    assert chars[0, 4:].max() == 0  # padding has no characters
    probs = np.eye(5)[[[3, 0, 0, 1, 0, 0], [1, 2, 0, 0, 0, 0]]]
    classes = ["O", "B-X", "I-X", "B-Y", "I-Y"]
    # predictions read at the labelled positions; the truncated fourth word becomes O
    assert predicted_tags(probs, y, [np.array([3, 4]), np.array([1, 2, 0, 2])], classes) == [
        ["B-Y", "B-X"],
        ["B-X", "I-X", "O", "O"],
    ]


def _sentences(rows: list[tuple[str, str]]) -> Any:
    """A tiny tagged Dataset: rows of 'words' and 'tags' strings, the same rows in every split."""
    from suite.data.base import Dataset, Split

    classes = ("B-X", "I-X", "O")
    x = np.empty(len(rows), dtype=object)
    y = np.empty(len(rows), dtype=object)
    for i, (w, t) in enumerate(rows):
        x[i] = tuple(w.split())
        y[i] = np.array([classes.index(c) for c in t.split()], dtype=np.int64)
    split = Split(x, y)
    return Dataset("tiny", split, split, split, classes, "text", "test", "f" * 16, target="tags")


def test_subword_tokenizer_aligns_tags_to_first_subtokens(results: Path) -> None:
    from suite.tasks.tagging import TAGGING
    from suite.text.fit import spec_of

    data = _sentences(
        [
            ("unbelievable news from Ulaanbaatar", "O O O B-X"),
            ("the news is unbelievable", "O O O O"),
            ("Ulaanbaatar news", "B-X O"),
        ]
    )
    spec = spec_of({"kind": "wordpiece", "vocab_size": 40, "min_frequency": 1, "max_length": 6})
    prep = TAGGING.inputs(data, spec)
    x, y = prep.data.train.x, prep.data.train.y
    assert x.shape == (3, 6, 1 + TAGGING.max_chars)
    for i, words in enumerate(data.train.x):
        pos = np.flatnonzero(y[i] != -1)  # one labelled position per word that fits
        firsts = [prep.tokenizer.ids([w])[0][0] for w in words]
        assert x[i, pos, 0].tolist() == firsts[: len(pos)]
        assert y[i, pos].tolist() == data.train.y[i][: len(pos)].tolist()
        assert (x[i, pos, 1] == [ord(w[0]) + 2 for w in words[: len(pos)]]).all()
    # the first sentence needs more than 6 sub-tokens: its last word lost its position
    assert (y[0] != -1).sum() < 4 and prep.stats["tok.truncated"] > 0
    assert not prep.hit and TAGGING.inputs(data, spec).hit  # the second call reuses the ids


def test_padding_changes_neither_loss_nor_token_accuracy() -> None:
    from suite.blocks.tagging_layers import TokenAccuracy, masked_loss

    rng = np.random.default_rng(0)
    y = np.array([[2, 0, 1, -1], [1, 1, -1, -1]])
    p = rng.dirichlet(np.ones(3), size=(2, 4)).astype("float32")
    wide_y = np.concatenate([y, np.full((2, 5), -1)], axis=1)
    junk = rng.dirichlet(np.ones(3), size=(2, 5)).astype("float32")
    wide_p = np.concatenate([p, junk], axis=1)
    loss = masked_loss()
    assert float(loss(y, p)) == pytest.approx(float(loss(wide_y, wide_p)), rel=1e-6)
    labelled = y != -1
    expected = -np.log(p[labelled, y[labelled]]).mean()
    assert float(loss(y, p)) == pytest.approx(expected, rel=1e-5)
    accs = []
    for yy, pp in ((y, p), (wide_y, wide_p)):
        m = TokenAccuracy()
        m.update_state(yy, pp)
        accs.append(float(m.result()))
    assert accs[0] == accs[1] == pytest.approx((p.argmax(-1) == y)[labelled].mean())


# --- end to end: each spec, tiny ----------------------------------------------------------------

TINY = [
    "data.max_examples=120",
    "train.epochs=1",
    "train.batch_size=32",
    "search.trials=2",
    "seeds=1",
]


def _run_spec(spec: str, only: str, extra: list[str]) -> Any:
    from mlflow.tracking import MlflowClient

    from suite.compare import leaderboard
    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_tracking_uri

    bench = load(REPO / "specs" / spec, [*TINY, *extra])
    run(bench, only=[only])
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name(bench.name)
    runs = {
        kind: client.search_runs([exp.experiment_id], f"tags.`suite.kind` = '{kind}'")
        for kind in ("trial", "seed")
    }
    return leaderboard(bench.name), runs


@needs_shared
@pytest.mark.slow
def test_pos_spec_runs_end_to_end(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    frame, runs = _run_spec("pos_atis.yaml", "bilstm+word", ["seeds=0"])  # NER tests seeds
    assert frame.attrs["metric"] == "val_token_accuracy"
    assert len(runs["trial"]) == 2 and not runs["seed"]
    for trial in runs["trial"]:
        m = trial.data.metrics
        assert 0 < m["val_token_accuracy"] <= 1 and m["objective"] == m["val_token_accuracy"]
        assert "val_entity_f1" not in m  # UPOS tags are not IOB2
        assert m["tok.vocab_size"] > 2  # the word vocabulary, learned on train
    hits = sorted(t.data.tags["suite.tokenize_cache"] for t in runs["trial"])
    assert hits == ["hit", "miss"]  # trial 2 reuses the first trial's ids


@needs_shared
@pytest.mark.slow
def test_ner_spec_runs_end_to_end(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    frame, runs = _run_spec("ner_uner.yaml", "cnn_bilstm+word", [])
    assert frame.attrs["metric"] == "val_entity_f1" and frame.attrs["direction"] == "maximize"
    assert len(runs["trial"]) == 2
    for trial in runs["trial"]:
        m = trial.data.metrics
        assert {"val_entity_precision", "val_entity_recall", "val_token_accuracy"} <= set(m)
        assert 0 <= m["val_entity_f1"] <= 1 and m["objective"] == m["val_entity_f1"]
    (seed,) = runs["seed"]
    assert {"test_entity_f1", "test_entity_precision", "test_token_accuracy"} <= set(
        seed.data.metrics
    )
    # the best trial's model reloads (safe mode) and tags every position of a sentence
    from mlflow.tracking import MlflowClient

    from suite.blocks.saved import load_model
    from suite.mlmodels import MODEL_ID
    from suite.stores import default_tracking_uri
    from suite.transfer import keras_file, run_model

    client = MlflowClient(default_tracking_uri())
    best = next(t for t in runs["trial"] if MODEL_ID in client.get_run(t.info.run_id).data.tags)
    local = keras_file(run_model(best.info.run_id, default_tracking_uri(), tmp_path / "model"))
    model = load_model(local)
    assert model.predict(np.ones((1, 64, 17), dtype="int32"), verbose=0).shape == (1, 64, 7)
