"""The `tagging` task: one tag per word (part-of-speech tags, IOB2 named entities).

A dataset with target "tags" gives sentences (tuples of words) and one tag index per word.
`inputs()` tokenizes every word with the candidate's tokenizer (default: a word vocabulary
learned on the training split) and aligns the tags: a word's first sub-token carries its tag,
its other sub-tokens and the padding carry -1 and are left out of the loss and the metrics.
Each position also holds the characters of its word (fixed ids: 2 + code point below 254,
else 1 'unknown') for a character CNN: x is (n, max_length, 1 + max_chars) int32, column 0 the
token id. Token accuracy is a Keras metric; with IOB2 tags, entity precision/recall/F1 (exact
span match, suite.spans) are computed on the validation split at the end of every epoch by a
callback that writes `val_entity_*` into the epoch's logs, and on test for the seed runs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suite.spans import score, split_tag
from suite.tasks.base import TASKS, Task

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

if TYPE_CHECKING:
    from suite.data.base import Dataset
    from suite.text.cache import Prepared

IGNORE = -1
CHARS = 256  # as suite.blocks.tagging_layers.CHARS (which imports keras)
ENTITY = ("entity_f1", "entity_precision", "entity_recall")
DEFAULT_TOKENIZER = {"kind": "whitespace", "max_length": 64}


def is_iob2(classes: Sequence[str]) -> bool:
    """Whether every tag is IOB2 ('O', 'B-X', 'I-X') and some tag is an entity tag."""
    try:
        return any(split_tag(c)[0] != "O" for c in classes)
    except ValueError:
        return False


def align(first: np.ndarray, tags: Sequence[np.ndarray]) -> np.ndarray:
    """(n, length) int64 targets: each word's tag at its first sub-token, -1 elsewhere.

    Words past the last first-sub-token position (truncated) get no target here.
    """
    y = np.full(first.shape, IGNORE, dtype=np.int64)
    for i, t in enumerate(tags):
        pos = np.flatnonzero(first[i])
        y[i, pos] = np.asarray(t, dtype=np.int64)[: len(pos)]
    return y


def char_ids(
    sentences: Sequence[Sequence[str]], first: np.ndarray, ids: np.ndarray, max_chars: int
) -> np.ndarray:
    """(n, length, max_chars) int32: at every non-padding position, the first `max_chars`
    characters of the word it belongs to, as 2 + code point (1 for code points from 254 on,
    0 for padding)."""
    out = np.zeros((*first.shape, max_chars), dtype=np.int32)
    for i, words in enumerate(sentences):
        word_of = np.cumsum(first[i]) - 1
        for j in np.flatnonzero((ids[i] != 0) & (word_of >= 0)):
            w = words[word_of[j]] if word_of[j] < len(words) else ""
            row = [ord(c) + 2 if ord(c) < CHARS - 2 else 1 for c in w[:max_chars]]
            out[i, j, : len(row)] = row
    return out


def predicted_tags(
    probs: np.ndarray, y: np.ndarray, gold: Sequence[np.ndarray], classes: Sequence[str]
) -> list[list[str]]:
    """Each sentence's predicted tag names: the argmax at its labelled positions (y != -1),
    then 'O' for words that truncation left without a position."""
    best = probs.argmax(axis=-1)
    out = []
    for i, g in enumerate(gold):
        tags = [classes[k] for k in best[i][y[i] != IGNORE]]
        out.append(tags + ["O"] * (len(g) - len(tags)))
    return out


def entity_scores(
    model: Any,
    x: Any,
    y: np.ndarray,
    gold: Sequence[np.ndarray],
    classes: Sequence[str],
    batch: int,
) -> dict[str, float]:
    """Exact-match entity precision/recall/F1 of `model` on (x, y) against the full `gold`."""
    probs = np.asarray(model.predict(x, batch_size=batch, verbose=0))
    names = [[classes[k] for k in g] for g in gold]
    return score(names, predicted_tags(probs, y, gold, classes)).metrics()


def entity_callback(
    x: Any, y: np.ndarray, gold: Sequence[np.ndarray], classes: Sequence[str]
) -> Any:
    """A callback that adds val_entity_{f1,precision,recall} to each epoch's logs."""
    import keras

    class EntityScores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None:
                found = entity_scores(self.model, x, y, gold, classes, 256)
                logs.update({f"val_{k}": v for k, v in found.items()})

    return EntityScores()


def encode_split(
    fitted: Any, words: Sequence[Sequence[str]], tags: Sequence[np.ndarray], max_chars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, cut) of one split: x (n, length, 1 + max_chars) int32 ids and characters,
    y (n, length) int64 aligned tags, cut: whether a sentence lost words to truncation."""
    ids, first = fitted.encode_words([list(w) for w in words])
    x = np.concatenate([ids[..., None], char_ids(words, first, ids, max_chars)], axis=-1)
    cut = first.sum(axis=1) < np.array([len(w) for w in words])
    return x, align(first, tags), cut


def encode(data: Dataset, spec: Any, max_chars: int) -> Prepared:
    """`data` (sentences, tags) as ids and aligned tags: the tokenizer `spec` learned on the
    training sentences (words joined by spaces), every split encoded. The arrays and the
    fitted tokenizer are cached on disk by dataset content and settings (suite.text.cache)."""
    from suite.data.base import Split
    from suite.text.cache import COUNTS, Prepared, cache_key, cached, log, remember, remembered
    from suite.text.fit import fit_tokenizer, load_tokenizer

    doc = spec.model_dump(mode="json")
    parts = {
        "task": "tagging",
        "dataset": data.name,
        "fingerprint": data.fingerprint,
        "tokenizer": doc,
        "max_chars": max_chars,
    }
    key = cache_key(parts)
    earlier = remembered(key)
    if earlier is not None:
        COUNTS["memo"] += 1
        return dataclasses.replace(earlier, hit=True, seconds=0.0)

    def build(folder: Path) -> dict[str, np.ndarray]:
        tok = fit_tokenizer(spec, [" ".join(w) for w in data.train.x], folder / "tokenizer")
        out: dict[str, np.ndarray] = {}
        for name in ("train", "val", "test"):
            split = getattr(data, name)
            out[name], out[f"{name}_y"], out[f"{name}_cut"] = encode_split(
                tok, split.x, split.y, max_chars
            )
        seqs = {k: [r[r != 0] for r in out[k][..., 0]] for k in ("train", "val")}
        stats = tok.stats(seqs["train"], seqs["val"], out["train_cut"])
        (folder / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
        return out

    arrays, folder, hit, seconds = cached(parts, build)
    tok = load_tokenizer(folder / "tokenizer")
    stats = {**json.loads((folder / "stats.json").read_text(encoding="utf-8"))}
    stats["tok.tokenize_s"] = seconds
    what = "cache hit: no tokenization" if hit else "cache miss: fitted and tokenized"
    log.info("tokenizer %s on %s: %s (%.2f s, key %s)", spec.kind, data.name, what, seconds, key)
    splits = {k: Split(arrays[k], arrays[f"{k}_y"]) for k in ("train", "val", "test")}
    gold = {k: list(getattr(data, k).y) for k in ("train", "val", "test")}
    meta = {**data.meta, "gold": gold, "tokenizer": doc, "tokenizer_key": key}
    encoded = dataclasses.replace(data, **splits, modality="sequence", meta=meta)
    prep = Prepared(encoded, tok, stats, hit, seconds, key)
    remember(key, prep)
    return prep


@dataclass(frozen=True)
class Tagging(Task):
    """A tag per word: softmax per position, cross-entropy and metrics over words only."""

    max_chars: int = 16  # characters kept per word for the character CNN
    classes: tuple[str, ...] = ()  # set by bind()

    def bind(self, data: Dataset) -> Task:
        bound = super().bind(data)
        return dataclasses.replace(bound, classes=tuple(data.classes))  # type: ignore[arg-type]

    @property
    def iob2(self) -> bool:
        return is_iob2(self.classes)

    @property
    def metrics(self) -> list[Any]:
        from suite.blocks.tagging_layers import TokenAccuracy

        return [TokenAccuracy()]

    def keras_loss(self) -> Any:
        from suite.blocks.tagging_layers import masked_loss

        return masked_loss()

    def head(self, x: Any, num_outputs: int) -> Any:
        from keras import layers

        if len(x.shape) != 3:
            raise ValueError(
                f"task {self.name!r} needs one feature vector per position (batch, steps, "
                f"features), but the last layer outputs shape {tuple(x.shape)}; keep the "
                "sequence: recurrent layers with return_sequences, no pooling or flatten"
            )
        return layers.Dense(num_outputs, activation="softmax", name="head", dtype="float32")(x)

    def callbacks(self, data: Dataset) -> list[Any]:
        if not self.iob2:
            return []
        gold = data.meta["gold"]["val"]  # type: ignore[index]
        return [entity_callback(data.val.x, data.val.y, gold, self.classes)]

    def extra_test_metrics(self, model: Any, data: Dataset, batch_size: int) -> dict[str, float]:
        """Entity scores on the test split (IOB2 tags), for the seed runs."""
        if not self.iob2:
            return {}
        gold = data.meta["gold"]["test"]  # type: ignore[index]
        return entity_scores(model, data.test.x, data.test.y, gold, self.classes, batch_size)

    def inputs(self, data: Dataset, tokenizer: Any) -> Prepared:
        """Ids, characters and aligned tags of `data` (target "tags") for `tokenizer`
        (None: a whitespace word vocabulary learned on train, 64 tokens)."""
        from suite.text.fit import spec_of

        if data.target != "tags":
            raise ValueError(
                f"task {self.name!r} needs sentences with a tag per word; dataset "
                f"{data.name!r} provides target {data.target!r}"
            )
        return encode(data, tokenizer or spec_of(DEFAULT_TOKENIZER), self.max_chars)

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        steps = input_shape[0]
        return (np.arange(n * steps, dtype=np.int64) % num_outputs).reshape(n, steps)


TAGGING = Tagging(
    name="tagging",
    description="a tag per word (POS, IOB2 entities): softmax per position, padding and "
    "non-first sub-tokens masked; token accuracy, and exact-span entity precision/recall/F1 "
    "for IOB2 tags",
    loss="masked_sparse_categorical_crossentropy",
    metric_names=("token_accuracy", *ENTITY),
    default_metric="val_token_accuracy",
    lower_is_better=frozenset(),
    target="tags",
    split="random",
    outputs="classes",
)
TASKS.register(TAGGING.name)(TAGGING)
