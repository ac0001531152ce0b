"""Contract over the model library in specs/models: each spec builds at its reference input,
matches its published parameter count, trains one step and round-trips through .keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.spec.load import load
from suite.spec.schema import ModelSpec
from suite.tasks import TASKS

MODELS = Path(__file__).resolve().parents[1] / "specs" / "models"
SPECS = sorted(MODELS.glob("*.yaml"))


def _spec(path: Path) -> ModelSpec:
    spec = load(path)
    assert isinstance(spec, ModelSpec), f"{path.name} is not a model spec"
    return spec


def _build(spec: ModelSpec, shape: tuple[int, ...], outputs: int) -> Any:
    from suite.build import build_model

    task = TASKS.get(spec.reference.task if spec.reference else "classification")
    return build_model(spec.layers, shape, task, outputs, vocab_size=50)  # for embeddings


def test_the_library_is_not_empty() -> None:
    assert len(SPECS) >= 3


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_model_spec_states_its_reference(path: Path) -> None:
    spec = _spec(path)
    assert spec.reference is not None, f"{path.name}: add a `reference` (input shape, source)"
    assert spec.description, f"{path.name}: add a one-line description"
    assert spec.family != "custom", f"{path.name}: set the family"


@pytest.mark.parametrize(
    "path",
    [p for p in SPECS if (_spec(p).reference and _spec(p).reference.trainable_params)],
    ids=lambda p: p.stem,
)
def test_model_spec_has_the_published_parameter_count(path: Path) -> None:
    from suite.build import trainable_params

    spec = _spec(path)
    ref = spec.reference
    assert ref is not None
    model = _build(spec, tuple(ref.input_shape), ref.outputs)
    assert trainable_params(model) == ref.trainable_params, ref.source


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_model_spec_trains_a_step_and_round_trips(path: Path, tmp_path: Path) -> None:
    import keras

    spec = _spec(path)
    ref = spec.reference
    assert ref is not None
    shape = tuple(ref.smoke_shape or ref.input_shape)
    keras.utils.set_random_seed(0)
    model = _build(spec, shape, 3)
    x = np.random.default_rng(0).normal(size=(4, *shape)).astype("float32")
    task = TASKS.get(ref.task)
    y = task.dummy_targets(4, 3, shape)  # class indices, 3-step forecasts or 3-class masks
    # one step run eagerly: tracing a 100-layer graph costs minutes, the step itself does not
    model.compile(optimizer="adam", loss=task.keras_loss(), run_eagerly=True)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    file = tmp_path / f"{path.stem}.keras"
    model.save(file)
    loaded = keras.saving.load_model(file, safe_mode=True)
    np.testing.assert_allclose(
        np.asarray(loaded(x, training=False)),
        np.asarray(model(x, training=False)),
        rtol=1e-4,
        atol=1e-5,
    )
