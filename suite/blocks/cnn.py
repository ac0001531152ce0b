"""Convolution and pooling blocks (1-D for sequences, 2-D for images)."""

from __future__ import annotations

from typing import Any

from suite.blocks.base import IMG, SEQ, Activation, Padding, Pos, block


@block(
    "conv1d",
    consumes_sequence=True,
    example=(SEQ, [{"conv1d": {"filters": 4, "kernel_size": 3}}, "flatten"]),
)
def conv1d(
    filters: Pos = 32,
    kernel_size: Pos = 3,
    strides: Pos = 1,
    dilation_rate: Pos = 1,
    padding: Padding = "same",
    activation: Activation = "relu",
    use_bias: bool = True,
) -> Any:
    """1-D convolution over steps."""
    from keras import layers

    return layers.Conv1D(
        filters,
        kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
        padding=padding,
        activation=activation,
        use_bias=use_bias,
    )


@block("conv2d", example=(IMG, [{"conv2d": {"filters": 4, "kernel_size": 3}}, "flatten"]))
def conv2d(
    filters: Pos = 32,
    kernel_size: Pos = 3,
    strides: Pos = 1,
    dilation_rate: Pos = 1,
    padding: Padding = "same",
    activation: Activation = "relu",
    use_bias: bool = True,
) -> Any:
    """2-D convolution over height and width."""
    from keras import layers

    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
        padding=padding,
        activation=activation,
        use_bias=use_bias,
    )


@block("max_pool1d", consumes_sequence=True, example=(SEQ, ["max_pool1d", "flatten"]))
def max_pool1d(pool_size: Pos = 2, strides: Pos | None = None, padding: Padding = "valid") -> Any:
    """1-D max pooling."""
    from keras import layers

    return layers.MaxPooling1D(pool_size, strides=strides, padding=padding)


@block("avg_pool1d", consumes_sequence=True, example=(SEQ, ["avg_pool1d", "flatten"]))
def avg_pool1d(pool_size: Pos = 2, strides: Pos | None = None, padding: Padding = "valid") -> Any:
    """1-D average pooling."""
    from keras import layers

    return layers.AveragePooling1D(pool_size, strides=strides, padding=padding)


@block("max_pool2d", example=(IMG, ["max_pool2d", "flatten"]))
def max_pool2d(pool_size: Pos = 2, strides: Pos | None = None, padding: Padding = "valid") -> Any:
    """2-D max pooling."""
    from keras import layers

    return layers.MaxPooling2D(pool_size, strides=strides, padding=padding)


@block("avg_pool2d", example=(IMG, ["avg_pool2d", "flatten"]))
def avg_pool2d(pool_size: Pos = 2, strides: Pos | None = None, padding: Padding = "valid") -> Any:
    """2-D average pooling."""
    from keras import layers

    return layers.AveragePooling2D(pool_size, strides=strides, padding=padding)


def _global(kind: str) -> Any:
    from keras import layers

    from suite.blocks.pooling_layers import MaskedGlobalMaxPooling1D as masked_max_1d

    def apply(x: Any) -> Any:
        rank = len(x.shape)
        table = {
            ("avg", 3): layers.GlobalAveragePooling1D,
            ("avg", 4): layers.GlobalAveragePooling2D,
            ("max", 3): masked_max_1d,
            ("max", 4): layers.GlobalMaxPooling2D,
        }
        if (kind, rank) not in table:
            raise ValueError(
                f"global_{kind}_pool expects a sequence or an image feature map; "
                f"received a tensor of shape {tuple(x.shape)}"
            )
        return table[(kind, rank)]()(x)

    return apply


@block("global_avg_pool", consumes_sequence=True, example=(IMG, ["global_avg_pool"]))
def global_avg_pool() -> Any:
    """Average over steps (sequences; padded steps skipped) or over height and width (images)."""
    return _global("avg")


@block("global_max_pool", consumes_sequence=True, example=(SEQ, ["global_max_pool"]))
def global_max_pool() -> Any:
    """Maximum over steps (sequences; padded steps skipped) or over height and width (images)."""
    return _global("max")
