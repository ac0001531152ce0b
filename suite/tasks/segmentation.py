"""Semantic segmentation: per-pixel softmax, cross-entropy, pixel accuracy and IoU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suite.tasks.base import TASKS, Task

if TYPE_CHECKING:
    import numpy as np


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


TASKS.register("segmentation")(
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
