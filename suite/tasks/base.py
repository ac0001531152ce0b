"""The abstract task and the task registry: what a task adds on top of a candidate's
layers, and how it is scored.

A task declares its head, loss and metrics, the metric selection defaults to and which metrics
go down when the model gets better, the kind of target it needs from a dataset (a class, a
mask, a series) and how that dataset is split. `bind(data)` fixes what depends on the data:
the number of outputs (classes, or the forecast horizon), the target scaling of a series and
the image size of masks; the runner compiles and builds with the bound task.
"""

from __future__ import annotations

import abc
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
class Task(abc.ABC):
    """Loss, metrics, output head and data requirements of one kind of problem; each task
    module defines a subclass and registers an instance in TASKS."""

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

    @abc.abstractmethod
    def head(self, x: Any, num_outputs: int) -> Any:
        """The output layer applied to the last features `x`."""

    @abc.abstractmethod
    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        """`n` valid targets for a model with `num_outputs` outputs on `input_shape` (tests)."""

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


TASKS: Registry[Task] = Registry("task")


def require_vector(task: str, x: Any) -> None:
    """Refuse features `x` that are not one vector per example (a head needs one)."""
    if len(x.shape) != 2:
        raise ValueError(
            f"task {task!r} needs one feature vector per example, but the last layer "
            f"outputs shape {tuple(x.shape)}; end the model with 'flatten', "
            "'global_avg_pool' or a recurrent layer that does not return sequences"
        )


def direction_of(metric: str) -> Direction:
    """A metric's direction whatever the task: minimize if any task minimises that name."""
    if any(t.direction(metric) == "minimize" for _, t in TASKS.items()):
        return "minimize"
    return "maximize"
