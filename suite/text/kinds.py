"""The tokenizer kinds: learn a vocabulary on training texts, then map texts to ragged ids.

Each kind works on a 1-D tf.string tensor of already normalized texts and returns a 2-D
tf.RaggedTensor of int64 ids (reserved ids first: pad 0, unk 1, ...). Vocabulary files are
written into, and read back from, the fitted tokenizer's folder.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

State = dict[str, Any]  # what a kind stores in tokenizer.json


class VocabError(ValueError):
    """A vocabulary that cannot be learned as asked (e.g. fewer tokens than vocab_size)."""


def _tf() -> tuple[Any, Any]:
    import tensorflow as tf
    import tensorflow_text as tf_text

    return tf, tf_text


def _count(flat: np.ndarray) -> list[tuple[Any, int]]:
    """(token, count) by decreasing count, then token."""
    uniq, counts = np.unique(flat, return_counts=True)
    order = np.lexsort((uniq, -counts))
    return [(getattr(uniq[i], "item", lambda u=uniq[i]: u)(), int(counts[i])) for i in order]


def _too_small(have: int, want: int, what: str, reserved: int, setting: str) -> VocabError:
    return VocabError(
        f"vocab_size={want} cannot be reached: the training split has only {have} distinct "
        f"{what} with {setting} (plus {reserved} reserved tokens = {have + reserved}); "
        f"lower vocab_size to at most {have + reserved} or leave it unset (all of them)"
    )


class Kind:
    """One tokenizer kind (see the registered functions in suite.text.spec)."""

    name = ""
    handles_lower = False  # True when the kind lower-cases itself (BERT's basic tokenizer)
    unknowable = False  # True when no token can be unknown (bytes)

    def learn(self, texts: Any, reserved: list[str], folder: Path, lower: bool) -> None:
        raise NotImplementedError

    def restore(
        self, state: dict[str, Any], folder: Path, reserved: list[str], lower: bool
    ) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {}

    def ids(self, texts: Any) -> Any:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def vocabulary(self) -> list[str]:
        """Token strings in id order (for inspection; sentencepiece pieces)."""
        raise NotImplementedError


class Counted(Kind):
    """Characters or words counted on train; the most frequent form the vocabulary."""

    def __init__(self, split: str, vocab_size: int | None, min_frequency: int) -> None:
        self.name, self.size, self.min_frequency = split, vocab_size, min_frequency
        self.reserved: list[str] = []
        self.tokens: list[Any] = []

    def _split(self, texts: Any) -> Any:
        _, tf_text = _tf()
        if self.name == "char":
            return tf_text.UnicodeCharTokenizer().tokenize(texts)
        if self.name == "whitespace":
            return tf_text.WhitespaceTokenizer().tokenize(texts)
        return tf_text.UnicodeScriptTokenizer().tokenize(texts)

    def learn(self, texts: Any, reserved: list[str], folder: Path, lower: bool) -> None:
        self.reserved = reserved
        flat = self._split(texts).flat_values.numpy()
        counted = [(t, c) for t, c in _count(flat) if c >= self.min_frequency]
        what = "characters" if self.name == "char" else "words"
        if self.size is not None:
            want = self.size - len(reserved)  # >= 1: the spec checks it
            if len(counted) < want:
                setting = f"min_frequency={self.min_frequency}"
                raise _too_small(len(counted), self.size, what, len(reserved), setting)
            counted = counted[:want]
        self.tokens = [t for t, _ in counted]  # code points, or words as UTF-8 bytes

    def state(self) -> dict[str, Any]:
        # bytes as latin-1 text: one character per byte, so any byte string round-trips
        return {"tokens": [t if isinstance(t, int) else t.decode("latin-1") for t in self.tokens]}

    def restore(
        self, state: dict[str, Any], folder: Path, reserved: list[str], lower: bool
    ) -> None:
        self.reserved = reserved
        self.tokens = [t if isinstance(t, int) else t.encode("latin-1") for t in state["tokens"]]

    def _lookup(self) -> Any:
        # built per call: TensorFlow resources do not outlive keras.backend.clear_session()
        tf, _ = _tf()
        start = len(self.reserved)
        values = tf.range(start, start + len(self.tokens), dtype=tf.int64)
        if self.name == "char":
            keys = tf.constant(self.tokens or [-1], dtype=tf.int64)
        else:
            keys = tf.constant(self.tokens or ["\x00"], dtype=tf.string)
        if not self.tokens:
            values = tf.constant([1], dtype=tf.int64)
        init = tf.lookup.KeyValueTensorInitializer(keys, values)
        return tf.lookup.StaticHashTable(init, default_value=1)

    def ids(self, texts: Any) -> Any:
        tf, _ = _tf()
        parts = self._split(texts)
        flat = parts.flat_values
        if self.name == "char":
            flat = tf.cast(flat, tf.int64)
        return parts.with_flat_values(self._lookup().lookup(flat))

    @property
    def vocab_size(self) -> int:
        return len(self.reserved) + len(self.tokens)

    def vocabulary(self) -> list[str]:
        toks = [chr(t) if isinstance(t, int) else t.decode("utf-8", "replace") for t in self.tokens]
        return [*self.reserved, *toks]


class Bytes(Kind):
    """UTF-8 bytes after the reserved tokens."""

    name = "byte"
    unknowable = True

    def __init__(self) -> None:
        self.reserved: list[str] = []

    def learn(self, texts: Any, reserved: list[str], folder: Path, lower: bool) -> None:
        self.reserved = reserved

    def restore(
        self, state: dict[str, Any], folder: Path, reserved: list[str], lower: bool
    ) -> None:
        self.reserved = reserved

    def ids(self, texts: Any) -> Any:
        tf, _ = _tf()
        # built per call (see Counted._lookup)
        keys = tf.constant([bytes([i]) for i in range(256)], dtype=tf.string)
        start = len(self.reserved)
        init = tf.lookup.KeyValueTensorInitializer(
            keys, tf.range(start, start + 256, dtype=tf.int64)
        )
        table = tf.lookup.StaticHashTable(init, default_value=1)
        parts = tf.strings.bytes_split(texts)
        return parts.with_flat_values(table.lookup(parts.flat_values))

    @property
    def vocab_size(self) -> int:
        return len(self.reserved) + 256

    def vocabulary(self) -> list[str]:
        return [*self.reserved, *(f"<0x{i:02X}>" for i in range(256))]


def wordpiece_vocab(counts: list[tuple[str, int]], size: int, min_frequency: int) -> list[str]:
    """Up to `size` WordPiece tokens from (word, count): every character (as a word start and
    as a `##` continuation), the most frequent whole words seen twice or more (up to
    WORD_SHARE of the size), then the most frequent substrings of the words (a continuation
    is written `##piece`), each counted once per occurrence of its word."""
    chars: dict[str, int] = {}
    scores: dict[str, int] = {}
    for word, c in counts:
        for i, ch in enumerate(word):
            key = ch if i == 0 else "##" + ch
            chars[key] = chars.get(key, 0) + c
        if c < min_frequency:
            continue
        n = len(word)
        for i in range(n):
            for j in range(i + 2, min(n, i + MAX_PIECE) + 1):
                key = word[i:j] if i == 0 else "##" + word[i:j]
                scores[key] = scores.get(key, 0) + c
    by_count = sorted(chars.items(), key=lambda t: (-t[1], t[0]))
    vocab = [k for k, _ in by_count][:size]
    have = set(vocab)
    words = [w for w, c in counts if c >= max(min_frequency, 2) and len(w) > 1]
    room = max(0, min(int(WORD_SHARE * size), size - len(vocab)))
    vocab += [w for w in words if w not in have][:room]
    have = set(vocab)
    scores = {k: c for k, c in scores.items() if k not in have}
    ranked = sorted(scores.items(), key=lambda t: (-t[1], t[0]))
    vocab += [k for k, _ in ranked[: size - len(vocab)] if _ >= min_frequency]
    return vocab


WORD_SHARE = 0.6  # at most this part of the vocabulary is whole words
MAX_PIECE = 16  # longest substring considered as a piece


class WordPiece(Kind):
    """WordPiece: a vocabulary of characters and frequent substrings of the training split's
    words, applied with tensorflow-text's greedy longest-match WordpieceTokenizer."""

    name = "wordpiece"

    def __init__(self, vocab_size: int, min_frequency: int, split: str = "unicode_script") -> None:
        self.size, self.min_frequency, self.split = vocab_size, min_frequency, split
        self.vocab: list[str] = []
        self.reserved: list[str] = []

    def _words(self, texts: Any, lower: bool) -> Any:
        _, tf_text = _tf()
        if self.split == "whitespace":
            return tf_text.WhitespaceTokenizer().tokenize(texts)
        return tf_text.UnicodeScriptTokenizer().tokenize(texts)

    def learn(self, texts: Any, reserved: list[str], folder: Path, lower: bool) -> None:
        self.reserved = reserved
        words = self._words(texts, lower).flat_values.numpy()
        counts = [(w.decode("utf-8", "replace"), c) for w, c in _count(words)]
        want = self.size - len(reserved)  # >= 1: the spec checks it
        pieces = wordpiece_vocab(counts, want, self.min_frequency)
        if len(pieces) < want:
            raise VocabError(
                f"vocab_size={self.size} cannot be reached: the training split's "
                f"{len(counts)} distinct words give only {len(pieces)} subwords with "
                f"min_frequency={self.min_frequency} (plus {len(reserved)} reserved); lower "
                f"vocab_size to at most {len(pieces) + len(reserved)} or min_frequency"
            )
        self.vocab = [*reserved, *pieces]
        (folder / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")

    def restore(
        self, state: dict[str, Any], folder: Path, reserved: list[str], lower: bool
    ) -> None:
        self.reserved = reserved
        self.vocab = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]

    def _table(self) -> Any:
        tf, _ = _tf()
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.vocab), tf.range(len(self.vocab), dtype=tf.int64)
        )
        return tf.lookup.StaticVocabularyTable(init, num_oov_buckets=1)

    def ids(self, texts: Any) -> Any:
        _, tf_text = _tf()
        # built per call (see Counted._lookup)
        tok = tf_text.WordpieceTokenizer(
            self._table(), token_out_type="int64", unknown_token=self.reserved[1]
        )
        return tok.tokenize(self._words(texts, False)).merge_dims(1, 2)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)  # the lookup's out-of-vocabulary id is mapped to unk in Fitted

    def vocabulary(self) -> list[str]:
        return list(self.vocab)


class Bert(WordPiece):
    """BERT's basic tokenizer (lower-casing strips accents, punctuation split) + WordPiece."""

    name = "bert"
    handles_lower = True

    def __init__(self, vocab_size: int, min_frequency: int) -> None:
        super().__init__(vocab_size, min_frequency)
        self.lower = True

    def _words(self, texts: Any, lower: bool) -> Any:
        from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer

        return BasicTokenizer(lower_case=self.lower).tokenize(texts)

    def learn(self, texts: Any, reserved: list[str], folder: Path, lower: bool) -> None:
        self.lower = lower
        super().learn(texts, reserved, folder, lower)

    def restore(
        self, state: dict[str, Any], folder: Path, reserved: list[str], lower: bool
    ) -> None:
        self.lower = lower
        super().restore(state, folder, reserved, lower)

    def ids(self, texts: Any) -> Any:
        _, tf_text = _tf()
        # built per call (see Counted._lookup)
        tok = tf_text.BertTokenizer(
            self._table(),
            token_out_type="int64",
            unknown_token=self.reserved[1],
            lower_case=self.lower,
        )
        return tok.tokenize(texts).merge_dims(1, 2)


class SentencePiece(Kind):
    """A SentencePiece model trained on train, applied with tensorflow-text."""

    def __init__(self, model_type: str, vocab_size: int, character_coverage: float) -> None:
        self.name = f"sentencepiece_{model_type}"
        self.model_type, self.size, self.coverage = model_type, vocab_size, character_coverage
        self.model = b""

    def learn(self, texts: Any, reserved: list[str], folder: Path, lower: bool) -> None:
        import sentencepiece as spm

        self.reserved = reserved
        # the validated `reserved:` spec, as the fitting step wrote it (suite.text.fit)
        r = SimpleNamespace(**json.loads((folder / "reserved.json").read_text()))
        ids = {t: i for i, t in enumerate(reserved)}
        sentences = [t.decode("utf-8") for t in texts.numpy() if t]
        buf = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=buf,
                vocab_size=self.size,
                model_type=self.model_type,
                character_coverage=self.coverage,
                pad_id=0,
                unk_id=1,
                bos_id=ids[r.start] if r.start else -1,
                eos_id=ids[r.end] if r.end else -1,
                pad_piece=r.pad,
                unk_piece=r.unk,
                bos_piece=r.start or "<s>",
                eos_piece=r.end or "</s>",
                user_defined_symbols=[r.mask] if r.mask else [],
                normalization_rule_name="identity",
                hard_vocab_limit=True,
                num_threads=2,
                minloglevel=2,
            )
        except RuntimeError as e:
            found = re.search(r"<= (\d+)", str(e))
            if "Vocabulary size" in str(e) or found:
                most = found.group(1) if found else "a smaller value"
                raise VocabError(
                    f"vocab_size={self.size} cannot be reached: sentencepiece "
                    f"({self.model_type}) finds at most {most} pieces in the training split; "
                    f"lower vocab_size to at most {most}"
                ) from None
            raise VocabError(f"sentencepiece could not train: {e}") from None
        self.model = buf.getvalue()
        (folder / "sp.model").write_bytes(self.model)

    def restore(
        self, state: dict[str, Any], folder: Path, reserved: list[str], lower: bool
    ) -> None:
        self.reserved = reserved
        self.model = (folder / "sp.model").read_bytes()

    def ids(self, texts: Any) -> Any:
        _, tf_text = _tf()  # built per call (see Counted._lookup)
        return tf_text.SentencepieceTokenizer(model=self.model, out_type="int32").tokenize(texts)

    @property
    def vocab_size(self) -> int:
        import sentencepiece as spm

        return int(spm.SentencePieceProcessor(model_proto=self.model).get_piece_size())

    def vocabulary(self) -> list[str]:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_proto=self.model)
        return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
