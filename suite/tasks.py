"""Task registry: what a task adds on top of a candidate's layers, and how it is scored.

A task declares its head, loss and metrics, the metric selection defaults to and which metrics
go down when the model gets better, the kind of target it needs from a dataset (a class, a
mask, a series) and how that dataset is split. `bind(data)` fixes what depends on the data:
the number of outputs (classes, or the forecast horizon), the target scaling of a series and
the image size of masks; the runner compiles and builds with the bound task.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from suite.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from suite.data.base import Dataset

Direction = Literal["maximize", "minimize"]
Target = Literal["class", "mask", "series", "tags", "text", "next_token"]
SplitRule = Literal["stratified", "random", "chronological"]


@dataclass(frozen=True)
class Task:
    """Loss, metrics, output head and data requirements of one kind of problem."""

    name: str
    description: str
    loss: str
    metric_names: tuple[str, ...]  # as logged (val_ and test_ are prefixed), besides "loss"
    default_metric: str  # what search.metric should usually be
    lower_is_better: frozenset[str]  # metric names that are minimised ("loss" always is)
    target: Target  # what the dataset must provide
    split: SplitRule  # how its examples are cut into train/val/test
    outputs: Literal["classes", "horizon"]  # what num_outputs counts
    # per-class metrics named `{per_class}{k}` for class index k (e.g. iou_0), if any
    per_class: str | None = None
    num_outputs: int | None = None  # set by bind()
    input_shape: tuple[int, ...] | None = None  # set by bind()

    # --- what depends on the data ---------------------------------------------------------------

    def bind(self, data: Dataset) -> Task:
        """This task fixed to `data`: its number of outputs and what else the data decides."""
        n = data.horizon if self.outputs == "horizon" else len(data.classes)
        if n < 1:
            raise ValueError(
                f"task {self.name!r}: dataset {data.name!r} gives no {self.outputs} to predict"
            )
        return dataclasses.replace(self, num_outputs=n, input_shape=data.input_shape)

    def _bound(self) -> int:
        if self.num_outputs is None:
            raise ValueError(
                f"task {self.name!r} needs its number of {self.outputs} first: use task.bind(data)"
            )
        return self.num_outputs

    def inputs(self, data: Dataset, tokenizer: Any) -> Any:
        """What the model trains on (a suite.text.cache.Prepared): `data` itself here; text
        tasks turn texts into ids with the candidate's `tokenizer` (a TokenizerSpec)."""
        from suite.text.cache import Prepared

        return Prepared(data, None, {}, True, 0.0)

    # --- scoring -------------------------------------------------------------------------------

    @property
    def metrics(self) -> list[Any]:
        """Fresh Keras metrics (or metric names) for `model.compile`, named as `metric_names`."""
        return list(self.metric_names)

    def knows_metric(self, name: str) -> bool:
        """Whether `name` (e.g. val_mae, iou_3) is logged by this task."""
        base = re.sub(r"^(val|test)_", "", name)
        if base == "loss" or base in self.metric_names:
            return True
        return bool(self.per_class and re.fullmatch(re.escape(self.per_class) + r"\d+", base))

    def direction(self, metric: str) -> Direction:
        """minimize for the loss and the metrics in `lower_is_better`, else maximize."""
        base = re.sub(r"^(val|test)_", "", metric)
        return "minimize" if base == "loss" or base in self.lower_is_better else "maximize"

    # --- model ---------------------------------------------------------------------------------

    def head(self, x: Any, num_outputs: int) -> Any:
        """The output layer applied to the last features `x`."""
        raise NotImplementedError

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        """`n` valid targets for a model with `num_outputs` outputs on `input_shape` (tests)."""
        raise NotImplementedError

    # --- hooks (default: nothing) ----------------------------------------------------------------

    def keras_loss(self) -> Any:
        """The loss given to `compile` (default: the `loss` name; e.g. a masked loss object)."""
        return self.loss

    def callbacks(self, data: Dataset) -> list[Any]:
        """Keras callbacks that add task metrics to each epoch's logs (before early stopping)."""
        return []

    def extra_test_metrics(self, model: Any, data: Dataset, batch_size: int) -> dict[str, float]:
        """Test metrics that are no Keras metric (logged as test_<name> by seed runs)."""
        return {}

    def artifacts(self, model: Any, data: Dataset) -> dict[str, str]:
        """Text artifacts of a trained model, {path in the run: text} (e.g. a generated sample)."""
        return {}


def _vector(task: str, x: Any) -> None:
    if len(x.shape) != 2:
        raise ValueError(
            f"task {task!r} needs one feature vector per example, but the last layer "
            f"outputs shape {tuple(x.shape)}; end the model with 'flatten', "
            "'global_avg_pool' or a recurrent layer that does not return sequences"
        )


@dataclass(frozen=True)
class Classification(Task):
    """One label per example: softmax head, sparse cross-entropy, accuracy."""

    def head(self, x: Any, num_outputs: int) -> Any:
        from keras import layers

        _vector(self.name, x)
        return layers.Dense(num_outputs, activation="softmax", name="head", dtype="float32")(x)

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return np.arange(n, dtype=np.int64) % num_outputs


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
            _vector(self.name, x)
            y = layers.Dense(num_outputs, name="head", dtype="float32")(x)
        if self.scaling is not None:
            mean, std = self.scaling
            y = layers.Rescaling(std, offset=mean, name="to_units", dtype="float32")(y)
        return y

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return np.random.default_rng(0).normal(size=(n, num_outputs)).astype(np.float32)


@dataclass(frozen=True)
class Segmentation(Task):
    """A class per pixel (class 0 = background): 1x1 convolution + softmax at input size."""

    @property
    def metrics(self) -> list[Any]:
        import keras

        k = self._bound()
        return [
            keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
            keras.metrics.MeanIoU(k, name="mean_iou", sparse_y_true=True, sparse_y_pred=False),
            *(
                keras.metrics.IoU(
                    k, [c], name=f"{self.per_class}{c}", sparse_y_true=True, sparse_y_pred=False
                )
                for c in range(k)
            ),
        ]

    def head(self, x: Any, num_outputs: int) -> Any:
        from keras import layers

        shape = tuple(x.shape)
        size = self.input_shape[:2] if self.input_shape else None
        if len(shape) != 4 or (size is not None and shape[1:3] != size):
            want = f"{size[0]}x{size[1]}" if size else "the input's height and width"
            raise ValueError(
                f"task {self.name!r} needs a feature map of {want} (batch, height, width, "
                f"channels), but the last layer outputs shape {shape}; end the model with a "
                "decoder that upsamples back to the input size (e.g. 'fcn' or 'unet')"
            )
        return layers.Conv2D(num_outputs, 1, activation="softmax", name="head", dtype="float32")(x)

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        h, w = input_shape[:2]
        return (np.arange(n * h * w, dtype=np.int64) % num_outputs).reshape(n, h, w)


TASKS: Registry[Task] = Registry("task")


def _register(task: Task) -> None:
    TASKS.register(task.name)(task)


_register(
    Classification(
        name="classification",
        description="single-label classification: softmax head, cross-entropy, accuracy",
        loss="sparse_categorical_crossentropy",
        metric_names=("accuracy",),
        default_metric="val_accuracy",
        lower_is_better=frozenset(),
        target="class",
        split="stratified",
        outputs="classes",
    )
)
_register(
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
_register(
    Segmentation(
        name="segmentation",
        description="semantic segmentation: per-pixel softmax, cross-entropy, pixel accuracy, "
        "mean and per-class IoU",
        loss="sparse_categorical_crossentropy",
        metric_names=("pixel_accuracy", "mean_iou"),
        default_metric="val_mean_iou",
        lower_is_better=frozenset(),
        target="mask",
        split="random",
        outputs="classes",
        per_class="iou_",
    )
)


def direction_of(metric: str) -> Direction:
    """A metric's direction whatever the task: minimize if any task minimises that name."""
    if any(t.direction(metric) == "minimize" for _, t in TASKS.items()):
        return "minimize"
    return "maximize"


# Tasks defined in their own modules register themselves on import.
from suite import lm as _lm  # noqa: E402, F401  (registers language_modeling)
from suite import seq2seq as _seq2seq  # noqa: E402, F401  (registers seq2seq)
from suite import tagging as _tagging  # noqa: E402, F401  (registers tagging)
from suite.text import task as _text_task  # noqa: E402, F401
