"""Contract over the whole block registry: builds, trains a step, round-trips through .keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.blocks import BLOCKS
from suite.blocks.base import EXAMPLES, SEQ
from suite.spec.schema import ModelSpec
from suite.tasks import TASKS


def test_every_block_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(BLOCKS)


def _model(name: str) -> Any:
    from suite.build import build_model

    shape, layers = EXAMPLES[name]
    spec = ModelSpec.model_validate({"layers": layers})
    return build_model(spec.layers, shape, TASKS.get("classification"), 3, name), shape


# `pretrained` loads a tracked run's model; tests/test_techniques.py covers it end to end.
@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - {"pretrained"}))
def test_block_builds_trains_and_round_trips(name: str, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model, shape = _model(name)
    x = np.random.default_rng(0).normal(size=(6, *shape)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=6, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_return_sequences_is_inferred_from_the_next_layer() -> None:
    model, _ = _model("lstm")
    rnns = [layer for layer in model.layers if layer.__class__.__name__ == "LSTM"]
    assert [r.return_sequences for r in rnns] == [True, False]


def test_explicit_return_sequences_wins() -> None:
    from suite.build import build_model

    spec = ModelSpec.model_validate(
        {"layers": [{"gru": {"units": 4, "return_sequences": True}}, "global_avg_pool"]}
    )
    model = build_model(spec.layers, SEQ, TASKS.get("classification"), 2)
    assert model.layers[1].return_sequences is True


def test_shape_mismatch_is_a_build_error_naming_the_layer() -> None:
    from suite.build import BuildError, build_model

    spec = ModelSpec.model_validate({"layers": [{"conv2d": {"filters": 4}}, "flatten"]})
    with pytest.raises(BuildError, match=r"model\.layers\[0\] \(conv2d\)"):
        build_model(spec.layers, SEQ, TASKS.get("classification"), 2)


def test_head_needs_a_vector() -> None:
    from suite.build import BuildError, build_model

    spec = ModelSpec.model_validate({"layers": [{"conv1d": {"filters": 4}}]})
    with pytest.raises(BuildError, match="flatten"):
        build_model(spec.layers, SEQ, TASKS.get("classification"), 2)


def test_lenet5_has_the_canonical_parameter_count() -> None:
    """LeNet-5 (32x32x1, 10 classes): 61,706 trainable parameters."""
    from suite.build import build_model, trainable_params

    layers = [
        {"conv2d": {"filters": 6, "kernel_size": 5, "padding": "valid", "activation": "tanh"}},
        {"avg_pool2d": {"pool_size": 2}},
        {"conv2d": {"filters": 16, "kernel_size": 5, "padding": "valid", "activation": "tanh"}},
        {"avg_pool2d": {"pool_size": 2}},
        "flatten",
        {"dense": {"units": 120, "activation": "tanh"}},
        {"dense": {"units": 84, "activation": "tanh"}},
    ]
    spec = ModelSpec.model_validate({"layers": layers})
    model = build_model(spec.layers, (32, 32, 1), TASKS.get("classification"), 10)
    assert trainable_params(model) == 61_706
