"""Character pairs as ids: a vocabulary of characters behind four reserved tokens, and
(source, target) strings encoded for a sequence-to-sequence model.

Ids: 0 padding, 1 unknown, 2 start, 3 end, then the vocabulary. An example's input stacks the
source and the decoder input, (2, steps); its target is the output followed by the end token,
and the decoder input is that target shifted right behind the start token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

PAD, UNK, START, END = 0, 1, 2, 3
RESERVED = ("<pad>", "<unk>", "<s>", "</s>")


def char_vocabulary(texts: Sequence[str]) -> tuple[str, ...]:
    """The reserved tokens, then every character of `texts`, sorted."""
    return (*RESERVED, *sorted({c for t in texts for c in t}))


def encode_chars(text: str, index: dict[str, int]) -> list[int]:
    """The ids of `text`'s characters (unknown ones as UNK)."""
    return [index.get(c, UNK) for c in text]


def shift_right(target: np.ndarray) -> np.ndarray:
    """Decoder inputs for targets (n, steps): the start token, then the target minus its last
    step; padding stays padding."""
    dec = np.zeros_like(target)
    dec[:, 0] = START
    dec[:, 1:] = target[:, :-1]
    dec[target == PAD] = PAD
    return dec


def encode_pairs(
    sources: Sequence[str], targets: Sequence[str], vocab: tuple[str, ...], steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 2, steps) int32 [source; decoder input] and y (n, steps) int64 [target; end]."""
    index = {c: i for i, c in enumerate(vocab)}
    n = len(sources)
    src = np.zeros((n, steps), np.int32)
    y = np.zeros((n, steps), np.int64)
    for i, (s, t) in enumerate(zip(sources, targets, strict=True)):
        a, b = encode_chars(s, index), [*encode_chars(t, index), END]
        if len(a) > steps or len(b) > steps:
            raise ValueError(
                f"pair {i} ({s!r} -> {t!r}) is longer than {steps} steps (with the end token)"
            )
        src[i, : len(a)] = a
        y[i, : len(b)] = b
    x = np.stack([src, shift_right(y).astype(np.int32)], axis=1)
    return x, y
