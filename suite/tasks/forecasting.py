"""Multi-step forecasting of a series: linear head in the series' units, MSE, MAE/RMSE/MAPE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suite.tasks.base import TASKS, Task, require_vector

if TYPE_CHECKING:
    import numpy as np

    from suite.data.base import Dataset

import dataclasses


@dataclass(frozen=True)
class Forecasting(Task):
    """The next `horizon` values of a series from a window of past values.

    The dataset's inputs are standardised with the train part's (mean, std); bound to a
    dataset, the head maps its outputs back with the same pair (a stock Rescaling layer), so the
    loss and MAE/RMSE are in the series' own units and MAPE is the plain percentage error.
    """

    scaling: tuple[float, float] | None = None  # (mean, std), set by bind()

    def bind(self, data: Dataset) -> Task:
        bound = super().bind(data)
        return dataclasses.replace(bound, scaling=data.scaling)  # type: ignore[arg-type]

    @property
    def metrics(self) -> list[Any]:
        import keras

        return [
            keras.metrics.MeanAbsoluteError(name="mae"),
            keras.metrics.RootMeanSquaredError(name="rmse"),
            keras.metrics.MeanAbsolutePercentageError(name="mape"),
        ]

    def head(self, x: Any, num_outputs: int) -> Any:
        """Dense(horizon) on a vector; Dense(1) per step on a sequence of `horizon` steps."""
        from keras import layers

        if len(x.shape) == 3 and x.shape[1] == num_outputs:
            y = layers.Dense(1, name="head_step", dtype="float32")(x)
            y = layers.Reshape((num_outputs,), name="head")(y)
        elif len(x.shape) == 3:
            raise ValueError(
                f"task {self.name!r} reads a sequence of features only when it has one step per "
                f"forecast step ({num_outputs}), but the last layer outputs shape "
                f"{tuple(x.shape)}; end the model with 'flatten', 'global_avg_pool', a recurrent "
                f"layer that does not return sequences, or a decoder of {num_outputs} steps"
            )
        else:
            require_vector(self.name, x)
            y = layers.Dense(num_outputs, name="head", dtype="float32")(x)
        if self.scaling is not None:
            mean, std = self.scaling
            y = layers.Rescaling(std, offset=mean, name="to_units", dtype="float32")(y)
        return y

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return np.random.default_rng(0).normal(size=(n, num_outputs)).astype(np.float32)


TASKS.register("forecasting")(
    Forecasting(
        name="forecasting",
        description="multi-step forecasting of a series: linear head in the series' units, "
        "MSE loss, MAE/RMSE/MAPE, chronological splits",
        loss="mse",
        metric_names=("mae", "rmse", "mape"),
        default_metric="val_mae",
        lower_is_better=frozenset({"mae", "rmse", "mape"}),
        target="series",
        split="chronological",
        outputs="horizon",
    )
)
