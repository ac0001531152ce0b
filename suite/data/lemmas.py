"""Character-level lemmatization pairs (word form -> lemma) from Universal Dependencies.

CoNLL-U FORM (column 2) and LEMMA (column 3) of every word (multiword-token lines, empty
nodes and words without a lemma skipped); the pairs are deduplicated within each split, in
first-seen order. Splits:

- `ud_english_ewt` (default): only dev and test ship, so the suite trains on the dev pairs,
  holds out `val_fraction` of them at random (seeded by `split_seed`) for validation, and
  tests on the test pairs; 62 % of the test forms never occur in training;
- `ud_english_atis`: the native train / dev / test (879 / 459 / 484 pairs; few unseen forms).

Pairs whose form or lemma is longer than `max_length` characters (URLs, runs of symbols) are
left out and counted. The vocabulary is the characters of the training pairs (forms and
lemmas), after the reserved padding, unknown, start and end tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from suite.data.base import DATASETS, DataError, Dataset, Split, fingerprint, random_split
from suite.data.conll import find_corpus

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Pair = tuple[str, str]
Treebank = Literal["ud_english_ewt", "ud_english_atis"]
FILES = {
    "ud_english_ewt": ("en_ewt-ud", ("dev", "test")),
    "ud_english_atis": ("en_atis-ud", ("train", "dev", "test")),
}


def read_pairs(path: Path) -> tuple[list[Pair], int]:
    """Unique (form, lemma) pairs of a CoNLL-U file in first-seen order, and the number of
    words without a lemma ("_", e.g. `goeswith` parts of a split word), which are skipped."""
    seen: dict[Pair, None] = {}
    missing = 0
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) != 10:
                    raise DataError(
                        f"{path}:{n}: expected 10 tab-separated CoNLL-U columns, "
                        f"found {len(fields)}"
                    )
                if "-" in fields[0] or "." in fields[0]:
                    continue
                form, lemma = fields[1], fields[2]
                if not form or lemma in ("", "_"):
                    missing += 1
                    continue
                seen.setdefault((form, lemma), None)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return list(seen), missing


@dataclass(frozen=True)
class Pairs:
    """What a pair loader returns: (source, target) text pairs per split (val may be None)."""

    train: list[Pair]
    test: list[Pair]
    val: list[Pair] | None
    source: str
    max_length: int
    dropped: dict[str, int]
    target: str = "text"

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
        """Encoded splits: x (n, 2, steps) [source; decoder input], y (n, steps)."""
        from suite.data.pairs import char_vocabulary, encode_pairs

        train, val, split = self.train, self.val, "native"
        if val is None:
            keep, held = random_split(len(train), val_fraction, seed + 1)
            train, val, split = [train[i] for i in keep], [train[i] for i in held], "held_out"
        parts = {"train": train, "val": val, "test": self.test}
        if max_examples is not None:
            small = max(max_examples // 2, 1)
            for k, (part, n) in enumerate(
                (("train", max_examples), ("val", small), ("test", small))
            ):
                rows = np.random.default_rng(seed + 2 + k).permutation(len(parts[part]))[:n]
                parts[part] = [parts[part][i] for i in sorted(rows)]
        for part, pairs in parts.items():
            if not pairs:
                raise DataError(
                    f"{name}: the {part} split has no pairs of at most {self.max_length} characters"
                )
        vocab = char_vocabulary([a + b for a, b in parts["train"]])
        steps = self.max_length + 1
        splits, unseen = {}, {}
        forms = {a for a, _ in parts["train"]}
        for part, pairs in parts.items():
            x, y = encode_pairs([a for a, _ in pairs], [b for _, b in pairs], vocab, steps)
            x.flags.writeable = False
            y.flags.writeable = False
            splits[part] = Split(x, y)
            unseen[part] = np.array([a not in forms for a, _ in pairs], dtype=bool)
        train_s, val_s, test_s = splits["train"], splits["val"], splits["test"]
        return Dataset(
            name=name,
            train=train_s,
            val=val_s,
            test=test_s,
            classes=vocab,
            modality="text",
            source=self.source,
            fingerprint=fingerprint(train_s.x, train_s.y, val_s.x, val_s.y, test_s.x, test_s.y),
            target="text",
            meta={
                "params": params,
                "sizes": {k: len(v) for k, v in splits.items()},
                "dropped_longer_than_max_length": self.dropped,
                "vocabulary_size": len(vocab),
                "steps": steps,
                "unseen_val": unseen["val"],
                "unseen_test": unseen["test"],
                "unseen_sources": {k: int(v.sum()) for k, v in unseen.items()},
                "val_split": split,
                "test_split": "native",
                "val_fraction": val_fraction,
                "max_examples": max_examples,
                "seed": seed,
            },
        )


@DATASETS.register("ud_lemmas")
def ud_lemmas(
    treebank: Treebank = "ud_english_ewt",
    max_length: Annotated[int, Field(ge=2, le=200)] = 24,
) -> Pairs:
    """Word form -> lemma pairs of a UD treebank, for character-level seq2seq."""
    # ud_english_ewt (default): train on the dev pairs (val_fraction of them held out), test on
    # test; ud_english_atis: native train/dev/test. Pairs longer than max_length are dropped.
    stem, parts = FILES[treebank]
    paths = find_corpus("ud_lemmas", treebank, {p: f"{stem}-{p}.conllu" for p in parts})
    read = {p: read_pairs(path) for p, path in paths.items()}
    kept, dropped = {}, {}
    for p, (pairs, _) in read.items():
        kept[p] = [(a, b) for a, b in pairs if max(len(a), len(b)) <= max_length]
        dropped[p] = len(pairs) - len(kept[p])
    native_val = treebank == "ud_english_atis"
    return Pairs(
        train=kept["train" if native_val else "dev"],
        val=kept["dev"] if native_val else None,
        test=kept["test"],
        source=str(paths["test"].parent),
        max_length=max_length,
        dropped=dropped,
    )
