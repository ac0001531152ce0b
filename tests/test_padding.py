"""Series of unequal length: padding and truncation in the data layer, the mask the model
builder adds for them, and a tiny GRU trained end to end on an unequal-length UCR problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.data import DATASETS, DataError, clear_cache, prepare
from suite.data import ucr as ucr_mod
from suite.data.padding import lengths, mask_value_for, pad_series, truncate
from suite.spec.schema import ModelSpec
from suite.tasks import TASKS

LENGTHS = (3, 9, 5, 1, 7)
FEATURES = 2


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUITE_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()
    yield
    clear_cache()


def _series(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, FEATURES)).astype(np.float32) for n in LENGTHS]


# --- the data layer: truncate, pad, pick the padding value ------------------------------------


def test_pad_and_truncate_keep_each_series_where_the_side_says() -> None:
    series = _series()
    longest = max(LENGTHS)
    post = pad_series(series, longest, "post", 0.0)
    pre = pad_series(series, longest, "pre", 0.0)
    assert post.shape == pre.shape == (len(LENGTHS), longest, FEATURES)
    for i, s in enumerate(series):
        np.testing.assert_array_equal(post[i, : len(s)], s)
        np.testing.assert_array_equal(pre[i, longest - len(s) :], s)
        assert (post[i, len(s) :] == 0).all() and (pre[i, : longest - len(s)] == 0).all()
    assert lengths(post, 0.0).tolist() == lengths(pre, 0.0).tolist() == list(LENGTHS)
    cut_end, cut_start = truncate(series, 4, "post"), truncate(series, 4, "pre")
    assert [len(s) for s in cut_end] == [min(n, 4) for n in LENGTHS]
    np.testing.assert_array_equal(cut_end[1], series[1][:4])
    np.testing.assert_array_equal(cut_start[1], series[1][-4:])
    assert truncate(series, None, "post") == series


def test_the_padding_value_never_equals_a_real_step() -> None:
    series = _series()
    assert mask_value_for(series) == 0.0
    series[2][1] = 0.0  # a real step of zeros: 0.0 would mask it
    value = mask_value_for(series)
    assert value < min(float(s.min()) for s in series) and value == int(value)
    padded = pad_series(series, max(LENGTHS), "post", value)
    assert lengths(padded, value).tolist() == list(LENGTHS)


# --- the model: masked layers see each series as if unpadded -----------------------------------

STACKS: dict[str, list[Any]] = {
    "gru": [{"gru": {"units": 4}}],
    "lstm": [{"lstm": {"units": 4}}],
    "simple_rnn": [{"simple_rnn": {"units": 4}}],
    "bidirectional_gru": [{"bidirectional": {"layer": {"gru": {"units": 3}}}}],
    "gru_avg_pool": [{"gru": {"units": 4, "return_sequences": True}}, "global_avg_pool"],
    "gru_max_pool": [{"gru": {"units": 4, "return_sequences": True}}, "global_max_pool"],
    "avg_pool": ["global_avg_pool"],
    "max_pool": ["global_max_pool"],
}


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's output on `x`, called eagerly (no predict function traced per model)."""
    import keras

    return keras.ops.convert_to_numpy(model(x, training=False))


def _features(layers: list[Any], steps: int, mask_value: float | None) -> Any:
    """The model the suite builds (Masking first when `mask_value` is set) without its head."""
    import keras

    from suite.build import build_model

    spec = ModelSpec.model_validate({"layers": layers})
    model = build_model(
        spec.layers, (steps, FEATURES), TASKS.get("classification"), 3, mask_value=mask_value
    )
    return keras.Model(model.input, model.get_layer("head").input), model


@pytest.mark.parametrize("side", ["post", "pre"])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_padded_masked_batch_equals_each_unpadded_series(name: str, side: str) -> None:
    import keras

    keras.utils.set_random_seed(0)
    series = [s - 3.0 for s in _series()]  # below the zeroed padding: a max pool must skip it
    series[0][0] = 0.0  # a real all-zero step: the padding value must not be 0.0 then
    value = mask_value_for(series)
    batch = pad_series(series, max(LENGTHS), side, value)  # type: ignore[arg-type]
    padded, full = _features(STACKS[name], max(LENGTHS), value)
    assert full.layers[1].name == "padding"  # the Masking layer, right after the inputs
    got = _run(padded, batch)
    for i, s in enumerate(series):
        alone, whole = _features(STACKS[name], len(s), None)
        whole.set_weights(full.get_weights())
        want = _run(alone, s[None])[0]
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-5, err_msg=f"series {i}")


def test_without_the_mask_padding_changes_an_rnn_and_a_max_pool() -> None:
    import keras

    keras.utils.set_random_seed(0)
    series = [s + 5.0 for s in _series()]  # every real value above the padding's zeros
    batch = pad_series(series, max(LENGTHS), "post", 0.0)
    for layers in (STACKS["gru"], [{"simple_rnn": {"units": 4, "return_sequences": True}}]):
        layers = [*layers, "global_max_pool"] if "return_sequences" in str(layers) else layers
        padded, full = _features(layers, max(LENGTHS), None)
        alone, whole = _features(layers, LENGTHS[0], None)
        whole.set_weights(full.get_weights())
        gap = np.abs(_run(padded, batch[:1]) - _run(alone, series[0][None])).max()
        assert gap > 1e-3


def test_convolutions_see_zeros_where_the_padding_is(recwarn: pytest.WarningsRecorder) -> None:
    """What the README says: a convolution ignores the mask; the Masking layer has zeroed the
    padded steps, so it reads them as zeros, whatever the padding value was."""
    import keras

    keras.utils.set_random_seed(0)
    series = _series()
    layers: list[Any] = [{"conv1d": {"filters": 3, "kernel_size": 3}}, "global_avg_pool"]
    steps = max(LENGTHS)
    masked, _ = _features(layers, steps, -7.0)
    plain, _ = _features(layers, steps, None)
    plain.set_weights(masked.get_weights())
    np.testing.assert_allclose(
        masked.predict(pad_series(series, steps, "post", -7.0), verbose=0),
        plain.predict(pad_series(series, steps, "post", 0.0), verbose=0),
        rtol=0,
        atol=1e-5,
    )
    alone, _ = _features(layers, LENGTHS[0], None)  # the padded zeros move the average
    alone.set_weights(masked.get_weights())
    first = masked.predict(pad_series(series, steps, "post", -7.0)[:1], verbose=0)
    assert np.abs(first - alone.predict(series[0][None], verbose=0)).max() > 1e-4
    assert not [w for w in recwarn if "mask attached" in str(w.message)]  # documented instead


def test_the_masked_max_pool_saves_and_reloads(tmp_path: Path) -> None:
    import keras

    from suite.blocks.saved import load_model

    _, model = _features(STACKS["gru_max_pool"], max(LENGTHS), -1.0)
    x = pad_series(_series(), max(LENGTHS), "pre", -1.0)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras", compile=False)
    assert isinstance(again, keras.Model)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


# --- UCR problems of unequal length, read offline ----------------------------------------------


def _need_ucr(name: str) -> None:
    if ucr_mod.locate(name, ucr_mod.ucr_roots()) is None:
        pytest.skip(f"UCR files for {name} not found (pip install --no-deps aeon)")


def test_unequal_length_ucr_problems_are_padded_and_say_so() -> None:
    _need_ucr("JapaneseVowels")
    raw = DATASETS.get("ucr")(problem="JapaneseVowels")
    assert raw.x_train.shape[0] == 270 and raw.x_test.shape[0] == 370
    assert raw.x_train.shape[2] == 12 and raw.mask_value is not None
    n = np.concatenate([lengths(x, raw.mask_value) for x in (raw.x_train, raw.x_test)])
    assert n.min() < n.max() == raw.x_train.shape[1]  # padded up to the longest series
    ds = prepare("ucr", {"problem": "JapaneseVowels", "pad": "pre", "max_length": 20})
    assert ds.input_shape == (20, 12) and ds.meta["mask_value"] == raw.mask_value
    spans = ds.meta["lengths"]
    assert set(spans) == {"train", "val", "test"} and all(hi <= 20 for _, hi in spans.values())
    assert (ds.train.x[:, -1] != raw.mask_value).any(axis=1).all()  # pre: every series ends last
    _need_ucr("PickupGestureWiimoteZ")
    pick = DATASETS.get("ucr")(problem="PickupGestureWiimoteZ")
    real = lengths(pick.x_train, pick.mask_value)
    assert pick.x_train.shape[1:] == (361, 1) and real.min() < 100  # 29 to 361 steps
    assert pick.mask_value != 0.0  # the series hold real steps of exactly 0.0
    _need_ucr("BasicMotions")
    same = prepare("ucr", {"problem": "BasicMotions"})
    assert same.input_shape == (100, 6) and "mask_value" not in same.meta


def test_declared_padding_options_are_checked() -> None:
    from suite.spec.errors import SpecError

    for params, where in (
        ({"max_length": 0}, "data.max_length"),
        ({"pad": "middle"}, "data.pad"),
        ({"truncate": "both"}, "data.truncate"),
    ):
        with pytest.raises(SpecError, match=where):
            prepare("ucr", {"problem": "GunPoint", **params})


def test_unknown_problem_advice_names_only_problems_found_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _need_ucr("PickupGestureWiimoteZ")
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        prepare("ucr", {"problem": "PickupGestureWiimote"})
    msg = str(err.value)
    named = msg.split("Did you mean ")[1].split("?")[0].replace("'", "").split(" or ")
    assert "PickupGestureWiimoteZ" in named
    roots = ucr_mod.ucr_roots()
    assert all(ucr_mod.locate(n, roots) is not None for n in named)
    listed = msg.split("Available: ")[1].split(".\n")[0].split(", ")
    assert all(ucr_mod.locate(n, roots) is not None for n in listed)


def test_ragged_ts_file_from_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    head = "@problemName R\n@univariate false\n@dimensions 2\n@equalLength false\n"
    body = "1,0,3:0,0,4:a\n5,6:7,8:b\n9:10:a\n"  # the first series' step 2 is all zeros
    folder = tmp_path / "ucr" / "R"
    folder.mkdir(parents=True)
    for split in ("TRAIN", "TEST"):
        (folder / f"R_{split}.ts").write_text(head + "@classLabel true a b\n@data\n" + body)
    raw = DATASETS.get("ucr")(problem="R", znormalize=False, pad="post")
    assert raw.x_train.shape == (3, 3, 2) and raw.mask_value == -1.0  # below the lowest, 0
    assert raw.x_train[0].tolist() == [[1, 0], [0, 0], [3, 4]]
    assert raw.x_train[1].tolist() == [[5, 7], [6, 8], [-1, -1]]
    pre = DATASETS.get("ucr")(problem="R", pad="pre", max_length=2, truncate="pre")
    assert pre.x_train[0].tolist() == [[0, 0], [3, 4]]
    assert pre.x_train[2].tolist() == [[-1, -1], [9, 10]]
    (folder / "R_TRAIN.ts").write_text(
        head + "@classLabel true a b\n@data\n1,2,3:4,5:a\n"
    )  # dimensions of one series with unequal lengths
    with pytest.raises(DataError, match="dimensions of one series"):
        DATASETS.get("ucr")(problem="R")


# --- end to end: a tiny GRU on an unequal-length problem ---------------------------------------

SPEC = """
name: varlen-gru
task: classification
data: {name: ucr, problem: JapaneseVowels, max_examples: 18, max_length: 16}
candidates:
  gru: {model: {family: rnn, layers: [{gru: {units: 4}}]}}
train: {epochs: 1, batch_size: 6}
search: {trials: 1, metric: val_accuracy}
seeds: 1
"""


def test_a_gru_trains_on_an_unequal_length_problem(tmp_path: Path) -> None:
    _need_ucr("JapaneseVowels")
    from suite import trial
    from suite.spec.candidates import candidates
    from suite.spec.load import load

    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    bench = load(path)
    data = trial.load_data(bench)
    assert data.meta["mask_value"] is not None and data.input_shape == (16, 12)
    cand = candidates(bench)[0]
    concrete = cand.concrete(cand.defaults())
    task = TASKS.get(bench.task).bind(data)
    result = trial.train(
        task,
        data,
        trial.inputs(task, data, concrete),
        "gru",
        concrete,
        0,
        monitor="val_accuracy",
        direction="maximize",
    )
    assert result.model.get_layer("padding").mask_value == data.meta["mask_value"]
    assert result.fit.epochs == 1 and np.isfinite(result.fit.history["loss"]).all()
    scores = trial.test_metrics(task, data, result, concrete.train.batch_size)
    assert 0.0 <= scores["test_accuracy"] <= 1.0
