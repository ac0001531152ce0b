"""Blocks of the CNN families: VGG, ResNet/ResNeXt/SE-ResNet, DenseNet, Inception, MobileNet,
ConvNeXt.

Every block is rank-generic: on a sequence (batch, steps, features) it uses the 1-D Keras
layers, on an image (batch, height, width, channels) the 2-D ones, so the 1-D variants of these
families (time-series classification) are the same blocks. Sizes follow the papers' reference
implementations (torchvision, keras.applications) so that the model specs reproduce their
published parameter counts. Blocks with batch norm take `bn_momentum`: Keras' 0.99 by default;
0.9 (PyTorch's default) suits small datasets, whose epochs have few steps.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from suite.blocks.base import IMG, SEQ, Activation, Padding, Pos, Rate, block
from suite.spec.signature import relation

Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
NonNeg = Annotated[int, Field(ge=0)]
Shortcut = Literal["auto", "projection", "auto_bn"]
# Keras' default; PyTorch's 0.1 is 0.9 here, better when an epoch has few steps (small data).
Momentum = Annotated[float, Field(gt=0.0, lt=1.0, description="batch-norm moving-average momentum")]

_BY_RANK = {
    "conv": ("Conv1D", "Conv2D"),
    "depthwise": ("DepthwiseConv1D", "DepthwiseConv2D"),
    "max_pool": ("MaxPooling1D", "MaxPooling2D"),
    "avg_pool": ("AveragePooling1D", "AveragePooling2D"),
    "zero_pad": ("ZeroPadding1D", "ZeroPadding2D"),
    "global_avg": ("GlobalAveragePooling1D", "GlobalAveragePooling2D"),
}

# keras.applications.MobileNet: (pointwise filters, stride) of its 13 separable blocks.
MOBILENET_V1_BLOCKS: list[tuple[int, int]] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    *[(512, 1)] * 5,
    (1024, 2),
    (1024, 1),
]


def _layer(kind: str, x: Any, where: str) -> Any:
    """The 1-D or 2-D Keras layer class of `kind` for the rank of `x`."""
    from keras import layers

    rank = len(x.shape)
    if rank not in (3, 4):
        raise ValueError(
            f"{where} expects a sequence (batch, steps, features) or an image "
            f"(batch, height, width, channels); received shape {tuple(x.shape)}"
        )
    return getattr(layers, _BY_RANK[kind][rank - 3])


def _conv(
    x: Any,
    filters: int,
    kernel: int,
    where: str,
    *,
    strides: int = 1,
    groups: int = 1,
    use_bias: bool = False,
    padding: str = "same",
    dilation: int = 1,
) -> Any:
    channels = x.shape[-1]
    if groups > 1 and (channels % groups or filters % groups):
        raise ValueError(
            f"{where}: groups={groups} must divide both the input channels ({channels}) "
            f"and the filters ({filters})"
        )
    conv = _layer("conv", x, where)
    return conv(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        groups=groups,
        dilation_rate=dilation,
        use_bias=use_bias,
    )(x)


def _bn(x: Any, momentum: float) -> Any:
    from keras import layers

    return layers.BatchNormalization(momentum=momentum)(x)


def _bn_act(x: Any, act: str | None, momentum: float) -> Any:
    from keras import layers

    x = _bn(x, momentum)
    return layers.Activation(act)(x) if act else x


def _squeeze_excite(x: Any, ratio: float, where: str, act: str = "relu") -> Any:
    from keras import layers

    channels = x.shape[-1]
    hidden = max(1, round(channels * ratio))
    s = _layer("global_avg", x, where)(keepdims=True)(x)
    s = layers.Dense(hidden, activation=act)(s)
    s = layers.Dense(channels, activation="sigmoid")(s)
    return layers.Multiply()([x, s])


@block(
    "zero_pad",
    consumes_sequence=True,
    example=(IMG, [{"zero_pad": {"padding": [1, 0, 2, 1]}}, "flatten"]),
)
def zero_pad(padding: NonNeg | list[NonNeg] = 1) -> Any:
    """Zero padding: n on every side, or [before, after] (1-D), [rows, cols] or [t, b, l, r] (2-D).

    Stems written with explicit padding (e.g. torchvision's AlexNet conv1: pad 2, then a valid
    11x11 stride-4 convolution) reproduce the reference feature-map sizes exactly.
    """

    def apply(x: Any) -> Any:
        cls = _layer("zero_pad", x, "zero_pad")
        p = padding
        if isinstance(p, int):
            return cls(p)(x)
        if len(p) == 2:  # 1-D: (before, after); 2-D: symmetric (rows, cols)
            return cls(tuple(p))(x)
        if len(x.shape) == 4 and len(p) == 4:
            return cls(((p[0], p[1]), (p[2], p[3])))(x)
        raise ValueError(
            f"zero_pad: padding {list(p)} does not fit a rank-{len(x.shape)} input; give one "
            "number, [before, after] for sequences, or [rows, cols] / [top, bottom, left, right] "
            "for images"
        )

    return apply


@block(
    "conv_bn",
    consumes_sequence=True,
    example=(IMG, [{"conv_bn": {"filters": 4, "strides": 2, "groups": 2}}, "flatten"]),
)
@relation(
    "groups",
    lambda groups, filters: (
        f"groups={groups} must divide filters ({filters})" if filters % groups else None
    ),
)
def conv_bn(
    filters: Pos = 32,
    kernel_size: Pos = 3,
    strides: Pos = 1,
    groups: Pos = 1,
    dilation_rate: Pos = 1,
    padding: Padding = "same",
    activation: Activation = "relu",
    use_bias: bool = False,
    bn_momentum: Momentum = 0.99,
) -> Any:
    """Convolution (no bias by default), batch norm, activation; 1-D or 2-D from the input rank.

    `groups` splits the channels into groups convolved separately (ResNeXt); it must divide the
    input channels and `filters`.
    """

    def apply(x: Any) -> Any:
        y = _conv(
            x,
            filters,
            kernel_size,
            "conv_bn",
            strides=strides,
            groups=groups,
            use_bias=use_bias,
            padding=padding,
            dilation=dilation_rate,
        )
        return _bn_act(y, activation, bn_momentum)

    return apply


@block(
    "squeeze_excite",
    consumes_sequence=True,
    example=(SEQ, [{"squeeze_excite": {"ratio": 0.5}}, "flatten"]),
)
def squeeze_excite(ratio: Fraction = 0.25, activation: Activation = "relu") -> Any:
    """Squeeze-and-excitation (Hu et al. 2018): scale each channel by a learned gate in (0, 1).

    Global average pool, Dense(round(channels * ratio)) with `activation`, Dense(channels,
    sigmoid), multiply. Hu et al.'s reduction r=16 is ratio 0.0625.
    """

    def apply(x: Any) -> Any:
        return _squeeze_excite(x, ratio, "squeeze_excite", activation or "linear")

    return apply


@block(
    "vgg_stage",
    consumes_sequence=True,
    example=(IMG, [{"vgg_stage": {"convs": 2, "filters": 4}}, "flatten"]),
)
def vgg_stage(
    convs: Pos = 2,
    filters: Pos = 64,
    kernel_size: Pos = 3,
    batchnorm: bool = False,
    activation: Activation = "relu",
    pool: bool = True,
    bn_momentum: Momentum = 0.99,
) -> Any:
    """VGG stage (Simonyan & Zisserman 2015): `convs` same-padded convolutions, 2x max pool.

    Convolutions keep their bias (as torchvision's vgg16 and vgg16_bn); `batchnorm` adds batch
    norm before each activation (the _bn variants).
    """

    def apply(x: Any) -> Any:
        from keras import layers

        for _ in range(convs):
            x = _conv(x, filters, kernel_size, "vgg_stage", use_bias=True)
            if batchnorm:
                x = _bn(x, bn_momentum)
            x = layers.Activation(activation or "linear")(x)
        return _layer("max_pool", x, "vgg_stage")(2, strides=2)(x) if pool else x

    return apply


def _bottleneck_kernels(kernels: list[int] | None, kind: str) -> str | None:
    if kind == "bottleneck" and kernels and len(kernels) != 3:
        return f"a bottleneck block has three convolutions; kernels={kernels} has {len(kernels)}"
    return None


def _groups_need_bottleneck(groups: int, kind: str) -> str | None:
    if kind == "basic" and groups != 1:
        return (
            f"groups={groups} applies to bottleneck blocks (ResNeXt); "
            "set kind: bottleneck or groups: 1"
        )
    return None


def _bottleneck_width(width_per_group: int, filters: int, groups: int, kind: str) -> str | None:
    if kind == "bottleneck" and int(filters * width_per_group / 64) * groups < 1:
        return (
            f"width_per_group={width_per_group} gives a bottleneck width of "
            f"int({filters} * {width_per_group} / 64) * {groups} = 0; raise width_per_group "
            "or filters"
        )
    return None


def _residual_unit(
    x: Any,
    convs: list[tuple[int, int, int, int]],
    strides: int,
    *,
    se_ratio: float,
    shortcut: Shortcut,
    preactivation: bool,
    use_bias: bool,
    act: str,
    momentum: float,
) -> Any:
    """One residual unit; `convs` lists (filters, kernel, strides, groups) of the branch."""
    from keras import layers

    where = "resnet_stage"
    out = convs[-1][0]
    pre = _bn_act(x, act, momentum) if preactivation else x
    y = pre
    for i, (f, k, s, g) in enumerate(convs):
        if preactivation and i > 0:
            y = _bn_act(y, act, momentum)
        y = _conv(y, f, k, where, strides=s, groups=g, use_bias=use_bias)
        if not preactivation:
            y = _bn_act(y, act if i < len(convs) - 1 else None, momentum)
    if se_ratio > 0:
        y = _squeeze_excite(y, se_ratio, where)
    if strides != 1 or x.shape[-1] != out or shortcut == "projection":
        sc = _conv(pre, out, 1, where, strides=strides, use_bias=use_bias)
        if not preactivation:
            sc = _bn(sc, momentum)
    elif shortcut == "auto_bn":
        sc = _bn(x, momentum)
    else:
        sc = x
    y = layers.Add()([sc, y])
    return y if preactivation else layers.Activation(act)(y)


@block(
    "resnet_stage",
    consumes_sequence=True,
    example=(
        IMG,
        [
            {"resnet_stage": {"blocks": 2, "filters": 4, "strides": 2}},
            {
                "resnet_stage": {
                    "filters": 2,
                    "kind": "bottleneck",
                    "groups": 2,
                    "width_per_group": 64,
                    "se_ratio": 0.25,
                }
            },
            "global_avg_pool",
        ],
    ),
)
@relation("kernels", _bottleneck_kernels)
@relation("groups", _groups_need_bottleneck)
@relation("width_per_group", _bottleneck_width)
def resnet_stage(
    blocks: Pos = 2,
    filters: Pos = 64,
    kind: Literal["basic", "bottleneck"] = "basic",
    strides: Pos = 1,
    kernels: list[Pos] | None = None,
    groups: Pos = 1,
    width_per_group: Pos = 64,
    expansion: Pos = 4,
    se_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0,
    shortcut: Shortcut = "auto",
    preactivation: bool = False,
    use_bias: bool = False,
    activation: Activation = "relu",
    bn_momentum: Momentum = 0.99,
) -> Any:
    """Residual blocks (He et al. 2016): basic or bottleneck, ResNeXt groups, squeeze-excite.

    The first block has stride `strides`. basic: convolutions of `kernels` (default [3, 3];
    Wang et al.'s 1-D ResNet uses [8, 5, 3]), each with `filters` outputs. bottleneck
    (torchvision v1.5): 1x1 to width, 3x3 grouped with the stride, 1x1 to filters * expansion,
    where width = int(filters * width_per_group / 64) * groups (ResNeXt-50 32x4d: groups 32,
    width_per_group 4). se_ratio > 0 gates the branch with squeeze-excite before the addition
    (SE-ResNet: 0.0625). Shortcut: a 1x1 convolution + batch norm when the shape changes, else
    identity ("auto"), always the projection ("projection"), or batch norm of the identity
    ("auto_bn", as Wang et al.'s third block). preactivation: BN-activation before each
    convolution and nothing after the addition (He et al. v2; end the network with batchnorm +
    activation).
    """
    ks = list(kernels) if kernels else ([3, 3] if kind == "basic" else [1, 3, 1])
    width = int(filters * width_per_group / 64) * groups

    def convs(s: int) -> list[tuple[int, int, int, int]]:
        if kind == "basic":
            return [(filters, k, s if i == 0 else 1, 1) for i, k in enumerate(ks)]
        return [(width, ks[0], 1, 1), (width, ks[1], s, groups), (filters * expansion, ks[2], 1, 1)]

    def apply(x: Any) -> Any:
        for i in range(blocks):
            s = strides if i == 0 else 1
            x = _residual_unit(
                x,
                convs(s),
                s,
                se_ratio=se_ratio,
                shortcut=shortcut,
                preactivation=preactivation,
                use_bias=use_bias,
                act=activation or "linear",
                momentum=bn_momentum,
            )
        return x

    return apply


@block(
    "dense_block",
    consumes_sequence=True,
    example=(IMG, [{"dense_block": {"layers": 2, "growth_rate": 3}}, "global_avg_pool"]),
)
def dense_block(
    layers: Pos = 6,
    growth_rate: Pos = 32,
    bn_size: NonNeg = 4,
    dropout: Rate = 0.0,
    bn_momentum: Momentum = 0.99,
) -> Any:
    """DenseNet block (Huang et al. 2017): `layers` times concat(x, f(x)), growth_rate channels.

    f = BN-ReLU-Conv1x1(bn_size * growth_rate)-BN-ReLU-Conv3x3(growth_rate) (DenseNet-BC);
    bn_size 0 drops the 1x1 bottleneck (plain DenseNet). Convolutions have no bias.
    """

    def apply(x: Any) -> Any:
        from keras import layers as kl

        for _ in range(layers):
            y = x
            if bn_size:
                y = _bn_act(y, "relu", bn_momentum)
                y = _conv(y, bn_size * growth_rate, 1, "dense_block")
            y = _bn_act(y, "relu", bn_momentum)
            y = _conv(y, growth_rate, 3, "dense_block")
            if dropout:
                y = kl.Dropout(dropout)(y)
            x = kl.Concatenate()([x, y])
        return x

    return apply


@block(
    "transition",
    consumes_sequence=True,
    example=(SEQ, [{"transition": {"compression": 0.5}}, "flatten"]),
)
def transition(compression: Fraction = 0.5, pool: bool = True, bn_momentum: Momentum = 0.99) -> Any:
    """DenseNet transition: BN-ReLU-Conv1x1(int(channels * compression)), 2x average pool."""

    def apply(x: Any) -> Any:
        filters = int(x.shape[-1] * compression)
        if filters < 1:
            raise ValueError(
                f"transition: int({x.shape[-1]} channels * compression {compression}) is 0"
            )
        y = _conv(_bn_act(x, "relu", bn_momentum), filters, 1, "transition")
        return _layer("avg_pool", y, "transition")(2, strides=2)(y) if pool else y

    return apply


@block(
    "inception",
    consumes_sequence=True,
    example=(
        IMG,
        [
            {
                "inception": {
                    "conv1": 2,
                    "reduce3": 2,
                    "conv3": 3,
                    "reduce5": 1,
                    "conv5": 2,
                    "pool_proj": 2,
                }
            },
            "global_avg_pool",
        ],
    ),
)
def inception(
    conv1: Pos = 64,
    reduce3: Pos = 96,
    conv3: Pos = 128,
    reduce5: Pos = 16,
    conv5: Pos = 32,
    pool_proj: Pos = 32,
    kernel5: Pos = 5,
    batchnorm: bool = True,
    bn_momentum: Momentum = 0.99,
) -> Any:
    """GoogLeNet inception module (Szegedy et al. 2015): four branches, concatenated.

    1x1 (conv1); 1x1 (reduce3) -> 3x3 (conv3); 1x1 (reduce5) -> kernel5 (conv5); 3x3 max pool
    (stride 1) -> 1x1 (pool_proj). Filter counts as in the paper's table (defaults: 3a).
    batchnorm: each convolution without bias, then batch norm, then ReLU (torchvision's
    BasicConv2d; torchvision also uses kernel5 3); false: biased convolutions and ReLU (paper).
    """

    def unit(x: Any, filters: int, kernel: int) -> Any:
        from keras import layers

        y = _conv(x, filters, kernel, "inception", use_bias=not batchnorm)
        if batchnorm:
            y = _bn(y, bn_momentum)
        return layers.Activation("relu")(y)

    def apply(x: Any) -> Any:
        from keras import layers

        pooled = _layer("max_pool", x, "inception")(3, strides=1, padding="same")(x)
        return layers.Concatenate()(
            [
                unit(x, conv1, 1),
                unit(unit(x, reduce3, 1), conv3, 3),
                unit(unit(x, reduce5, 1), conv5, kernel5),
                unit(pooled, pool_proj, 1),
            ]
        )

    return apply


def _separable(
    x: Any,
    filters: int,
    strides: int,
    depth_multiplier: int,
    kernel: int,
    act: str,
    where: str,
    momentum: float,
) -> Any:
    y = _layer("depthwise", x, where)(
        kernel, strides=strides, depth_multiplier=depth_multiplier, padding="same", use_bias=False
    )(x)
    y = _bn_act(y, act, momentum)
    return _bn_act(_conv(y, filters, 1, where), act, momentum)


def _scaled_away(alpha: float, filters: int) -> str | None:
    if int(filters * alpha) < 1:
        return (
            f"alpha={alpha} scales {filters} filters to int({filters} * {alpha}) = 0; raise alpha"
        )
    return None


def _all_scaled_away(alpha: float, stem_filters: int, blocks: list[tuple[int, int]]) -> str | None:
    return _scaled_away(alpha, min([stem_filters, *(f for f, _ in blocks)]))


@block(
    "depthwise_separable",
    consumes_sequence=True,
    example=(IMG, [{"depthwise_separable": {"filters": 8, "alpha": 0.5}}, "flatten"]),
)
@relation("alpha", _scaled_away)
def depthwise_separable(
    filters: Pos = 64,
    strides: Pos = 1,
    alpha: Annotated[float, Field(gt=0.0)] = 1.0,
    depth_multiplier: Pos = 1,
    kernel_size: Pos = 3,
    activation: Activation = "relu6",
    bn_momentum: Momentum = 0.99,
) -> Any:
    """MobileNet separable block: depthwise conv-BN-act, 1x1 conv to int(filters*alpha)-BN-act."""

    def apply(x: Any) -> Any:
        f = int(filters * alpha)
        act = activation or "linear"
        where = "depthwise_separable"
        return _separable(x, f, strides, depth_multiplier, kernel_size, act, where, bn_momentum)

    return apply


@block(
    "mobilenet_v1",
    consumes_sequence=True,
    example=(
        IMG,
        [
            {"mobilenet_v1": {"alpha": 0.25, "stem_filters": 16, "blocks": [[16, 2], [16, 1]]}},
            "global_avg_pool",
        ],
    ),
)
@relation("alpha", _all_scaled_away)
def mobilenet_v1(
    stem_filters: Pos = 32,
    stem_strides: Pos = 2,
    blocks: list[tuple[Pos, Pos]] = MOBILENET_V1_BLOCKS,
    alpha: Annotated[float, Field(gt=0.0)] = 1.0,
    depth_multiplier: Pos = 1,
    activation: Activation = "relu6",
    bn_momentum: Momentum = 0.99,
) -> Any:
    """MobileNet v1 body (Howard et al. 2017): a 3x3 conv stem and separable blocks.

    The width multiplier is one parameter of the whole body, because the paper (and
    keras.applications.MobileNet) scale every layer together: each layer has int(filters *
    alpha) filters, so `alpha` is one search dimension. `blocks` lists [filters, stride] of the
    separable blocks (default: the 13 of the ImageNet network); depth_multiplier is the
    resolution-free depthwise multiplier. No pooling or classifier: follow with
    global_avg_pool (and dropout) as keras.applications.MobileNet does.
    """

    def apply(x: Any) -> Any:
        act = activation or "linear"
        stem = int(stem_filters * alpha)
        x = _bn_act(_conv(x, stem, 3, "mobilenet_v1", strides=stem_strides), act, bn_momentum)
        for filters, strides in blocks:
            f = int(filters * alpha)
            x = _separable(x, f, strides, depth_multiplier, 3, act, "mobilenet_v1", bn_momentum)
        return x

    return apply


def _convnext_unit(x: Any, kernel: int, expansion: int, layer_scale: float, eps: float) -> Any:
    from keras import initializers, layers

    channels = x.shape[-1]
    depthwise = _layer("depthwise", x, "convnext_stage")
    y = depthwise(kernel, padding="same", use_bias=True)(x)
    y = layers.LayerNormalization(epsilon=eps)(y)
    y = layers.Dense(expansion * channels, activation="gelu")(y)
    y = layers.Dense(channels)(y)
    if layer_scale > 0:  # a per-channel scale: a 1x1 depthwise convolution without bias
        y = depthwise(1, use_bias=False, depthwise_initializer=initializers.Constant(layer_scale))(
            y
        )
    return layers.Add()([x, y])


@block(
    "convnext_stage",
    consumes_sequence=True,
    example=(
        IMG,
        [{"convnext_stage": {"blocks": 1, "filters": 4, "downsample": True}}, "global_avg_pool"],
    ),
)
def convnext_stage(
    blocks: Pos = 3,
    filters: Pos = 96,
    downsample: bool = False,
    kernel_size: Pos = 7,
    expansion: Pos = 4,
    layer_scale: Annotated[float, Field(ge=0.0)] = 1e-6,
    epsilon: Annotated[float, Field(gt=0.0)] = 1e-6,
) -> Any:
    """ConvNeXt stage (Liu et al. 2022): optional LayerNorm + 2x strided conv, then blocks.

    Block: depthwise kernel_size conv, LayerNorm, Dense(expansion * filters) + GELU,
    Dense(filters), layer scale (initial value `layer_scale`, 0 = none; a per-channel 1x1
    depthwise convolution), residual addition. Without downsample the input must already have
    `filters` channels (after the stem: conv 4x4 stride 4 + layernorm). Stochastic depth is not
    applied.
    """

    def apply(x: Any) -> Any:
        from keras import layers

        if downsample:
            x = layers.LayerNormalization(epsilon=epsilon)(x)
            x = _conv(x, filters, 2, "convnext_stage", strides=2, use_bias=True, padding="valid")
        elif x.shape[-1] != filters:
            raise ValueError(
                f"convnext_stage: the input has {x.shape[-1]} channels but filters={filters}; "
                "set downsample: true or give the stem that many filters"
            )
        for _ in range(blocks):
            x = _convnext_unit(x, kernel_size, expansion, layer_scale, epsilon)
        return x

    return apply
