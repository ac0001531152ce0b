"""Character-level language modelling: tiny-shakespeare cut into windows in text order.

Split rules (see `prepare_corpus`): the text is cut in text order into train, then val, then
test (test = the last `test_fraction` of the characters, val = the last `val_fraction` of the
rest; with val_fraction = test_fraction = 0.05 that is 90.25 / 4.75 / 5 %). The vocabulary is
the characters of the train part only (sorted; id 0 is reserved for a character train never
has). Each part is cut into windows on its own, so no window straddles a boundary: the input is
`chars[s : s + window]` and the target the same characters shifted by one,
`chars[s + 1 : s + window + 1]` (truncated backpropagation through time: gradients flow
`window` steps back). Windows start every `stride` characters (default: `window`, so they do
not overlap). Every window starts from a zero state: the models are not stateful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from suite.data.base import DATASETS, DataError, Dataset, Split, fingerprint
from suite.data.files import DATA_DIR_HINT, listing
from suite.data.series import split_points
from suite.settings import data_dirs

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

UNKNOWN = "\ufffd"  # shown for id 0, a character the train part never has
Chars = Annotated[int, Field(ge=1)]
FOLDER, FILE = "tiny_shakespeare", "input.txt"


@dataclass(frozen=True)
class Corpus:
    """What a corpus loader returns: one long text and how to cut it into windows.

    `prime`, `sample_length` and `temperature` set the text sample generated after training.
    """

    text: str
    source: str
    window: int
    stride: int
    prime: str
    sample_length: int
    temperature: float
    target: str = "next_token"

    def to_dataset(
        self,
        name: str,
        *,
        val_fraction: float,
        test_fraction: float,
        max_examples: int | None,
        seed: int,
        params: dict[str, object],
    ) -> Dataset:
        return prepare_corpus(
            name,
            self,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            max_examples=max_examples,
            params=params,
        )


def vocabulary(text: str) -> tuple[str, ...]:
    """The characters of `text`, sorted, after the reserved id 0 (an unknown character)."""
    return (UNKNOWN, *sorted(set(text) - {UNKNOWN}))


def encode(text: str, vocab: tuple[str, ...]) -> np.ndarray:
    """int32 ids of `text` under `vocab`; characters it lacks map to 0."""
    index = {c: i for i, c in enumerate(vocab)}
    return np.fromiter((index.get(c, 0) for c in text), dtype=np.int32, count=len(text))


def decode(ids: np.ndarray, vocab: tuple[str, ...]) -> str:
    return "".join(vocab[int(i)] for i in ids)


def windows(
    ids: np.ndarray, start: int, end: int, window: int, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ids[s:s+window] and targets ids[s+1:s+window+1] of every window inside [start, end).

    Windows start at start, start + stride, ... while the target's last character is before end.
    """
    last = end - window - 1
    starts = np.arange(start, last + 1, stride) if last >= start else np.arange(0)
    if not len(starts):
        return np.zeros((0, window), np.int32), np.zeros((0, window), np.int64)
    idx = starts[:, None] + np.arange(window)[None, :]
    return ids[idx].astype(np.int32), ids[idx + 1].astype(np.int64)


def _frozen(x: np.ndarray, y: np.ndarray) -> Split:
    x.flags.writeable = False
    y.flags.writeable = False
    return Split(x, y)


def prepare_corpus(
    name: str,
    c: Corpus,
    *,
    val_fraction: float,
    test_fraction: float,
    max_examples: int | None,
    params: dict[str, object],
) -> Dataset:
    """Train/val/test windows of `c` in text order, with a vocabulary from train only.

    `max_examples` keeps the first `max_examples` train windows and the first
    `max(max_examples // 2, 1)` val and test windows (the vocabulary still comes from the
    whole train part).
    """
    n = len(c.text)
    train_end, val_end = split_points(n, val_fraction, test_fraction)
    bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)}
    vocab = vocabulary(c.text[:train_end])
    ids = encode(c.text, vocab)
    splits = {}
    for part, (a, b) in bounds.items():
        x, y = windows(ids, a, b, c.window, c.stride)
        if not len(x):
            raise DataError(
                f"{name}: the {part} part has {b - a} characters, fewer than window + 1 = "
                f"{c.window + 1}; shorten the window or change val_fraction/test_fraction."
            )
        if max_examples is not None:
            keep = max_examples if part == "train" else max(max_examples // 2, 1)
            x, y = x[:keep], y[:keep]
        splits[part] = _frozen(x, y)
    train, val, test = splits["train"], splits["val"], splits["test"]
    unknown = {p: int((ids[a:b] == 0).sum()) for p, (a, b) in bounds.items()}
    return Dataset(
        name=name,
        train=train,
        val=val,
        test=test,
        classes=vocab,
        modality="text",
        source=c.source,
        fingerprint=fingerprint(train.x, train.y, val.x, val.y, test.x, test.y),
        target="next_token",
        meta={
            "params": params,
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "characters": {k: b - a for k, (a, b) in bounds.items()},
            "unknown_characters": unknown,
            "vocabulary_size": len(vocab),
            "window": c.window,
            "stride": c.stride,
            "prime": c.prime,
            "sample_length": c.sample_length,
            "temperature": c.temperature,
            "test_split": "text_order",
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "max_examples": max_examples,
        },
    )


def find_text(dataset: str, folder: str, file: str) -> str:
    """The text of `folder/file` (or `file`) in the first data dir holding it."""
    looked = []
    for d in data_dirs():
        for path in (d / folder / file, d / file):
            looked.append(path)
            if path.is_file():
                try:
                    return path.read_text(encoding="utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"{path}: not UTF-8 text ({e.reason} at byte {e.start})"
                    ) from None
    raise DataError(
        f"{dataset}: the file {folder}/{file} was not found. Looked at:\n{listing(looked)}\n"
        f"Put it in a folder {folder}/ and {DATA_DIR_HINT}."
    )


@DATASETS.register("tiny_shakespeare")
def tiny_shakespeare(
    window: Chars = 100,
    stride: Chars | None = None,
    prime: Annotated[str, Field(min_length=1)] = "ROMEO:",
    sample_length: Chars = 300,
    temperature: Annotated[float, Field(gt=0)] = 0.8,
) -> Corpus:
    """Tiny-shakespeare (1,115,394 characters, 65 symbols), next-character prediction."""
    # window: characters per training window (backpropagation through time); stride: between
    # window starts (default `window`). After training, `sample_length` characters are generated
    # from `prime` at `temperature` and logged as the run's artifact `samples/sample.txt`.
    return Corpus(
        text=find_text("tiny_shakespeare", FOLDER, FILE),
        source=f"{FOLDER}/{FILE}",
        window=window,
        stride=stride or window,
        prime=prime,
        sample_length=sample_length,
        temperature=temperature,
    )
