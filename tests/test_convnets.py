"""Behaviour of the CNN family blocks beyond the registry contract: grouping, gating, ranks,
width scaling against keras.applications, and errors that name the block."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from suite.blocks.base import IMG, SEQ
from suite.spec.schema import ModelSpec


def _body(layers: list[Any], shape: tuple[int, ...]) -> Any:
    """A keras.Model of `layers` alone (no head)."""
    import keras

    from suite.build import apply_stack

    spec = ModelSpec.model_validate({"layers": layers})
    inputs = keras.Input(shape=shape)
    return keras.Model(inputs, apply_stack(inputs, spec.layers))


def _params(model: Any) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _of(model: Any, cls: str) -> list[Any]:
    return [layer for layer in model.layers if type(layer).__name__ == cls]


def test_groups_really_group_the_convolution() -> None:
    plain = _body([{"conv_bn": {"filters": 16, "kernel_size": 3}}], (8, 8, 16))
    grouped = _body([{"conv_bn": {"filters": 16, "kernel_size": 3, "groups": 4}}], (8, 8, 16))
    (conv,) = _of(grouped, "Conv2D")
    assert tuple(conv.kernel.shape) == (3, 3, 4, 16)
    bn = 2 * 16
    assert _params(plain) - bn == 3 * 3 * 16 * 16
    assert _params(grouped) - bn == 3 * 3 * 16 * 16 // 4


def test_resnext_bottleneck_width_and_grouped_kernel() -> None:
    layers = [
        {
            "resnet_stage": {
                "blocks": 1,
                "filters": 64,
                "kind": "bottleneck",
                "groups": 32,
                "width_per_group": 4,
            }
        }
    ]
    model = _body(layers, (8, 8, 64))
    kernels = [tuple(c.kernel.shape) for c in _of(model, "Conv2D")]
    # 1x1 to width int(64 * 4 / 64) * 32 = 128, grouped 3x3 (128 / 32 = 4 inputs per group),
    # 1x1 to 64 * 4 = 256, and the projection shortcut 64 -> 256.
    assert sorted(kernels) == sorted(
        [(1, 1, 64, 128), (3, 3, 4, 128), (1, 1, 128, 256), (1, 1, 64, 256)]
    )
    assert model.output.shape[-1] == 256


def test_squeeze_excite_scales_each_channel_by_a_gate_in_0_1() -> None:
    import keras

    keras.utils.set_random_seed(1)
    model = _body([{"squeeze_excite": {"ratio": 0.5}}], (5, 5, 6))
    x = np.random.default_rng(0).uniform(0.5, 2.0, size=(3, 5, 5, 6)).astype("float32")
    gate = model.predict(x, verbose=0) / x
    # one gate per (example, channel), equal at every position, strictly between 0 and 1
    np.testing.assert_allclose(gate, gate[:, :1, :1, :].repeat(5, 1).repeat(5, 2), rtol=1e-5)
    assert ((gate > 0) & (gate < 1)).all()
    dense = _of(model, "Dense")
    assert [d.units for d in dense] == [3, 6]


RANK_GENERIC = [
    {"conv_bn": {"filters": 4, "kernel_size": 3, "strides": 2}},
    {"zero_pad": {"padding": 1}},
    {"squeeze_excite": {"ratio": 0.5}},
    {"vgg_stage": {"convs": 2, "filters": 4}},
    {"resnet_stage": {"blocks": 2, "filters": 4, "strides": 2, "se_ratio": 0.5}},
    {"resnet_stage": {"filters": 2, "kind": "bottleneck", "groups": 2}},
    {"resnet_stage": {"filters": 4, "preactivation": True, "strides": 2}},
    {"dense_block": {"layers": 2, "growth_rate": 3}},
    {"transition": {"compression": 0.5}},
    {"inception": {"conv1": 2, "reduce3": 2, "conv3": 3, "reduce5": 1, "conv5": 2, "pool_proj": 1}},
    {"depthwise_separable": {"filters": 8, "strides": 2, "alpha": 0.5}},
    {"mobilenet_v1": {"alpha": 0.5, "stem_filters": 8, "blocks": [[8, 2], [16, 1]]}},
    {"convnext_stage": {"blocks": 2, "filters": 6, "downsample": True}},
]


@pytest.mark.parametrize("layer", RANK_GENERIC, ids=lambda d: next(iter(d)))
def test_block_works_on_sequences_and_images(layer: dict[str, Any]) -> None:
    seq = _body([layer], SEQ)
    img = _body([layer], (8, 8, SEQ[-1]))  # as many channels as the sequence has features
    assert len(seq.output.shape) == 3 and len(img.output.shape) == 4
    assert seq.output.shape[-1] == img.output.shape[-1]
    seq_layers = {type(x).__name__ for x in seq.layers}
    img_layers = {type(x).__name__ for x in img.layers}
    assert any(n.endswith("1D") for n in seq_layers) and not any(
        n.endswith("2D") for n in seq_layers
    )
    assert any(n.endswith("2D") for n in img_layers) and not any(
        n.endswith("1D") for n in img_layers
    )


def test_one_d_kernels_have_one_spatial_axis() -> None:
    seq = _body([{"conv_bn": {"filters": 4, "kernel_size": 5}}], SEQ)
    img = _body([{"conv_bn": {"filters": 4, "kernel_size": 5}}], IMG)
    assert tuple(_of(seq, "Conv1D")[0].kernel.shape) == (5, SEQ[-1], 4)
    assert tuple(_of(img, "Conv2D")[0].kernel.shape) == (5, 5, IMG[-1], 4)


def test_a_recurrent_layer_before_a_conv_block_returns_sequences() -> None:
    model = _body([{"lstm": {"units": 4}}, {"conv_bn": {"filters": 3}}], SEQ)
    assert _of(model, "LSTM")[0].return_sequences is True
    assert tuple(model.output.shape) == (None, SEQ[0], 3)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 1.0])
def test_mobilenet_width_multiplier_matches_keras_applications(alpha: float) -> None:
    import keras

    from suite.build import build_model
    from suite.tasks import TASKS

    shape = (32, 32, 3)
    layers = [{"mobilenet_v1": {"alpha": alpha}}, "global_avg_pool", "dropout"]
    spec = ModelSpec.model_validate({"layers": layers})
    ours = build_model(spec.layers, shape, TASKS.get("classification"), 10)
    reference = keras.applications.MobileNet(
        input_shape=shape, alpha=alpha, weights=None, classes=10
    )
    assert _params(ours) == _params(reference)


def test_dense_block_and_transition_channels() -> None:
    model = _body(
        [{"dense_block": {"layers": 3, "growth_rate": 5}}, {"transition": {"compression": 0.5}}],
        (8, 8, 6),
    )
    assert tuple(model.output.shape) == (None, 4, 4, (6 + 3 * 5) // 2)
    concat = _of(model, "Concatenate")
    assert [c.output.shape[-1] for c in concat] == [11, 16, 21]


def test_inception_concatenates_its_four_branches() -> None:
    model = _body(
        [{"inception": {"conv1": 3, "reduce3": 2, "conv3": 5, "reduce5": 1, "conv5": 7}}], IMG
    )
    assert model.output.shape[-1] == 3 + 5 + 7 + 32
    assert sorted(tuple(c.kernel.shape)[:2] for c in _of(model, "Conv2D"))[-1] == (5, 5)


def test_convnext_stage_starts_close_to_the_identity() -> None:
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    model = _body([{"convnext_stage": {"blocks": 2, "filters": 8}}], (6, 6, 8))
    y = model.predict(x, verbose=0)
    assert np.abs(y - x).max() < 1e-3  # layer scale starts at 1e-6
    plain = _body([{"convnext_stage": {"blocks": 2, "filters": 8, "layer_scale": 0}}], (6, 6, 8))
    assert _params(model) - _params(plain) == 2 * 8  # one scale per channel and block
    assert np.abs(plain.predict(x, verbose=0) - x).max() > 1e-2


def test_preactivation_leaves_the_sum_unactivated() -> None:
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 4)).astype("float32")
    post = _body([{"resnet_stage": {"filters": 4}}], (6, 6, 4)).predict(x, verbose=0)
    pre = _body([{"resnet_stage": {"filters": 4, "preactivation": True}}], (6, 6, 4))
    assert post.min() >= 0
    assert pre.predict(x, verbose=0).min() < 0


def test_shortcut_auto_bn_normalises_the_identity() -> None:
    auto = _body([{"resnet_stage": {"blocks": 1, "filters": 4}}], (6, 6, 4))
    bn = _body([{"resnet_stage": {"blocks": 1, "filters": 4, "shortcut": "auto_bn"}}], (6, 6, 4))
    proj = _body(
        [{"resnet_stage": {"blocks": 1, "filters": 4, "shortcut": "projection"}}], (6, 6, 4)
    )
    assert _params(bn) - _params(auto) == 2 * 4
    assert _params(proj) - _params(auto) == 4 * 4 + 2 * 4


@pytest.mark.parametrize(
    ("layers", "shape", "match"),
    [
        ([{"conv_bn": {"filters": 6, "groups": 3}}], (4, 4, 4), r"conv_bn: groups=3 must divide"),
        ([{"convnext_stage": {"filters": 8}}], IMG, r"convnext_stage: the input has 2 channels"),
        ([{"zero_pad": {"padding": [1, 2, 3]}}], IMG, r"zero_pad: padding \[1, 2, 3\]"),
        ([{"transition": {"compression": 0.1}}], IMG, r"transition: int\(2 channels"),
        ([{"dense_block": {}}], (2, 4, 4, 3), r"dense_block expects a sequence .* or an image"),
    ],
)
def test_bad_parameters_name_the_block(
    layers: list[Any], shape: tuple[int, ...], match: str
) -> None:
    from suite.build import BuildError, build_model
    from suite.tasks import TASKS

    spec = ModelSpec.model_validate({"layers": [*layers, "flatten"]})
    with pytest.raises(BuildError, match=match):
        build_model(spec.layers, shape, TASKS.get("classification"), 2)


@pytest.mark.parametrize(
    "layer",
    [
        {"mobilenet_v1": {"alpha": 0}},
        {"mobilenet_v1": {"alpha": 0.01}},  # int(32 * 0.01) filters: none
        {"resnet_stage": {"kind": "wide"}},
        {"resnet_stage": {"kernels": [3, 3], "kind": "bottleneck"}},
        {"resnet_stage": {"groups": 2}},  # groups apply to bottleneck blocks
        {"resnet_stage": {"width_per_group": 4, "kind": "bottleneck", "filters": 1}},
        {"conv_bn": {"groups": 3, "filters": 4}},
        {"depthwise_separable": {"alpha": 0.01}},
        {"fcn": {"stages": 2}},  # skips=2 by default: more skips than stages
        {"squeeze_excite": {"ratio": 1.5}},
        {"transition": {"compression": 0}},
    ],
)
def test_out_of_range_parameters_fail_validation_with_their_path(layer: dict[str, Any]) -> None:
    name = next(iter(layer))
    param = next(iter(layer[name])) if name != "fcn" else "skips"  # the first key is at fault
    with pytest.raises(ValidationError) as info:
        ModelSpec.model_validate({"layers": [layer]})
    assert any(name in err["loc"] and param in err["loc"] for err in info.value.errors())


@pytest.mark.parametrize(
    "layer",
    [
        {"conv_bn": {"bn_momentum": 0.9}},
        {"resnet_stage": {"filters": 4, "strides": 2, "shortcut": "auto_bn", "bn_momentum": 0.9}},
        {"resnet_stage": {"filters": 4, "preactivation": True, "bn_momentum": 0.9}},
        {"dense_block": {"layers": 2, "growth_rate": 2, "bn_momentum": 0.9}},
        {"transition": {"bn_momentum": 0.9}},
        {"inception": {"bn_momentum": 0.9}},
        {"vgg_stage": {"filters": 4, "batchnorm": True, "bn_momentum": 0.9}},
        {"mobilenet_v1": {"stem_filters": 4, "blocks": [[4, 2]], "bn_momentum": 0.9}},
    ],
    ids=lambda d: next(iter(d)),
)
def test_bn_momentum_reaches_every_batch_norm(layer: dict[str, Any]) -> None:
    model = _body([layer], IMG)
    momenta = [bn.momentum for bn in _of(model, "BatchNormalization")]
    assert momenta and all(m == pytest.approx(0.9) for m in momenta)
