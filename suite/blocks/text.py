"""Blocks for models over token ids."""

from __future__ import annotations

from typing import Any

from suite.blocks.base import Pos, block


@block(
    "embedding",
    consumes_sequence=True,
    example=((7,), [{"embedding": {"dim": 4, "vocab_size": 11}}, "global_avg_pool"]),
)
def embedding(dim: Pos = 128, vocab_size: Pos | None = None, mask_zero: bool = False) -> Any:
    """Token ids -> dense vectors (random initialisation).

    vocab_size: the number of ids (input_dim); null takes the fitted tokenizer's vocabulary
    size at build time. mask_zero: id 0 (padding) is masked for the layers after it that
    support masks (recurrent layers, attention).
    """
    from keras import layers

    from suite.blocks.seq2seq import vocabulary_size

    return layers.Embedding(vocabulary_size(vocab_size, "embedding"), dim, mask_zero=mask_zero)
