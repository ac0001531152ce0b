"""Dense-prediction blocks: upsampling, transposed convolution, FCN and U-Net.

`fcn` and `unet` output a feature map with the input's height and width; the segmentation
task's head (a 1x1 convolution with softmax) turns it into per-pixel class probabilities.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from suite.blocks.base import IMG, Activation, Padding, Pos, Rate, block
from suite.spec.signature import relation

POOLED = "global_avg_pool"  # the contract test's head needs a vector; examples end with it


def _check_divisible(x: Any, factor: int, what: str) -> None:
    h, w = x.shape[1], x.shape[2]
    if (h is not None and h % factor) or (w is not None and w % factor):
        raise ValueError(
            f"{what} halves the image {factor.bit_length() - 1} times, so height and width must "
            f"be multiples of {factor}; received {h}x{w}"
        )


def _convs(x: Any, filters: int, n: int, batchnorm: bool, activation: Activation) -> Any:
    from keras import layers

    for _ in range(n):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batchnorm)(x)
        if batchnorm:
            x = layers.BatchNormalization()(x)
        x = layers.Activation(activation or "linear")(x)
    return x


def _up(x: Any, filters: int, factor: int, how: str) -> Any:
    from keras import layers

    if how == "transpose":
        # kernel twice the stride, as FCN's deconvolutions (4x4 for 2x)
        return layers.Conv2DTranspose(filters, 2 * factor, strides=factor, padding="same")(x)
    interpolation = "bilinear" if how == "bilinear" else "nearest"
    return layers.UpSampling2D(factor, interpolation=interpolation)(x)


@block("upsample2d", example=(IMG, ["upsample2d", POOLED]))
def upsample2d(size: Pos = 2, interpolation: Literal["nearest", "bilinear"] = "nearest") -> Any:
    """Repeat (nearest) or interpolate (bilinear) each pixel `size` times along height and width."""
    from keras import layers

    return layers.UpSampling2D(size, interpolation=interpolation)


@block(
    "conv2d_transpose",
    example=(IMG, [{"conv2d_transpose": {"filters": 4}}, POOLED]),
)
def conv2d_transpose(
    filters: Pos = 32,
    kernel_size: Pos = 2,
    strides: Pos = 2,
    padding: Padding = "same",
    activation: Activation = "relu",
    use_bias: bool = True,
) -> Any:
    """Transposed 2-D convolution: learned upsampling by `strides`."""
    from keras import layers

    return layers.Conv2DTranspose(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        activation=activation,
        use_bias=use_bias,
    )


@block(
    "fcn",
    example=(
        IMG,
        [{"fcn": {"filters": 4, "stages": 2, "features": 4, "skips": 1}}, POOLED],
    ),
)
@relation(
    "skips",
    lambda skips, stages: (
        f"skips must be less than stages ({stages}); received {skips}" if skips >= stages else None
    ),
)
def fcn(
    filters: Pos = 32,
    stages: Pos = 3,
    convs: Pos = 2,
    features: Pos = 64,
    skips: Annotated[int, Field(ge=0)] = 2,
    upsample: Literal["bilinear", "transpose"] = "bilinear",
    batchnorm: bool = False,
    activation: Activation = "relu",
) -> Any:
    """Fully convolutional net (Long et al. 2015): conv encoder, FCN-8s-style skips, upsampling.

    Each of `stages` stages is `convs` 3x3 convolutions (`filters` doubling per stage) and a 2x2
    max pool. The deepest map is projected by a 1x1 convolution to `features` channels, then
    upsampled 2x and summed with 1x1 projections of the `skips` previous pooled maps (skips=2 is
    FCN-8s's wiring, 1 FCN-16s, 0 FCN-32s), and finally upsampled to the input's size.
    The output is (batch, height, width, features); the task adds the 1x1 classifier.
    """
    from keras import layers

    def apply(x: Any) -> Any:
        _check_divisible(x, 2**stages, "fcn")
        pooled = []
        for s in range(stages):
            x = _convs(x, filters * 2**s, convs, batchnorm, activation)
            x = layers.MaxPooling2D(2)(x)
            pooled.append(x)
        y = layers.Conv2D(features, 1, activation=activation)(pooled[-1])
        for k in range(skips):
            y = _up(y, features, 2, upsample)
            side = layers.Conv2D(features, 1)(pooled[-2 - k])
            y = layers.Add()([y, side])
        return _up(y, features, 2 ** (stages - skips), upsample)

    return apply


@block(
    "unet",
    example=(IMG, [{"unet": {"depth": 2, "filters": 2}}, POOLED]),
)
def unet(
    depth: Pos = 4,
    filters: Pos = 64,
    convs: Pos = 2,
    decoder: Literal["transpose", "upsample"] = "transpose",
    batchnorm: bool = False,
    dropout: Rate = 0.0,
    activation: Activation = "relu",
) -> Any:
    """U-Net (Ronneberger et al. 2015): contracting and expanding paths joined by skip concats.

    Level l (0..depth) has `convs` 3x3 convolutions of `filters * 2**l` channels; the
    contracting path max-pools 2x2 between levels, the expanding path goes up by a 2x2
    transposed convolution halving the channels (decoder=transpose, the paper's "up-convolution")
    or by nearest upsampling and a 2x2 convolution (decoder=upsample), concatenates the
    contracting path's map of the same level and applies `convs` 3x3 convolutions. Padding is
    "same", so the output keeps the input's height and width (the paper uses unpadded
    convolutions and crops). `dropout` applies after the deepest level, as in the paper.
    """
    from keras import layers

    def apply(x: Any) -> Any:
        _check_divisible(x, 2**depth, "unet")
        skips = []
        for level in range(depth):
            x = _convs(x, filters * 2**level, convs, batchnorm, activation)
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
        x = _convs(x, filters * 2**depth, convs, batchnorm, activation)
        if dropout:
            x = layers.Dropout(dropout)(x)
        for level in reversed(range(depth)):
            n = filters * 2**level
            if decoder == "transpose":
                x = layers.Conv2DTranspose(n, 2, strides=2)(x)
            else:
                x = layers.UpSampling2D(2)(x)
                x = layers.Conv2D(n, 2, padding="same")(x)
            x = layers.Concatenate()([skips[level], x])
            x = _convs(x, n, convs, batchnorm, activation)
        return x

    return apply
