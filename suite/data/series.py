"""Time series for forecasting: statsmodels' sunspots and co2, cut into windows in time order.

Split rules (see `prepare_series`): the series is cut in time order into train, then val, then
test (test = the last `test_fraction` of the steps, val = the last `val_fraction` of the rest);
windows are made inside each part, so no window straddles a boundary. Inputs are standardised
with the mean and standard deviation of the train part only; targets stay in the series' own
units, and the forecasting head maps the model's output back to them, so MAE and RMSE are in
those units and MAPE is the plain percentage error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from suite.data.base import DATASETS, DataError, Dataset, Series, Split, fingerprint

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Steps = Annotated[int, Field(ge=1)]
EPSILON = 1e-7  # keras.backend.epsilon(): MAPE's floor on |y|, as Keras computes it


def split_points(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(train_end, val_end): train is [0, train_end), val [train_end, val_end), test the rest."""
    n_test = round(n * test_fraction)
    n_val = round((n - n_test) * val_fraction)
    return n - n_test - n_val, n - n_test


def window_starts(start: int, end: int, window: int, horizon: int, stride: int) -> np.ndarray:
    """First steps of the windows (window inputs + horizon targets) that fit in [start, end)."""
    last = end - window - horizon
    return np.arange(start, last + 1, stride) if last >= start else np.arange(0)


def make_windows(
    values: np.ndarray, starts: np.ndarray, window: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, window) and targets (n, horizon) of the windows starting at `starts`."""
    x = np.stack([values[s : s + window] for s in starts]) if len(starts) else np.zeros((0, window))
    y = (
        np.stack([values[s + window : s + window + horizon] for s in starts])
        if len(starts)
        else np.zeros((0, horizon))
    )
    return x, y


def naive_forecasts(
    values: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> dict[str, np.ndarray]:
    """The naive forecasts (n, horizon) made at each origin (the last observed step).

    persistence: the last observed value, repeated; seasonal_naive: for step h (1-based), the
    value one season before it, values[t + h - season * ceil(h / season)] (always observed).
    """
    h = np.arange(1, horizon + 1)
    back = season * np.ceil(h / season).astype(np.int64)
    idx = origins[:, None] + h[None, :] - back[None, :]
    if idx.size and idx.min() < 0:
        raise DataError(
            f"the seasonal naive forecast needs {season} steps of history before the first "
            "validation window; use a longer series or a smaller season"
        )
    return {
        "persistence": np.repeat(values[origins][:, None], horizon, axis=1),
        "seasonal_naive": values[idx],
    }


def errors(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and MAPE (in %) over every window and step, computed as Keras' metrics do."""
    e = y - pred
    return {
        "mae": float(np.mean(np.abs(e))),
        "rmse": float(np.sqrt(np.mean(e**2))),
        "mape": float(100 * np.mean(np.abs(e) / np.maximum(np.abs(y), EPSILON))),
    }


def _as_split(x: np.ndarray, y: np.ndarray) -> Split:
    xs, ys = x.astype(np.float32)[..., np.newaxis], y.astype(np.float32)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return Split(xs, ys)


def prepare_series(
    name: str,
    s: Series,
    *,
    val_fraction: float,
    test_fraction: float,
    max_examples: int | None,
    params: dict[str, object],
) -> Dataset:
    """Chronological train/val/test windows of `s`, scaled on train, with naive baselines.

    `max_examples` keeps the last `max_examples` train windows (those nearest validation) and
    the first `max(max_examples // 2, 1)` val and test windows; baselines use the same windows.
    """
    values = np.asarray(s.values, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise DataError(f"{name}: the loader's series must be 1-D and finite (gaps filled).")
    n = len(values)
    train_end, val_end = split_points(n, val_fraction, test_fraction)
    bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)}
    need = s.window + s.horizon
    starts = {}
    for part, (a, b) in bounds.items():
        starts[part] = window_starts(a, b, s.window, s.horizon, s.stride)
        if not len(starts[part]):
            raise DataError(
                f"{name}: the {part} part has {b - a} steps, fewer than window + horizon = "
                f"{need}; shorten the window or horizon, or change val_fraction/test_fraction."
            )
    if max_examples is not None:
        small = max(max_examples // 2, 1)
        starts["train"] = starts["train"][-max_examples:]
        starts["val"], starts["test"] = starts["val"][:small], starts["test"][:small]
    mean = float(values[:train_end].mean())
    std = float(values[:train_end].std()) or 1.0
    scaled = (values - mean) / std
    splits, baselines = {}, {}
    for part, st in starts.items():
        x, _ = make_windows(scaled, st, s.window, s.horizon)
        _, y = make_windows(values, st, s.window, s.horizon)
        splits[part] = _as_split(x, y)
        if part == "train":
            continue
        naive = naive_forecasts(values, st + s.window - 1, s.horizon, s.season)
        for method, pred in naive.items():
            for metric, v in errors(y, pred).items():
                baselines.setdefault(method, {})[f"{part}_{metric}"] = v
    train, val, test = splits["train"], splits["val"], splits["test"]
    return Dataset(
        name=name,
        train=train,
        val=val,
        test=test,
        classes=(),
        modality="sequence",
        source=s.source,
        fingerprint=fingerprint(train.x, train.y, val.x, val.y, test.x, test.y),
        target="series",
        horizon=s.horizon,
        scaling=(mean, std),
        baselines=baselines,
        meta={
            "params": params,
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "steps": {k: b - a for k, (a, b) in bounds.items()},
            "periods": {
                k: f"{s.times[a]}..{s.times[b - 1]}" for k, (a, b) in bounds.items() if b > a
            },
            "unit": s.unit,
            "season": s.season,
            "test_split": "chronological",
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "max_examples": max_examples,
            **s.notes,
        },
    )


def _statsmodels(module: str) -> object:
    import importlib

    try:
        return importlib.import_module(f"statsmodels.datasets.{module}")
    except ImportError as e:
        raise DataError(
            f"{module}: statsmodels is not importable ({e}); `pip install statsmodels` "
            "(the data ship inside its wheel; nothing is downloaded)."
        ) from None


@DATASETS.register("sunspots")
def sunspots(
    window: Steps = 22, horizon: Steps = 3, stride: Steps = 1, season: Steps = 11
) -> Series:
    """Yearly sunspot numbers 1700-2008 (statsmodels), forecast `horizon` years ahead."""
    mod = _statsmodels("sunspots")
    frame = mod.load_pandas().data  # type: ignore[attr-defined]
    years = tuple(str(int(y)) for y in frame["YEAR"])
    return Series(
        values=frame["SUNACTIVITY"].to_numpy(dtype=np.float64),
        times=years,
        unit="sunspot number",
        source="statsmodels.datasets.sunspots",
        window=window,
        horizon=horizon,
        stride=stride,
        season=season,
    )


@DATASETS.register("co2")
def co2(window: Steps = 52, horizon: Steps = 4, stride: Steps = 1, season: Steps = 52) -> Series:
    """Weekly Mauna Loa CO2 (ppm) 1958-2001 (statsmodels), gaps interpolated linearly in time."""
    mod = _statsmodels("co2")
    col = mod.load_pandas().data["co2"]  # type: ignore[attr-defined]
    missing = int(col.isna().sum())
    filled = col.interpolate(method="time", limit_direction="both")
    return Series(
        values=filled.to_numpy(dtype=np.float64),
        times=tuple(d.strftime("%Y-%m-%d") for d in filled.index),
        unit="ppm",
        source="statsmodels.datasets.co2",
        window=window,
        horizon=horizon,
        stride=stride,
        season=season,
        notes={"interpolated_steps": missing},
    )
