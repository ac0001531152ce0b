"""The input block of the taggers: word embeddings, with a character CNN over each word.

Its input is what the tagging task feeds: (batch, steps, 1 + chars) int ids, column 0 the
token id (0 = padding, masked for every later layer) and the rest the word's characters
(code points, see suite.tasks.tagging). A plain (batch, steps) id input works too (no characters).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from suite.blocks.base import Pos, block

Count = Annotated[int, Field(ge=0)]


@block(
    "word_embedding",
    consumes_sequence=True,
    example=(
        (6, 5),
        [
            {"word_embedding": {"vocab_size": 20, "dim": 4, "char_dim": 3, "char_filters": 4}},
            {"lstm": {"units": 4}},
        ],
    ),
)
def word_embedding(
    dim: Pos = 100,
    char_filters: Count = 30,
    char_dim: Pos = 25,
    char_kernel: Pos = 3,
    vocab_size: Pos | None = None,
) -> Any:
    """Token ids embedded (`dim`), concatenated with a character CNN (`char_filters` 1-D
    filters of width `char_kernel` over `char_dim`-d character embeddings, max-pooled over the
    word; 0 filters: no characters). vocab_size: null = the tokenizer's vocabulary."""

    def apply(x: Any) -> Any:
        from suite.blocks.seq2seq import vocabulary_size
        from suite.blocks.tagging_layers import CHARS, word_chars

        return word_chars(
            x,
            vocab_size=vocabulary_size(vocab_size, "word_embedding"),
            dim=dim,
            char_vocab_size=CHARS,
            char_dim=char_dim,
            char_filters=char_filters,
            char_kernel=char_kernel,
        )

    return apply
