"""Dense, regularisation, normalisation, shape and composition blocks."""

from __future__ import annotations

from typing import Any, Literal

from suite.blocks.base import IMG, SEQ, Activation, One, Pos, Rate, Stack, block

Merge = Literal["concat", "add", "multiply", "average", "maximum"]


@block("dense", example=(SEQ, ["flatten", {"dense": {"units": 5}}]))
def dense(units: Pos = 64, activation: Activation = "relu", use_bias: bool = True) -> Any:
    """Fully connected layer."""
    from keras import layers

    return layers.Dense(units, activation=activation, use_bias=use_bias)


@block("dropout", example=(SEQ, [{"dropout": {"rate": 0.3}}, "flatten"]))
def dropout(rate: Rate = 0.5) -> Any:
    """Dropout."""
    from keras import layers

    return layers.Dropout(rate)


@block("spatial_dropout", example=(IMG, [{"spatial_dropout": {"rate": 0.2}}, "flatten"]))
def spatial_dropout(rate: Rate = 0.2) -> Any:
    """Dropout of whole feature maps (1-D or 2-D input, chosen from the input rank)."""
    from keras import layers

    def apply(x: Any) -> Any:
        cls = layers.SpatialDropout1D if len(x.shape) == 3 else layers.SpatialDropout2D
        return cls(rate)(x)

    return apply


@block("batchnorm", example=(IMG, ["batchnorm", "flatten"]))
def batchnorm(momentum: float = 0.99, epsilon: float = 1e-3) -> Any:
    """Batch normalisation over the last axis."""
    from keras import layers

    return layers.BatchNormalization(momentum=momentum, epsilon=epsilon)


@block("layernorm", example=(SEQ, ["layernorm", "flatten"]))
def layernorm(epsilon: float = 1e-6) -> Any:
    """Layer normalisation over the last axis."""
    from keras import layers

    return layers.LayerNormalization(epsilon=epsilon)


@block("activation", example=(SEQ, [{"activation": {"fn": "tanh"}}, "flatten"]))
def activation(fn: Activation = "relu") -> Any:
    """An activation on its own (e.g. after batchnorm)."""
    from keras import layers

    return layers.Activation(fn or "linear")


@block("flatten", example=(IMG, ["flatten"]))
def flatten() -> Any:
    """Flatten all but the batch axis."""
    from keras import layers

    return layers.Flatten()


@block("reshape", example=(IMG, [{"reshape": {"shape": [8, 16]}}, {"gru": {"units": 4}}]))
def reshape(shape: list[int]) -> Any:
    """Reshape to `shape` (without the batch axis; -1 allowed once)."""
    from keras import layers

    return layers.Reshape(tuple(shape))


@block("permute", example=(SEQ, [{"permute": {"dims": [2, 1]}}, {"gru": {"units": 4}}]))
def permute(dims: list[Pos]) -> Any:
    """Reorder the non-batch axes (1-based), e.g. [2, 1] swaps steps and features."""
    from keras import layers

    return layers.Permute(tuple(dims))


@block(
    "to_sequence",
    example=(IMG, [{"to_sequence": {"steps": "width"}}, {"lstm": {"units": 4}}]),
)
def to_sequence(steps: Literal["width", "height"] = "width") -> Any:
    """Read an image feature map (h, w, c) as a sequence of its columns (or rows), as in CRNN."""
    from keras import layers

    def apply(x: Any) -> Any:
        if len(x.shape) != 4:
            raise ValueError("to_sequence expects a (height, width, channels) feature map")
        _, h, w, c = x.shape
        if steps == "width":
            return layers.Reshape((w, h * c))(layers.Permute((2, 1, 3))(x))
        return layers.Reshape((h, w * c))(x)

    return apply


def _merge(kind: Merge) -> Any:
    from keras import layers

    return {
        "concat": layers.Concatenate,
        "add": layers.Add,
        "multiply": layers.Multiply,
        "average": layers.Average,
        "maximum": layers.Maximum,
    }[kind]()


@block(
    "parallel",
    example=(
        SEQ,
        [
            {"parallel": {"branches": [[{"conv1d": {"filters": 4}}], [{"lstm": {"units": 4}}]]}},
            "global_max_pool",
        ],
    ),
)
def parallel(branches: list[Stack], merge: Merge = "concat") -> Any:
    """Run each branch on the same input and merge their outputs."""

    def apply(x: Any) -> Any:
        outs = [branch(x) for branch in branches]  # type: ignore[operator]
        return outs[0] if len(outs) == 1 else _merge(merge)(outs)

    return apply


@block(
    "residual", example=(SEQ, [{"residual": {"layers": [{"conv1d": {"filters": 6}}]}}, "flatten"])
)
def residual(layers: Stack, project: bool = True) -> Any:
    """x + f(x); with `project`, a linear map matches the channels when they differ."""

    def apply(x: Any) -> Any:
        from keras import layers as kl

        y = layers(x)  # type: ignore[operator]
        if y.shape[-1] != x.shape[-1]:
            if not project:
                raise ValueError(
                    f"residual: the branch outputs {y.shape[-1]} channels but its input has "
                    f"{x.shape[-1]}; set project: true or match the channels"
                )
            x = kl.Dense(y.shape[-1], use_bias=False)(x)
        return kl.Add()([x, y])

    return apply


@block(
    "time_distributed",
    consumes_sequence=True,
    example=(
        (4, 8, 8, 1),
        [
            {"time_distributed": {"layers": [{"conv2d": {"filters": 4}}, "global_avg_pool"]}},
            {"lstm": {"units": 4}},
        ],
    ),
)
def time_distributed(layers: Stack) -> Any:
    """Apply the same stack of layers to every step (frame) of a sequence."""

    def apply(x: Any) -> Any:
        import keras

        inner_in = keras.Input(shape=tuple(x.shape[2:]))
        inner = keras.Model(inner_in, layers(inner_in))  # type: ignore[operator]
        return keras.layers.TimeDistributed(inner)(x)

    return apply


@block(
    "bidirectional",
    consumes_sequence=True,
    example=(
        SEQ,
        [{"bidirectional": {"layer": {"gru": {"units": 4}}}}, {"lstm": {"units": 3}}],
    ),
)
def bidirectional(
    layer: One,
    merge_mode: Literal["concat", "sum", "mul", "ave"] = "concat",
    return_sequences: bool | None = None,
) -> Any:
    """Run a recurrent layer forwards and backwards and merge both."""
    from keras import layers

    rnn = layer(return_sequences=return_sequences)  # type: ignore[operator]
    return layers.Bidirectional(rnn, merge_mode=merge_mode)
