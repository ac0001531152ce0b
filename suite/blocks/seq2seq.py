"""The teacher-forced encoder-decoder over token ids (sequence-to-sequence tasks).

Its input stacks two id sequences of one length, (batch, 2, steps): row 0 the source, row 1
the decoder input (the target shifted right behind a start token); 0 is padding in both. One
model serves training (teacher forcing: the decoder reads the true previous token) and
greedy decoding (suite.tasks.seq2seq feeds the tokens it predicted so far, one step at a time):
the decoder is causal, so step t depends only on decoder inputs 0..t.
"""

from __future__ import annotations

from typing import Any, Literal

from suite.blocks.base import Pos, Rate, block
from suite.blocks.recurrent import Cell, rnn_layer

PAIR = (2, 6)


def vocabulary_size(given: int | None, block_name: str) -> int:
    """`given`: the spec's vocab_size, or the data's that suite.build passes in for a null."""
    if given is None:
        raise ValueError(
            f"{block_name}: vocab_size is not set and no vocabulary is known at build time; "
            "set vocab_size, or build the model for a dataset or tokenizer that has one"
        )
    return int(given)


@block(
    "seq2seq",
    example=(
        PAIR,
        [
            {"seq2seq": {"vocab_size": 7, "embed_dim": 4, "units": 4, "attention": "general"}},
            "flatten",
        ],
    ),
)
def seq2seq(
    vocab_size: Pos | None = None,
    embed_dim: Pos = 32,
    cell: Cell = "gru",
    units: Pos = 64,
    attention: Literal["none", "dot", "general", "additive"] = "none",
    attention_units: Pos | None = None,
    dropout: Rate = 0.0,
) -> Any:
    """Encoder RNN, then a decoder RNN from its final state reading the decoder input.

    Source and target share one embedding (`vocab_size` ids, default: the data's vocabulary).
    Out: one state per decoder step (steps, units). With attention, each decoder state
    attends over the encoder states (padding masked) and is combined with its context as
    tanh(W [context; state]) (Luong et al. 2015; 'additive' uses Bahdanau's score).
    """

    def apply(x: Any) -> Any:
        if len(x.shape) != 3 or x.shape[1] != 2:
            raise ValueError(
                "seq2seq expects stacked ids (batch, 2, steps): the source and the decoder "
                f"input; received shape {tuple(x.shape)}"
            )
        from keras import layers as kl

        from suite.blocks.attention import attention as make_attention
        from suite.blocks.tokens import NotPadding, PairRow

        size = vocabulary_size(vocab_size, "seq2seq")
        embed = kl.Embedding(size, embed_dim, mask_zero=True)
        source = PairRow(0, size)(x)
        encoded, *state = rnn_layer(cell, units, return_sequences=True, return_state=True)(
            embed(source)
        )
        decoder_in = embed(PairRow(1, size)(x))
        if dropout:
            decoder_in = kl.Dropout(dropout)(decoder_in)
        decoded = rnn_layer(cell, units, return_sequences=True)(decoder_in, initial_state=state)
        if attention == "none":
            return decoded
        context = make_attention(attention, attention_units, units)(
            decoded, encoded, values_mask=NotPadding()(source)
        )
        return kl.Dense(units, activation="tanh")(kl.Concatenate()([context, decoded]))

    return apply
