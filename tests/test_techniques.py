"""Training techniques a spec declares, each checked on real tiny Keras trainings:
optimizers, learning-rate schedules, gradient clipping, weight penalties, augmentation,
label smoothing, class weights, early stopping and transfer learning from a tracked run."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.optim import OPTIMIZERS, SCHEDULES
from suite.spec.schema import ModelSpec, Train
from suite.spec.signature import unwrap
from suite.tasks import TASKS

CLS = TASKS.get("classification")


def _digits(n: int = 120) -> Any:
    from suite.data import prepare

    return prepare("digits", {}, max_examples=n, seed=0)


def _model(layers: list[Any], shape: tuple[int, ...] = (8, 8, 1), outputs: int = 10) -> Any:
    import keras

    from suite.build import build_model
    from suite.transfer import resolving

    keras.utils.set_random_seed(0)
    spec = ModelSpec.model_validate({"layers": layers})
    with resolving():  # `pretrained` blocks find their runs in the tracking store
        return build_model(spec.layers, shape, CLS, outputs)


SMALL = [{"conv2d": {"filters": 4}}, "flatten", {"dense": {"units": 8}}]


def _fit(recipe: dict[str, Any], layers: list[Any] = SMALL, data: Any = None, **kw: Any) -> Any:
    from suite.train import fit

    data = data if data is not None else _digits()
    model = _model(layers, data.input_shape, data.num_classes)
    result = fit(
        model,
        data,
        Train.model_validate(recipe),
        CLS,
        monitor=kw.pop("monitor", "val_accuracy"),
        direction=kw.pop("direction", "maximize"),
        **kw,
    )
    return model, result, data


# -- optimizers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"sgd": {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}}, {"momentum": 0.8}),
        ({"adam": {"beta_1": 0.8}}, {"beta_1": 0.8}),
        ({"adamw": {"weight_decay": 0.01}}, {"weight_decay": 0.01}),
        ({"rmsprop": {"rho": 0.8, "momentum": 0.5}}, {"rho": 0.8, "momentum": 0.5}),
        ("nadam", {}),
    ],
)
def test_optimizers_take_their_parameters_and_train(spec: Any, expected: dict[str, Any]) -> None:
    model, result, _ = _fit({"epochs": 1, "batch_size": 32, "optimizer": spec})
    opt = model.optimizer
    for k, v in expected.items():
        assert getattr(opt, k) == pytest.approx(v)
    if isinstance(spec, dict) and "sgd" in spec:
        assert opt.nesterov is True
    assert result.epochs == 1 and math.isfinite(result.history["loss"][0])


def test_every_optimizer_is_tested() -> None:
    assert sorted(OPTIMIZERS) == ["adam", "adamw", "nadam", "rmsprop", "sgd"]


# -- learning-rate schedules -----------------------------------------------------------------


def _rates(spec: Any, epochs: int, base: float = 1.0) -> list[float]:
    name, params = unwrap(Train.model_validate({"schedule": spec}).schedule)
    sched = SCHEDULES.get(name)(**params)
    return [sched.rate(e, base, epochs) for e in range(epochs)]


def test_step_decay_rates() -> None:
    assert _rates({"step": {"every": 2, "factor": 0.5}}, 5) == [1, 1, 0.5, 0.5, 0.25]


def test_cosine_rates_with_warmup() -> None:
    rates = _rates({"cosine": {"warmup_epochs": 2, "min_factor": 0.1}}, 6)
    assert rates[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    after = rates[2:]
    assert all(a > b for a, b in itertools.pairwise(after))  # decreasing
    t = 3 / 4  # the last epoch: 3 of 4 decay epochs done
    assert rates[-1] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def test_warmup_alone_rises_then_holds() -> None:
    assert _rates({"warmup": {"epochs": 3}}, 5) == pytest.approx([0.25, 0.5, 0.75, 1, 1])


def test_the_schedule_sets_the_rate_of_each_epoch_and_history_logs_it() -> None:
    recipe = {
        "epochs": 4,
        "batch_size": 64,
        "optimizer": {"sgd": {"learning_rate": 0.08}},
        "schedule": {"cosine": {"warmup_epochs": 1}},
    }
    _, result, _ = _fit(recipe)
    want = [0.08 * r for r in _rates({"cosine": {"warmup_epochs": 1}}, 4)]
    assert result.history["learning_rate"] == pytest.approx(want, rel=1e-6)


def test_reduce_on_plateau_lowers_the_rate_when_the_monitor_stalls() -> None:
    recipe = {
        "epochs": 4,
        "batch_size": 64,
        "optimizer": {"adam": {"learning_rate": 0.01}},
        # a min_delta no change can beat: every epoch after the first is a stall
        "schedule": {
            "plateau": {"monitor": "loss", "factor": 0.5, "patience": 1, "min_delta": 1e3}
        },
    }
    _, result, _ = _fit(recipe)
    assert result.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005, 0.0025])


def test_no_schedule_keeps_the_history_as_it_was() -> None:
    _, result, _ = _fit({"epochs": 1, "batch_size": 64})
    assert "learning_rate" not in result.history


# -- gradient clipping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clip", "bound"),
    [({"clipvalue": 1e-3}, 1e-3), ({"clipnorm": 1e-3}, 1e-3), ({"global_clipnorm": 1e-3}, 1e-3)],
)
def test_clipping_bounds_each_update(clip: dict[str, float], bound: float) -> None:
    """Plain SGD at rate 1: a weight moves by its clipped gradient, so by at most `bound`."""
    from suite.train import compile_model

    data = _digits()
    model = _model(SMALL)
    recipe = Train.model_validate(
        {"optimizer": {"sgd": {"learning_rate": 1.0, "momentum": 0.0}}, **clip}
    )
    compile_model(model, recipe, CLS)
    name = next(iter(clip))
    assert getattr(model.optimizer, name) == pytest.approx(bound)
    before = [w.copy() for w in model.get_weights()]
    model.fit(data.train.x, data.train.y, batch_size=len(data.train), epochs=1, verbose=0)
    moved = [np.abs(a - b).max() for a, b in zip(model.get_weights(), before, strict=True)]
    assert max(moved) <= bound * (1 + 1e-4)
    assert max(moved) > bound / 100  # it did train


def test_one_kind_of_clipping_at_a_time() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="only one of clipnorm, clipvalue"):
        Train.model_validate({"clipnorm": 1.0, "global_clipnorm": 1.0})


# -- weight penalties ------------------------------------------------------------------------

PENALIZED = [
    {"conv2d": {"filters": 3}},
    {"reshape": {"shape": [64, 3]}},
    {"gru": {"units": 4}},
    {"dense": {"units": 5}},
]


def test_weight_penalty_adds_exactly_its_value_to_the_loss(tmp_path: Path) -> None:
    import keras

    from suite.train import compile_model

    data = _digits(60)
    x, y = data.train.x, data.train.y
    model = _model(PENALIZED)
    compile_model(model, Train(), CLS)
    plain = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["loss"]
    l1, l2 = 1e-3, 1e-2
    compile_model(model, Train.model_validate({"weight_penalty": {"l1": l1, "l2": l2}}), CLS)
    penalized = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["loss"]
    kernels = [
        w
        for layer in model.layers
        for name, w in zip([v.name for v in layer.weights], layer.get_weights(), strict=True)
        if name.endswith("kernel")
    ]
    assert len(kernels) == 5  # conv, gru kernel and recurrent kernel, dense, head
    expected = sum(l1 * np.abs(k).sum() + l2 * np.square(k).sum() for k in kernels)
    assert penalized - plain == pytest.approx(expected, rel=1e-4)
    assert expected > 0.01 * plain  # large enough to be seen

    model.fit(x, y, epochs=1, batch_size=30, verbose=0)
    path = tmp_path / "penalized.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


# -- augmentation ----------------------------------------------------------------------------

AUGMENTS = {
    "random_flip": {"mode": "horizontal"},
    "random_rotation": {"factor": 0.2},
    "random_translation": {"height": 0.25},
    "random_zoom": {"factor": 0.3},
    "random_contrast": {"factor": 0.5},
    "augment": {"flip": "vertical", "rotation": 0.1, "zoom": 0.1, "contrast": 0.2},
}


@pytest.mark.parametrize("name", sorted(AUGMENTS))
def test_augmentation_changes_inputs_in_training_only(name: str) -> None:
    import keras

    from suite.build import apply_layer

    keras.utils.set_random_seed(1)
    spec = ModelSpec.model_validate({"layers": [{name: AUGMENTS[name]}]})
    inputs = keras.Input((8, 8, 2))
    model = keras.Model(inputs, apply_layer(inputs, spec.layers[0], "model.layers[0]"))
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 2)).astype("float32")
    x[:, :, :4] *= 0.2  # not symmetric, so that a flip shows
    train = keras.ops.convert_to_numpy(model(x, training=True))
    infer = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(infer, x)
    assert train.shape == x.shape
    assert np.abs(train - x).max() > 1e-3


def test_every_augmentation_block_is_tested() -> None:
    from suite.blocks import BLOCKS

    assert {n for n in BLOCKS if n.startswith("random_") or n == "augment"} == set(AUGMENTS)


# -- label smoothing -------------------------------------------------------------------------


def test_label_smoothing_loss_matches_smoothed_one_hot_targets() -> None:
    from suite.train import loss_for

    loss = loss_for(Train.model_validate({"label_smoothing": 0.2}), CLS)
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], dtype="float32")
    y = np.array([0, 2, 0])
    target = np.full((3, 3), 0.2 / 3) + 0.8 * np.eye(3)[y]
    want = float(np.mean(-(target * np.log(p)).sum(axis=1)))
    assert float(loss(y, p)) == pytest.approx(want, rel=1e-5)
    assert float(loss(y[:, None], p)) == pytest.approx(want, rel=1e-5)  # (n, 1) labels too
    assert loss_for(Train(), CLS) == "sparse_categorical_crossentropy"  # default: unchanged


def test_label_smoothed_model_trains_and_reloads_safely(tmp_path: Path) -> None:
    import keras

    model, result, data = _fit({"epochs": 1, "batch_size": 32, "label_smoothing": 0.1})
    assert math.isfinite(result.history["loss"][0])
    path = tmp_path / "smoothed.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.loss.label_smoothing == pytest.approx(0.1)
    assert loaded.evaluate(data.val.x, data.val.y, verbose=0) == pytest.approx(
        model.evaluate(data.val.x, data.val.y, verbose=0), rel=1e-5
    )


def test_label_smoothing_needs_a_classification_loss() -> None:
    from suite.train import loss_for

    regression = dataclasses.replace(CLS, name="regression", loss="mse")
    with pytest.raises(ValueError, match="label_smoothing applies to classification"):
        loss_for(Train.model_validate({"label_smoothing": 0.1}), regression)


# -- class weights ---------------------------------------------------------------------------


def test_balanced_class_weights_are_inverse_frequencies() -> None:
    from suite.train import class_weights

    y = np.array([0, 0, 0, 1, 2, 2])
    w = class_weights(Train.model_validate({"class_weight": "balanced"}), y, 4)
    assert w == pytest.approx({0: 6 / 12, 1: 6 / 4, 2: 6 / 8, 3: 1.0})
    given = class_weights(Train.model_validate({"class_weight": {1: 3}}), y, 3)
    assert given == {0: 1.0, 1: 3.0, 2: 1.0}
    with pytest.raises(ValueError, match=r"class\(es\) \[5\] do not exist"):
        class_weights(Train.model_validate({"class_weight": {5: 2}}), y, 3)


def test_class_weights_weight_the_training_loss() -> None:
    """One full batch at a negligible rate: the loss is the class-weighted mean."""
    data = _digits(150)
    weights = {c: 1.0 + c for c in range(10)}
    recipe = {
        "epochs": 1,
        "batch_size": 1000,
        "optimizer": {"sgd": {"learning_rate": 1e-9, "momentum": 0.0}},
    }
    losses = []
    for cw in (None, weights):
        model = _model(SMALL)
        p = model.predict(data.train.x, verbose=0)
        per = -np.log(p[np.arange(len(p)), data.train.y])
        _, result, _ = _fit({**recipe, "class_weight": cw}, data=data)
        w = np.ones(len(per)) if cw is None else np.array([cw[c] for c in data.train.y])
        assert result.history["loss"][0] == pytest.approx(float(np.mean(w * per)), rel=1e-4)
        losses.append(result.history["loss"][0])
    assert losses[1] > losses[0] * 1.5


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_restores_the_best_epoch_it_reports() -> None:
    from suite.train import evaluate

    recipe = {
        "epochs": 8,
        "batch_size": 16,
        "optimizer": {"adam": {"learning_rate": 0.05}},
        "early_stopping": {"monitor": "val_loss", "patience": 1},
    }
    model, result, data = _fit(recipe, layers=[*SMALL, {"dense": {"units": 64}}])
    val = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(val))  # the epoch early stopping kept ...
    now = evaluate(model, data.val.x, data.val.y, 16)["loss"]
    assert now == pytest.approx(val[result.best_epoch], rel=1e-4)  # ... and the model holds
    assert result.best["val_accuracy"] == result.history["val_accuracy"][result.best_epoch]
    if result.stop == "early_stopped":
        assert result.epochs < 8 and result.epochs - 1 - result.best_epoch >= 1


def test_without_restoring_the_best_epoch_is_the_monitors() -> None:
    recipe = {
        "epochs": 3,
        "batch_size": 32,
        "early_stopping": {"monitor": "val_loss", "patience": 5, "restore_best_weights": False},
    }
    _, result, _ = _fit(recipe)
    acc = result.history["val_accuracy"]
    assert acc[result.best_epoch] == max(acc)


# -- transfer learning -----------------------------------------------------------------------

SOURCE = """
name: source
data: {name: digits, max_examples: 200}
candidates:
  cnn:
    model:
      layers:
        - conv2d: {filters: 6}
        - batchnorm
        - flatten
        - dense: {units: 16}
train: {epochs: 2, batch_size: 32}
search: {trials: 1}
seeds: 0
"""


@pytest.fixture
def source_run(results: Path, tmp_path: Path) -> str:
    """A tiny benchmark run; its best trial's run id."""
    from mlflow.tracking import MlflowClient

    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_tracking_uri

    path = tmp_path / "source.yaml"
    path.write_text(SOURCE)
    run(load(path))
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("source")
    (parent,) = client.search_runs(
        [exp.experiment_id], filter_string="tags.`suite.kind` = 'candidate'"
    )
    return str(parent.data.tags["suite.best_run"])


def _weights(layer: Any) -> list[np.ndarray]:
    return [np.array(w) for w in layer.get_weights()]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_pretrained_layers_stay_frozen_then_fine_tune(source_run: str, tmp_path: Path) -> None:
    import keras

    from suite.blocks.saved import load_model
    from suite.build import build_model
    from suite.train import fit
    from suite.transfer import download, resolving

    data = _digits(200)
    saved = load_model(download(source_run))
    spec = ModelSpec.model_validate(
        {"layers": [{"pretrained": {"run": source_run}}, {"dense": {"units": 12}}]}
    )
    with resolving():
        model = build_model(spec.layers, data.input_shape, CLS, data.num_classes)
    part = model.layers[1]
    assert part.name == f"pretrained_{source_run[:8]}" and not part.trainable
    # every layer of the saved model but its head, with the saved weights
    assert [lay.name for lay in part.layers] == [lay.name for lay in saved.layers[:-1]]
    assert _same(_weights(part), [w for lay in saved.layers[:-1] for w in _weights(lay)])

    seen: list[tuple[list[np.ndarray], list[np.ndarray]]] = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seen.append((_weights(part), _weights(model.get_layer("head"))))

    start = (_weights(part), _weights(model.get_layer("head")))
    recipe = Train.model_validate(
        {
            "epochs": 1,
            "batch_size": 32,
            "fine_tune": {"epochs": 1, "learning_rate_factor": 0.5},
        }
    )
    result = fit(
        model,
        data,
        recipe,
        CLS,
        monitor="val_accuracy",
        direction="maximize",
        callbacks=[Snapshot()],
    )
    assert result.epochs == 2 and len(result.history["loss"]) == 2
    assert result.history["learning_rate"] == pytest.approx([1e-3, 5e-4])
    (main_part, main_head), (tuned_part, _) = seen
    assert _same(main_part, start[0])  # frozen through the main phase (batchnorm stats too)
    assert not _same(main_head, start[1])  # while the new layers trained
    assert not _same(tuned_part, main_part)  # fine-tuning trained the pretrained layers
    assert part.trainable

    path = tmp_path / "tuned.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        again.predict(data.val.x, verbose=0), model.predict(data.val.x, verbose=0), atol=1e-6
    )


def test_a_benchmark_starts_from_a_tracked_run(source_run: str, tmp_path: Path) -> None:
    """The runner hands its tracking store to `pretrained`; fine-tuning epochs are logged."""
    from mlflow.tracking import MlflowClient

    from suite.runner import run
    from suite.spec.load import load
    from suite.stores import default_tracking_uri

    text = f"""
name: target
data: {{name: digits, max_examples: 200}}
candidates:
  transfer:
    model:
      layers:
        - pretrained: {{run: {source_run}, until: 2}}
        - flatten
train:
  epochs: 1
  batch_size: 32
  fine_tune: {{epochs: 1, unfreeze: -3}}
search:
  trials: 1
seeds: 0
"""
    path = tmp_path / "target.yaml"
    path.write_text(text)
    (summary,) = run(load(path))
    assert summary.error is None and [o.state for o in summary.outcomes] == ["COMPLETE"]
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("target")
    (trial,) = client.search_runs([exp.experiment_id], filter_string="tags.`suite.kind` = 'trial'")
    assert trial.data.metrics["epochs"] == 2
    rates = client.get_metric_history(trial.info.run_id, "learning_rate")
    assert [m.value for m in sorted(rates, key=lambda m: m.step)] == pytest.approx([1e-3, 1e-4])


def test_pretrained_errors_name_the_problem(source_run: str) -> None:
    import keras

    from suite.build import BuildError, build_model

    with pytest.raises(BuildError, match=r"model\.layers\[0\] \(pretrained\).*until='nope'"):
        _model([{"pretrained": {"run": source_run, "until": "nope"}}, "flatten"])
    with pytest.raises(BuildError, match=r"cannot fetch 'model/model\.keras' of run 'missing'"):
        _model([{"pretrained": {"run": "missing"}}, "flatten"])
    with pytest.raises(
        BuildError, match=r"takes inputs of shape \(8, 8, 1\); this input is \(8, 8, 2\)"
    ):
        _model([{"pretrained": {"run": source_run}}], shape=(8, 8, 2))
    # blocks know no tracking store: built without a resolver, the block says so
    spec = ModelSpec.model_validate({"layers": [{"pretrained": {"run": source_run}}, "flatten"]})
    keras.utils.set_random_seed(0)
    with pytest.raises(BuildError, match="no model resolver is set"):
        build_model(spec.layers, (8, 8, 1), CLS, 10)


def test_unfreeze_from_a_layer_keeps_earlier_ones_frozen() -> None:
    import keras

    from suite.blocks.pretrained import flat_layers, unfreeze

    inner_in = keras.Input((4,))
    inner = keras.Model(
        inner_in,
        keras.layers.Dense(3, name="b")(keras.layers.Dense(3, name="a")(inner_in)),
        name="inner",
    )
    inner.trainable = False
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2, name="c")(inner(x)))
    assert [lay.name for lay in flat_layers(model)] == ["a", "b", "c"]
    unfreeze(model, "b")
    assert [lay.trainable for lay in flat_layers(model)] == [False, True, True]
    assert {w.path.split("/")[-2] for w in model.trainable_weights} == {"b", "c"}
    with pytest.raises(ValueError, match="no layer named 'z'; the layers are a, b, c"):
        unfreeze(model, "z")
    unfreeze(model, "all")
    assert all(lay.trainable for lay in flat_layers(model))


# -- the spec ---------------------------------------------------------------------------------

BENCH = """
name: techniques
data: {name: digits}
candidates:
  mlp: {model: {layers: [flatten, {dense: {units: 8}}]}}
train:
  optimizer: {sgd: {nesterov: true}}
  schedule: {cosine: {warmup_epochs: 1}}
  weight_penalty: {l2: 1.0e-4}
  label_smoothing: 0.1
  class_weight: balanced
  global_clipnorm: 1.0
  fine_tune: {epochs: 2}
search:
  space:
    train.schedule.cosine.warmup_epochs: {int: [0, 3]}
    train.weight_penalty.l2: {float: [1.0e-6, 1.0e-3], log: true}
    train.label_smoothing: {float: [0.0, 0.2]}
    train.fine_tune.learning_rate_factor: {float: [0.01, 0.5], log: true}
"""


def test_techniques_are_declared_and_searchable(tmp_path: Path) -> None:
    from suite.spec.candidates import candidates
    from suite.spec.load import load

    path = tmp_path / "b.yaml"
    path.write_text(BENCH)
    bench = load(path)
    (cand,) = candidates(bench)
    concrete = cand.concrete(
        {
            "train.schedule.cosine.warmup_epochs": 3,
            "train.weight_penalty.l2": 1e-5,
            "train.label_smoothing": 0.15,
            "train.fine_tune.learning_rate_factor": 0.02,
        }
    )
    assert concrete.train.schedule.cosine.warmup_epochs == 3
    assert concrete.train.weight_penalty.l2 == 1e-5
    assert concrete.train.label_smoothing == 0.15
    assert concrete.train.fine_tune.learning_rate_factor == 0.02
    assert cand.defaults()["train.schedule.cosine.warmup_epochs"] == 1


def test_technique_errors_point_into_the_spec(tmp_path: Path) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load

    path = tmp_path / "b.yaml"
    path.write_text(BENCH)
    cases = {
        "train.schedule={cosin: {}}": "schedule",
        "train.label_smoothing=1.5": "label_smoothing",
        "search.space.train.label_smoothing={float: [0.0, 1.0]}": "label_smoothing",
        "train.clipnorm=1.0": "only one of clipnorm",
    }
    for override, where in cases.items():
        with pytest.raises(SpecError) as err:
            load(path, [override])
        assert where in str(err.value), (override, str(err.value))


@pytest.mark.parametrize(("monitor", "mode"), [("val_mae", "min"), ("val_accuracy", "max")])
def test_early_stopping_and_plateau_follow_the_metric_direction(monitor: str, mode: str) -> None:
    from suite.optim import SCHEDULES
    from suite.spec.schema import Train
    from suite.train import _early_stopping

    recipe = Train.model_validate({"early_stopping": {"monitor": monitor}})
    assert _early_stopping(recipe).mode == mode
    plateau = SCHEDULES.get("plateau")(monitor=monitor).callback(1e-3, 5)
    assert plateau.mode == mode
