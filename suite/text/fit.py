"""A fitted tokenizer: normalization, a learned kind, reserved ids, padding and truncation.

`fit_tokenizer(spec, train_texts)` learns the vocabulary on the training texts only;
`Fitted.encode(texts)` gives padded int32 ids; `save`/`load_tokenizer` round-trip the folder
(`tokenizer.json` plus the kind's vocabulary or model file) that is logged beside the model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from suite.text.kinds import Kind
from suite.text.spec import TOKENIZERS, TokenizerSpec, own_options

CHUNK = 20_000  # texts per TensorFlow call


def spec_of(doc: dict[str, Any]) -> Any:
    """A validated TokenizerSpec from its JSON form."""
    from pydantic import TypeAdapter

    return TypeAdapter(TokenizerSpec).validate_python(doc)


class Fitted:
    """A tokenizer whose vocabulary was learned; maps texts to ids."""

    def __init__(self, spec: Any, kind: Kind, folder: Path) -> None:
        self.spec, self.kind, self.folder = spec, kind, folder
        self.reserved = spec.reserved.tokens()
        self.start_id = self.reserved.index(spec.reserved.start) if spec.reserved.start else None
        self.end_id = self.reserved.index(spec.reserved.end) if spec.reserved.end else None

    # --- applying ---------------------------------------------------------------------------

    def _prepare(self, texts: Sequence[str]) -> Any:
        import tensorflow as tf
        import tensorflow_text as tf_text

        raw = []
        for i, text in enumerate(texts):
            try:
                raw.append(text.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise ValueError(
                    f"text {i} has characters that are not valid Unicode ({e.reason} at "
                    f"{e.start}: {text[e.start : e.end]!r}); decode the source with a codec"
                ) from None
        t = tf.constant(raw, dtype=tf.string)
        if self.spec.normalization:
            t = tf_text.normalize_utf8(t, self.spec.normalization)
        if self.spec.lower and not self.kind.handles_lower:
            t = tf.strings.lower(t, encoding="utf-8")
        return t

    def ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's ids (int32), without start/end, padding or truncation."""
        out: list[np.ndarray] = []
        for i in range(0, len(texts), CHUNK):
            chunk = texts[i : i + CHUNK]
            if not len(chunk):
                continue
            ragged = self.kind.ids(self._prepare(chunk))
            flat = ragged.flat_values.numpy().astype(np.int32)
            flat[flat >= self.kind.vocab_size] = 1  # a lookup's out-of-vocabulary id: unknown
            splits = ragged.row_splits.numpy()
            out += np.split(flat, splits[1:-1])
        return out

    def _specials(self) -> tuple[list[int], list[int]]:
        head = [self.start_id] if self.start_id is not None else []
        tail = [self.end_id] if self.end_id is not None else []
        return head, tail

    def pad(self, seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(n, max_length) int32 ids with start/end, truncated and padded with 0; which were cut."""
        head, tail = self._specials()
        room = self.spec.max_length - len(head) - len(tail)  # >= 1: the spec checks it
        out = np.zeros((len(seqs), self.spec.max_length), dtype=np.int32)
        cut = np.zeros(len(seqs), dtype=bool)
        for i, s in enumerate(seqs):
            if len(s) > room:
                cut[i] = True
                s = s[:room] if self.spec.truncation == "right" else s[len(s) - room :]
            row = np.concatenate([head, s, tail]).astype(np.int32)
            out[i, : len(row)] = row
        return out, cut

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Padded ids (n, max_length) int32 and a bool per text: was it truncated."""
        return self.pad(self.ids(texts))

    def encode_words(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Each sentence's words tokenized one by one: ids (n, max_length) int32 and a bool
        (n, max_length) marking each word's first sub-token (the one that carries its tag)."""
        words = [w for s in sentences for w in s]
        pieces = self.ids(words)
        head, _ = self._specials()
        seqs, firsts, k = [], [], 0
        for s in sentences:
            parts = pieces[k : k + len(s)]
            k += len(s)
            parts = [p if len(p) else np.array([1], np.int32) for p in parts]  # empty -> unk
            seqs.append(np.concatenate(parts) if parts else np.zeros(0, np.int32))
            firsts.append(
                np.concatenate([np.arange(len(p)) == 0 for p in parts])
                if parts
                else np.zeros(0, bool)
            )
        ids, _ = self.pad(seqs)
        first = np.zeros(ids.shape, dtype=bool)
        for i, f in enumerate(firsts):
            f = f[: self.spec.max_length - len(head)]
            first[i, len(head) : len(head) + len(f)] = f
        return ids, first

    def tokens(self, text: str) -> list[str]:
        """The token strings of one text (for inspection)."""
        vocab = self.kind.vocabulary()
        return [vocab[i] if i < len(vocab) else "?" for i in self.ids([text])[0]]

    @property
    def vocab_size(self) -> int:
        """Ids are 0..vocab_size-1 (reserved tokens included)."""
        return self.kind.vocab_size

    # --- statistics -------------------------------------------------------------------------

    def stats(
        self, train: Sequence[np.ndarray], val: Sequence[np.ndarray], cut: np.ndarray
    ) -> dict[str, float]:
        """Vocabulary size, tokens per train example (mean, p95), unknown rate on val, truncated."""
        lengths = np.array([len(s) for s in train], dtype=np.float64)
        val_tokens = np.concatenate(list(val)) if len(val) else np.zeros(0, np.int32)
        unk = float(np.mean(val_tokens == 1)) if len(val_tokens) else 0.0
        return {
            "tok.vocab_size": float(self.vocab_size),
            "tok.tokens_mean": float(lengths.mean()) if len(lengths) else 0.0,
            "tok.tokens_p95": float(np.percentile(lengths, 95)) if len(lengths) else 0.0,
            "tok.val_unk_rate": unk,
            "tok.truncated": float(cut.mean()) if len(cut) else 0.0,
        }

    # --- files ------------------------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        """Write tokenizer.json and the kind's files into `folder` (created)."""
        import shutil

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if folder.resolve() != self.folder.resolve():
            for f in self.folder.iterdir():
                shutil.copy2(f, folder / f.name)
        doc = {"spec": self.spec.model_dump(mode="json"), "state": self.kind.state()}
        (folder / "tokenizer.json").write_text(json.dumps(doc), encoding="utf-8")
        return folder


def _kind(spec: Any) -> Kind:
    return TOKENIZERS.get(spec.kind)(**own_options(spec))


def fit_tokenizer(spec: Any, train_texts: Sequence[str], folder: Path | None = None) -> Fitted:
    """Learn `spec`'s vocabulary on `train_texts` only; files go to `folder` (else a temp dir)."""
    folder = Path(folder or tempfile.mkdtemp(prefix="suite-tok-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reserved.json").write_text(spec.reserved.model_dump_json(), encoding="utf-8")
    kind = _kind(spec)
    fitted = Fitted(spec, kind, folder)
    kind.learn(fitted._prepare(list(train_texts)), fitted.reserved, folder, spec.lower)
    fitted.save(folder)
    return fitted


def load_tokenizer(folder: str | Path) -> Fitted:
    """The tokenizer saved in `folder` (tokenizer.json and its vocabulary or model file)."""
    folder = Path(folder)
    doc = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    spec = spec_of(doc["spec"])
    kind = _kind(spec)
    kind.restore(doc["state"], folder, spec.reserved.tokens(), spec.lower)
    return Fitted(spec, kind, folder)
