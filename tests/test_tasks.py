"""Tasks beyond classification: forecasting (windows, baselines, units) and segmentation
(canvas masks, IoU), down to an end-to-end run each."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.data import DataError, prepare
from suite.data.base import Series
from suite.data.canvas import paste, pools
from suite.data.series import errors, naive_forecasts, prepare_series, split_points
from suite.tasks import TASKS


def _series(values: np.ndarray, window: int = 4, horizon: int = 2, **kw: Any) -> Series:
    return Series(
        values=np.asarray(values, dtype=np.float64),
        times=tuple(str(i) for i in range(len(values))),
        unit="u",
        source="test",
        window=window,
        horizon=horizon,
        stride=kw.pop("stride", 1),
        season=kw.pop("season", 3),
    )


def _prepare(s: Series, **kw: Any) -> Any:
    args = {"val_fraction": 0.25, "test_fraction": 0.25, "max_examples": None, "params": {}}
    return prepare_series("tiny", s, **{**args, **kw})


# --- forecasting: windows, splits, scaling, baselines -------------------------------------------


def test_windows_are_chronological_and_never_straddle_a_split() -> None:
    n = 48
    ds = _prepare(_series(np.arange(n) + 100.0, window=5, horizon=3))
    train_end, val_end = split_points(n, 0.25, 0.25)
    assert (train_end, val_end) == (27, 36)
    mean, std = ds.scaling
    bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)}
    for part, (a, b) in bounds.items():
        split = getattr(ds, part)
        assert split.x.shape[1:] == (5, 1) and split.y.shape[1:] == (3,)
        t_in = np.rint(split.x[..., 0] * std + mean).astype(int) - 100  # time index of inputs
        t_out = split.y.astype(int) - 100
        assert t_in.min() >= a and t_out.max() < b, part  # inside its part
        np.testing.assert_array_equal(t_out[:, 0], t_in[:, -1] + 1)  # targets follow inputs
        assert (np.diff(t_in[:, 0]) == 1).all()  # in time order, stride 1
        assert len(split) == (b - a) - 5 - 3 + 1  # every window that fits
    assert ds.meta["periods"] == {"train": "0..26", "val": "27..35", "test": "36..47"}


def test_stride_and_a_part_too_short() -> None:
    ds = _prepare(_series(np.arange(60.0), window=4, horizon=2, stride=3))
    assert (np.diff(ds.train.y[:, 0]) == 3).all()
    with pytest.raises(DataError, match=r"val part has 11 steps, fewer than window \+ horizon"):
        _prepare(_series(np.arange(60.0), window=10, horizon=3, stride=1))


def test_max_examples_keeps_the_windows_next_to_the_boundaries() -> None:
    full = _prepare(_series(np.arange(200.0)))
    capped = _prepare(_series(np.arange(200.0)), max_examples=10)
    np.testing.assert_array_equal(capped.train.y, full.train.y[-10:])
    np.testing.assert_array_equal(capped.val.y, full.val.y[:5])
    np.testing.assert_array_equal(capped.test.y, full.test.y[:5])


def test_scaling_is_fitted_on_the_train_part_only() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(10, 2, size=80)
    ds = _prepare(_series(values))
    train_end, _ = split_points(80, 0.25, 0.25)
    assert ds.scaling == pytest.approx((values[:train_end].mean(), values[:train_end].std()))
    shifted = values.copy()
    shifted[train_end:] += 1000  # later data change nothing about how train is scaled
    other = _prepare(_series(shifted))
    assert other.scaling == pytest.approx(ds.scaling)
    np.testing.assert_array_equal(other.train.x, ds.train.x)
    assert abs(float(ds.train.x.mean())) < 0.3 and float(other.val.x.mean()) > 100


def test_naive_forecasts_by_hand() -> None:
    v = np.array([5.0, 7.0, 6.0, 9.0, 8.0, 11.0])
    out = naive_forecasts(v, np.array([3, 4]), horizon=3, season=2)
    # persistence repeats the last value; seasonal naive takes v[t + h - 2 * ceil(h / 2)]
    np.testing.assert_array_equal(out["persistence"], [[9, 9, 9], [8, 8, 8]])
    np.testing.assert_array_equal(out["seasonal_naive"], [[6, 9, 6], [9, 8, 9]])
    e = errors(np.array([[2.0, 4.0]]), np.array([[1.0, 1.0]]))
    assert e == pytest.approx({"mae": 2.0, "rmse": 5**0.5, "mape": 62.5})


def test_dataset_baselines_are_scored_on_the_val_and_test_windows() -> None:
    v = np.array([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4])
    ds = _prepare(_series(v, window=3, horizon=2, season=3), val_fraction=1 / 3)
    assert ds.meta["periods"] == {"train": "0..11", "val": "12..17", "test": "18..23"}
    # val windows start at 12 and 13: origins 14 and 15, targets v[15:17] and v[16:18]
    persistence = np.mean(np.abs([3 - 9, 2 - 9, 2 - 3, 3 - 3]))
    seasonal = np.mean(np.abs([3 - v[12], 2 - v[13], 2 - v[13], 3 - v[14]]))
    assert ds.baselines["persistence"]["val_mae"] == pytest.approx(persistence)
    assert ds.baselines["seasonal_naive"]["val_mae"] == pytest.approx(seasonal)
    assert set(ds.baselines["persistence"]) == {
        f"{p}_{m}" for p in ("val", "test") for m in ("mae", "rmse", "mape")
    }


def test_keras_forecasting_metrics_agree_with_the_baseline_formulas() -> None:
    rng = np.random.default_rng(1)
    y, pred = rng.uniform(1, 5, size=(7, 3)), rng.uniform(1, 5, size=(7, 3))
    ours = errors(y, pred)
    for metric in TASKS.get("forecasting").metrics:
        metric.update_state(y.astype("float32"), pred.astype("float32"))
        assert float(metric.result()) == pytest.approx(ours[metric.name], rel=1e-5)


def _layers(*layers: Any) -> Any:
    from suite.spec.schema import ModelSpec

    return ModelSpec.model_validate({"layers": list(layers)}).layers


def test_forecast_head_answers_in_the_series_units() -> None:
    from suite.build import BuildError, build_model

    ds = _prepare(_series(np.linspace(300, 400, 60), window=4, horizon=2))
    task = TASKS.get("forecasting").bind(ds)
    assert task.num_outputs == 2
    model = build_model(_layers("flatten"), ds.input_shape, task, task.num_outputs)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    out = model.predict(ds.val.x, verbose=0)
    np.testing.assert_allclose(out, np.full_like(out, ds.scaling[0]), rtol=1e-6)
    # a sequence of `horizon` steps gets one output per step; another length is an error
    seq = build_model(_layers({"conv1d": {"filters": 3}}), (2, 1), task, 2)
    assert seq.output_shape == (None, 2)
    with pytest.raises(BuildError, match="one step per forecast step"):
        build_model(_layers({"conv1d": {"filters": 3}}), (4, 1), task, 2)


def test_statsmodels_series_load_offline() -> None:
    pytest.importorskip("statsmodels")
    sun = prepare("sunspots", {"window": 11, "horizon": 2})
    assert sun.meta["periods"]["train"].startswith("1700..")
    assert sun.input_shape == (11, 1) and sun.train.y.shape[1] == 2
    co2 = prepare("co2", {})
    assert co2.meta["interpolated_steps"] == 59 and co2.meta["season"] == 52
    assert np.isfinite(co2.train.x).all()
    assert 0.3 < co2.baselines["persistence"]["test_mae"] < 3  # ppm, not scaled units


# --- segmentation: canvas and IoU ---------------------------------------------------------------


def test_canvas_masks_match_the_pasted_objects() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(5, 4, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 4])
    x, y, placed = paste(images, labels, 6, 12, 3, 0.5, rng)
    assert x.shape == (6, 12, 12, 1) and y.shape == (6, 12, 12) and y.dtype == np.int64
    covered = np.zeros(y.shape, dtype=bool)
    for c, i, top, left in placed:
        box = (c, slice(top, top + 4), slice(left, left + 4))
        assert not covered[box].any()  # objects never overlap
        covered[box] = True
        np.testing.assert_array_equal(x[(*box, 0)], images[i])
        np.testing.assert_array_equal(y[box], np.where(images[i] > 0.5, labels[i] + 1, 0))
    assert (x[~covered] == 0).all() and (y[~covered] == 0).all()
    assert {c for c, *_ in placed} == set(range(6))  # every canvas has an object


def test_canvas_image_pools_are_disjoint_and_the_dataset_is_native_split() -> None:
    y = np.repeat(np.arange(10), 30)
    train, val, test = pools(y, seed=0)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert len(train) + len(val) + len(test) == len(y)
    assert all(np.bincount(y[p]).min() > 0 for p in (train, val, test))  # every class in each
    ds = prepare("canvas", {"size": 16, "num_train": 30, "num_val": 8, "num_test": 8})
    assert ds.classes[0] == "background" and len(ds.classes) == 11
    assert ds.target == "mask" and ds.meta["val_split"] == ds.meta["test_split"] == "native"
    assert ds.train.y.shape == (30, 16, 16) and ds.val.x.shape == (8, 16, 16, 1)
    assert ds.train.y.max() <= 10 and (ds.train.y > 0).any()


def test_iou_metrics_on_a_known_prediction() -> None:
    task = dataclasses.replace(TASKS.get("segmentation"), num_outputs=3)
    true = np.array([[[0, 0, 1], [1, 2, 2]]])
    pred_class = np.array([[[0, 1, 1], [1, 2, 0]]])
    probs = np.eye(3, dtype="float32")[pred_class] * 0.8 + 0.2 / 3
    # by hand: class 0 1/(2+2-1), class 1 2/(2+3-2), class 2 1/(2+1-1)
    expected = {"iou_0": 1 / 3, "iou_1": 2 / 3, "iou_2": 1 / 2, "mean_iou": 0.5}
    expected["pixel_accuracy"] = 4 / 6
    got = {}
    for m in task.metrics:
        m.update_state(true, probs)
        got[m.name] = float(m.result())
    assert got == pytest.approx(expected, rel=1e-5)


def test_segmentation_head_needs_the_input_size() -> None:
    from suite.build import BuildError, build_model

    ds = prepare("canvas", {"size": 16, "num_train": 4, "num_val": 2, "num_test": 2})
    task = TASKS.get("segmentation").bind(ds)
    model = build_model(_layers({"unet": {"depth": 1, "filters": 2}}), ds.input_shape, task, 11)
    assert model.output_shape == (None, 16, 16, 11)
    with pytest.raises(BuildError, match="16x16"):
        build_model(_layers({"conv2d": {"filters": 2}}, "max_pool2d"), ds.input_shape, task, 11)


# --- task declarations and spec checks ---------------------------------------------------------


def test_tasks_declare_metrics_directions_and_targets() -> None:
    from suite.tasks import direction_of

    fc, seg = TASKS.get("forecasting"), TASKS.get("segmentation")
    assert fc.direction("val_mae") == "minimize" and seg.direction("val_mean_iou") == "maximize"
    assert direction_of("val_rmse") == "minimize" and direction_of("val_accuracy") == "maximize"
    assert seg.knows_metric("val_iou_3") and not seg.knows_metric("val_mae")
    with pytest.raises(ValueError, match="bind"):
        _ = seg.metrics
    for name, task in TASKS.items():
        assert task.knows_metric(task.default_metric), name
    with pytest.raises(DataError, match="needs a time series"):
        prepare("digits", {}, target="series", split="chronological")
    with pytest.raises(DataError, match="cannot be split 'stratified'"):
        prepare("sunspots", {}, split="stratified")


def test_spec_checks_know_the_task(tmp_path: Path) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load

    spec = tmp_path / "f.yaml"
    spec.write_text(
        "name: f\ntask: forecasting\ndata: {name: sunspots}\n"
        "candidates: {mlp: {model: {layers: [flatten]}}}\nsearch: {metric: val_mae}\n"
    )
    assert load(spec).search.resolved_direction == "minimize"
    with pytest.raises(
        SpecError, match=r"unknown metric 'val_accuracy'; .*val_mae.*task 'forecasting'"
    ):
        load(spec, ["search.metric=val_accuracy"])
    with pytest.raises(SpecError, match="gives no time series"):
        load(spec, ["data={name: digits}"])


# --- end to end ---------------------------------------------------------------------------------

FORECAST = """
name: tiny-forecast
task: forecasting
data: {name: sunspots, window: 8, horizon: 2}
candidates:
  mlp: {model: {family: mlp, layers: [flatten, {dense: {units: 8}}]}}
train: {epochs: 1, batch_size: 32}
search: {trials: 1, metric: val_mae}
seeds: 1
"""

SEGMENT = """
name: tiny-segment
task: segmentation
data: {name: canvas, size: 16, num_train: 24, num_val: 8, num_test: 8}
candidates:
  unet: {model: {family: cnn, layers: [{unet: {depth: 1, filters: 4}}]}}
train: {epochs: 1, batch_size: 8}
search: {trials: 1, metric: val_mean_iou}
seeds: 1
"""


def _run(tmp_path: Path, text: str) -> Any:
    from mlflow.tracking import MlflowClient

    from suite.compare import leaderboard
    from suite.runner import load_data, run
    from suite.spec.load import load
    from suite.stores import default_tracking_uri

    path = tmp_path / "spec.yaml"
    path.write_text(text)
    bench = load(path)
    run(bench)
    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name(bench.name)
    runs = {
        kind: client.search_runs([exp.experiment_id], f"tags.`suite.kind` = '{kind}'")
        for kind in ("candidate", "trial", "seed")
    }
    return leaderboard(bench.name), runs, load_data(bench), client


@pytest.mark.slow
def test_forecasting_end_to_end(results: Path, tmp_path: Path) -> None:
    import keras

    frame, runs, data, client = _run(tmp_path, FORECAST)
    assert frame.attrs["metric"] == "val_mae" and frame.attrs["direction"] == "minimize"
    rows = frame.set_index("candidate")
    assert set(rows.index) == {"mlp", "baseline:persistence", "baseline:seasonal_naive"}
    for method in ("persistence", "seasonal_naive"):
        row = rows.loc[f"baseline:{method}"]
        assert row["best_val"] == pytest.approx(data.baselines[method]["val_mae"])
        assert row["test_mean"] == pytest.approx(data.baselines[method]["test_mae"])
    (trial,) = runs["trial"]
    assert {"val_mae", "val_rmse", "val_mape"} <= set(trial.data.metrics)
    assert rows.loc["mlp", "best_val"] == pytest.approx(trial.data.metrics["objective"])
    (seed,) = runs["seed"]
    assert rows.loc["mlp", "test_mean"] == pytest.approx(seed.data.metrics["test_mae"])
    assert {"test_rmse", "test_mape"} <= set(seed.data.metrics)
    (parent,) = runs["candidate"]
    assert parent.data.metrics["baseline.persistence.test_rmse"] == pytest.approx(
        data.baselines["persistence"]["test_rmse"]
    )
    from suite.transfer import keras_file, run_model

    local = keras_file(run_model(trial.info.run_id, client.tracking_uri, tmp_path / "model"))
    model = keras.saving.load_model(local, safe_mode=True)
    assert model.output_shape == (None, 2)


@pytest.mark.slow
def test_segmentation_end_to_end(results: Path, tmp_path: Path) -> None:
    import keras

    frame, runs, _, client = _run(tmp_path, SEGMENT)
    assert frame.attrs["metric"] == "val_mean_iou" and frame.attrs["direction"] == "maximize"
    assert list(frame["candidate"]) == ["unet"] and frame.attrs["baselines"] == []
    (trial,) = runs["trial"]
    metrics = set(trial.data.metrics)
    assert {"val_mean_iou", "val_pixel_accuracy", *(f"val_iou_{k}" for k in range(11))} <= metrics
    assert 0 < frame.loc[0, "best_val"] <= 1
    (seed,) = runs["seed"]
    assert frame.loc[0, "test_mean"] == pytest.approx(seed.data.metrics["test_mean_iou"])
    from suite.transfer import keras_file, run_model

    local = keras_file(run_model(trial.info.run_id, client.tracking_uri, tmp_path / "model"))
    model = keras.saving.load_model(local, safe_mode=True)
    assert model.output_shape == (None, 16, 16, 11)
