"""Recurrent blocks: SimpleRNN, LSTM, GRU (bidirectional lives in core)."""

from __future__ import annotations

from typing import Any

from suite.blocks.base import SEQ, Pos, Rate, block


@block("simple_rnn", consumes_sequence=True, example=(SEQ, [{"simple_rnn": {"units": 4}}]))
def simple_rnn(
    units: Pos = 64,
    dropout: Rate = 0.0,
    recurrent_dropout: Rate = 0.0,
    return_sequences: bool | None = None,
) -> Any:
    """Elman RNN. return_sequences: null = true when a sequence layer follows."""
    from keras import layers

    return layers.SimpleRNN(
        units,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        return_sequences=bool(return_sequences),
    )


@block(
    "lstm", consumes_sequence=True, example=(SEQ, [{"lstm": {"units": 4}}, {"lstm": {"units": 4}}])
)
def lstm(
    units: Pos = 64,
    dropout: Rate = 0.0,
    recurrent_dropout: Rate = 0.0,
    return_sequences: bool | None = None,
) -> Any:
    """LSTM. return_sequences: null = true when a sequence layer follows."""
    from keras import layers

    return layers.LSTM(
        units,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        return_sequences=bool(return_sequences),
    )


@block(
    "gru", consumes_sequence=True, example=(SEQ, [{"gru": {"units": 4, "recurrent_dropout": 0.1}}])
)
def gru(
    units: Pos = 64,
    dropout: Rate = 0.0,
    recurrent_dropout: Rate = 0.0,
    reset_after: bool = True,
    return_sequences: bool | None = None,
) -> Any:
    """GRU. return_sequences: null = true when a sequence layer follows."""
    from keras import layers

    return layers.GRU(
        units,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        reset_after=reset_after,
        return_sequences=bool(return_sequences),
    )
