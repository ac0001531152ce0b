"""Sequence-labelling corpora: CoNLL-U (UD English-ATIS, POS) and IOB2 (UNER English-EWT, NER).

The readers return sentences as words and one tag per word, with the line each sentence starts
on; a malformed line is refused with its file and line number. The files are found in the
`SUITE_DATA_DIR` folders (see `datasets/ud_english_atis.md` and `datasets/uner_english_ewt.md`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from suite.data.base import DATASETS, DataError, Raw
from suite.data.files import DATA_DIR_HINT, listing
from suite.settings import data_dirs
from suite.spans import split_tag

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words, one tag per word, and where it starts (file:line)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]
    where: str
    doc: str = ""  # the `# newdoc id` in force ("" when the file names none)


def find_corpus(dataset: str, folder: str, files: dict[str, str]) -> dict[str, Path]:
    """{split: path} of `files` ({split: name}) in the first data dir folder that holds all."""
    looked: list[Path] = []
    for d in data_dirs():
        for base in (d / folder, d):
            looked.append(base)
            paths = {split: base / name for split, name in files.items()}
            if all(p.is_file() for p in paths.values()):
                return paths
    names = ", ".join(files.values())
    raise DataError(
        f"{dataset}: the files {names} were not found. Looked in:\n{listing(looked)}\n"
        f"Put them in a folder {folder}/ and {DATA_DIR_HINT}."
    )


def _blocks(path: Path) -> Iterator[tuple[int, list[tuple[int, list[str]]], str]]:
    """(first line, [(line, tab-separated fields)], document id) per sentence; comments other
    than `# newdoc id = ...` are skipped."""
    rows: list[tuple[int, list[str]]] = []
    start = 0
    doc = ""
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    if rows:
                        yield start, rows, doc
                    rows = []
                    continue
                if line.startswith("#"):
                    key, _, value = line[1:].partition("=")
                    if key.strip() == "newdoc id":
                        doc = value.strip()
                    continue
                if not rows:
                    start = n
                rows.append((n, line.split("\t")))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if rows:
        yield start, rows, doc


def read_conllu(path: Path, column: int = 4) -> list[Sentence]:
    """Sentences of a CoNLL-U file: FORM (column 2) and the 1-based `column` (4 = UPOS).

    Multiword-token lines (ID `1-2`) and empty nodes (ID `1.1`) are skipped.
    """
    out = []
    for start, rows, doc in _blocks(path):
        words: list[str] = []
        tags: list[str] = []
        for n, fields in rows:
            if len(fields) != 10:
                raise DataError(
                    f"{path}:{n}: expected 10 tab-separated CoNLL-U columns, found {len(fields)}"
                )
            ident = fields[0]
            if "-" in ident or "." in ident:
                continue
            if not ident.isdigit() or int(ident) != len(words) + 1:
                raise DataError(
                    f"{path}:{n}: expected word ID {len(words) + 1} (or a range 1-2 or an empty "
                    f"node 1.1), found {ident!r}"
                )
            tag = fields[column - 1]
            if not fields[1] or tag in ("", "_"):
                raise DataError(f"{path}:{n}: empty FORM or tag (column {column})")
            words.append(fields[1])
            tags.append(tag)
        if words:
            out.append(Sentence(tuple(words), tuple(tags), f"{path}:{start}", doc))
    return out


def read_iob2(path: Path) -> list[Sentence]:
    """Sentences of a tab-separated IOB2 file: token in column 2, tag in column 3."""
    out = []
    for start, rows, doc in _blocks(path):
        words: list[str] = []
        tags: list[str] = []
        for n, fields in rows:
            if len(fields) < 3 or not fields[1]:
                raise DataError(
                    f"{path}:{n}: expected at least 3 tab-separated columns (index, token, "
                    f"IOB2 tag), found {len(fields)}: {chr(9).join(fields)[:80]!r}"
                )
            try:
                split_tag(fields[2])
            except ValueError as e:
                raise DataError(f"{path}:{n}: {e}") from None
            words.append(fields[1])
            tags.append(fields[2])
        out.append(Sentence(tuple(words), tuple(tags), f"{path}:{start}", doc))
    return out


Unseen = Literal["error", "keep", "drop"]
UNSEEN_HELP = (
    "set data.unseen_tags: keep (they stay, and count as errors: the model never learns them) "
    "or drop (those sentences are left out)"
)


def _encode(
    dataset: str, parts: dict[str, list[Sentence]], fit_on: str, unseen: Unseen
) -> tuple[tuple[str, ...], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Tag names and {part: (words, tag indices)} object arrays.

    The tags are those of `fit_on`, sorted. A tag of another part that `fit_on` never has is
    refused naming the sentence's file:line (`unseen="error"`), appended to the tags
    ("keep") or its sentence left out ("drop").
    """
    known = sorted({t for s in parts[fit_on] for t in s.tags})
    extra: list[str] = []
    kept: dict[str, list[Sentence]] = {}
    for part, sents in parts.items():
        kept[part] = []
        for s in sents:
            new = [t for t in s.tags if t not in known]
            if new and unseen == "error":
                raise DataError(
                    f"{dataset}: {part} sentence at {s.where} has the tag {new[0]!r}, which "
                    f"the {fit_on} part never has (its tags: {', '.join(known)}); {UNSEEN_HELP}."
                )
            if not new or unseen == "keep":
                kept[part].append(s)
                extra += [t for t in new if t not in extra]
    classes = (*known, *extra)
    index = {t: i for i, t in enumerate(classes)}
    out = {}
    for part, sents in kept.items():
        words = np.empty(len(sents), dtype=object)
        tags = np.empty(len(sents), dtype=object)
        for i, s in enumerate(sents):
            words[i] = s.words
            tags[i] = np.array([index[t] for t in s.tags], dtype=np.int64)
        out[part] = (words, tags)
    return classes, out


ATIS = "ud_english_atis"
UNER = "uner_english_ewt"


@DATASETS.register(ATIS)
def ud_english_atis(unseen_tags: Unseen = "error") -> Raw:
    """UD English-ATIS (CoNLL-U): part-of-speech tagging (UPOS), native train/dev/test splits."""
    # 4,274 / 572 / 586 sentences of flight queries; the dev file is the validation split. Its
    # dev file has two SYM tokens that train never has: `unseen_tags: keep` scores them (as errors).
    files = {p: f"en_atis-ud-{p}.conllu" for p in ("train", "dev", "test")}
    paths = find_corpus(ATIS, ATIS, files)
    parts = {p: read_conllu(path) for p, path in paths.items()}
    classes, enc = _encode(ATIS, parts, "train", unseen_tags)
    (xt, yt), (xv, yv), (xs, ys) = enc["train"], enc["dev"], enc["test"]
    return Raw(
        xt, yt, classes, "text", str(paths["train"].parent), xs, ys, "tags", x_val=xv, y_val=yv
    )


def hold_out_documents(
    sents: list[Sentence], fraction: float, seed: int = 0
) -> tuple[list[Sentence], list[Sentence]]:
    """(kept, held out): `fraction` of the documents (at least one), drawn with `seed`, held out
    whole, so no document has sentences on both sides; by sentence if fewer than 2 documents."""
    docs = list(dict.fromkeys(s.doc for s in sents))
    group = [s.doc for s in sents] if len(docs) > 1 else list(range(len(sents)))
    keys = list(dict.fromkeys(group))
    rng = np.random.default_rng(seed)
    n = min(max(round(len(keys) * fraction), 1), len(keys) - 1)
    held = {keys[i] for i in rng.permutation(len(keys))[:n]}
    return (
        [s for s, g in zip(sents, group, strict=True) if g not in held],
        [s for s, g in zip(sents, group, strict=True) if g in held],
    )


@DATASETS.register(UNER)
def uner_english_ewt(
    unseen_tags: Unseen = "error", val_documents: Annotated[float, Field(gt=0, lt=1)] = 0.2
) -> Raw:
    """Universal NER English-EWT (IOB2): named entities PER / ORG / LOC, exact-span F1."""
    # Only dev (2,001 sentences in 318 documents) and test (2,077) ship: the suite trains on dev
    # less `val_documents` of its documents (drawn with seed 0), validates on those whole
    # documents, and tests on test. (data.val_fraction does not apply.)
    files = {p: f"en_ewt-ud-{p}.iob2" for p in ("dev", "test")}
    paths = find_corpus(UNER, UNER, files)
    train, val = hold_out_documents(read_iob2(paths["dev"]), val_documents)
    parts = {"dev": train, "held-out dev": val, "test": read_iob2(paths["test"])}
    classes, enc = _encode(UNER, parts, "dev", unseen_tags)
    (xt, yt), (xv, yv), (xs, ys) = enc["dev"], enc["held-out dev"], enc["test"]
    return Raw(
        xt, yt, classes, "text", str(paths["dev"].parent), xs, ys, "tags", x_val=xv, y_val=yv
    )
