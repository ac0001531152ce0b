"""Composite recurrent blocks: masking, deep RNNs, attention pooling, encoder-decoder.

Masks travel with the tensors: after `masking`, every block here skips padded steps (the
recurrent layers, the residual/highway merges, the attention softmax and the last-step query
all read the mask). The custom layers they use live in suite.blocks.attention, imported at
build time only.
"""

from __future__ import annotations

from typing import Any, Literal

from suite.blocks.base import SEQ, Pos, Rate, block

Cell = Literal["lstm", "gru", "simple_rnn"]
Connection = Literal["none", "residual", "highway"]
Score = Literal["dot", "general", "additive"]


def rnn_layer(cell: Cell, units: int, **kwargs: Any) -> Any:
    """A Keras recurrent layer of `cell` with `units` (keyword arguments passed on)."""
    from keras import layers

    cls = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[cell]
    return cls(units, **kwargs)


def _highway(x: Any, h: Any) -> Any:
    """y = T(x) * h + (1 - T(x)) * x, written x + T(x) * (h - x) with stock layers."""
    from keras import initializers
    from keras import layers as kl

    gate = kl.Dense(
        x.shape[-1], activation="sigmoid", bias_initializer=initializers.Constant(-1.0)
    )(x)
    return kl.Add()([x, kl.Multiply()([gate, kl.Subtract()([h, x])])])


@block(
    "masking",
    consumes_sequence=True,
    example=(SEQ, [{"masking": {"mask_value": 0.0}}, {"lstm": {"units": 4}}]),
)
def masking(mask_value: float = 0.0) -> Any:
    """Mark steps whose features all equal `mask_value` as padding; later layers skip them."""
    from keras import layers

    return layers.Masking(mask_value=mask_value)


@block(
    "deep_rnn",
    consumes_sequence=True,
    example=(
        SEQ,
        [{"deep_rnn": {"cell": "gru", "units": 4, "layers": 2, "connection": "highway"}}],
    ),
)
def deep_rnn(
    cell: Cell = "lstm",
    units: Pos = 64,
    layers: Pos = 2,
    connection: Connection = "none",
    bidirectional: bool = False,
    dropout: Rate = 0.0,
    recurrent_dropout: Rate = 0.0,
    return_sequences: bool | None = None,
) -> Any:
    """Stacked RNN layers; residual or highway connections around each layer after the first.

    The first layer changes the width (features -> units), so connections start at the
    second. With a connection and return_sequences false, the last layer runs over the whole
    sequence and its last unmasked step is the output.
    """

    def apply(x: Any) -> Any:
        from keras import layers as kl

        from suite.blocks.attention import LastStep

        keep_sequence = bool(return_sequences)
        connected = connection != "none" and layers > 1
        for i in range(layers):
            sequence_out = i < layers - 1 or keep_sequence or connected
            rnn = rnn_layer(
                cell,
                units,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                return_sequences=sequence_out,
            )
            h = kl.Bidirectional(rnn)(x) if bidirectional else rnn(x)
            if i > 0 and connection == "residual":
                h = kl.Add()([x, h])
            elif i > 0 and connection == "highway":
                h = _highway(x, h)
            x = h
        return LastStep()(x) if connected and not keep_sequence else x

    return apply


@block(
    "attention_pool",
    consumes_sequence=True,
    example=(SEQ, [{"lstm": {"units": 4}}, {"attention_pool": {"score": "additive", "units": 3}}]),
)
def attention_pool(
    score: Score = "general", units: Pos | None = None, concat_query: bool = True
) -> Any:
    """Attend over a sequence of states with its last state as query; output the context.

    score: dot or general (Luong et al. 2015) or additive (Bahdanau et al. 2015; `units` wide,
    default the state width). concat_query: output [context; query] as in Luong's attentional
    state (follow with a tanh dense layer for h~ = tanh(W [c; h])), else the context alone.
    """

    def apply(x: Any) -> Any:
        if len(x.shape) != 3:
            raise ValueError(
                "attention_pool expects a sequence (batch, steps, features), e.g. after a "
                f"recurrent layer that returns sequences; received shape {tuple(x.shape)}"
            )
        from keras import layers as kl

        from suite.blocks.attention import LastStep, attention

        query = LastStep()(x)
        context = attention(score, units, x.shape[-1])(query, x)
        return kl.Concatenate()([context, query]) if concat_query else context

    return apply


@block(
    "encoder_decoder",
    consumes_sequence=True,
    example=(
        SEQ,
        [{"encoder_decoder": {"units": 4, "steps": 3, "attention": "general"}}, "flatten"],
    ),
)
def encoder_decoder(
    cell: Cell = "lstm",
    units: Pos = 64,
    steps: Pos = 4,
    attention: Literal["none", "dot", "general", "additive"] = "none",
    attention_units: Pos | None = None,
    dropout: Rate = 0.0,
    recurrent_dropout: Rate = 0.0,
) -> Any:
    """Seq2seq: an encoder RNN, then a decoder RNN from its final state; out (steps, units).

    The decoder reads the encoder's last output repeated `steps` times (no teacher forcing),
    starting from the encoder's final state (Sutskever et al. 2014). With attention, each
    decoder state attends over the encoder outputs and is combined with its context as
    tanh(W [context; state]) (Luong et al. 2015; 'additive' uses Bahdanau's score).
    """

    def apply(x: Any) -> Any:
        if len(x.shape) != 3:
            raise ValueError(
                f"encoder_decoder expects a sequence (batch, steps, features); got {x.shape}"
            )
        from keras import layers as kl

        from suite.blocks.attention import attention as make_attention

        rnn = {"dropout": dropout, "recurrent_dropout": recurrent_dropout}
        encoded, *state = rnn_layer(cell, units, return_sequences=True, return_state=True, **rnn)(x)
        repeated = kl.RepeatVector(steps)(state[0])
        decoded = rnn_layer(cell, units, return_sequences=True, **rnn)(
            repeated, initial_state=state
        )
        if attention == "none":
            return decoded
        context = make_attention(attention, attention_units, units)(decoded, encoded)
        return kl.Dense(units, activation="tanh")(kl.Concatenate()([context, decoded]))

    return apply


@block(
    "stack_frames",
    example=((3, 6, 6, 2), ["stack_frames", {"conv2d": {"filters": 4}}, "flatten"]),
)
def stack_frames() -> Any:
    """Stack a sequence of frames (t, h, w, c) as the channels of one image (h, w, t*c)."""
    from keras import layers

    def apply(x: Any) -> Any:
        if len(x.shape) != 5:
            raise ValueError(
                f"stack_frames expects frames (steps, height, width, channels); got {x.shape}"
            )
        _, t, h, w, c = x.shape
        return layers.Reshape((h, w, t * c))(layers.Permute((2, 3, 1, 4))(x))

    return apply
