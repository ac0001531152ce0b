"""A semi-synthetic segmentation set: real small images pasted on a blank canvas.

Each canvas gets one to `max_objects` images at random, non-overlapping positions; its mask is
the image's class + 1 where the pasted pixel exceeds `threshold`, and 0 (background) elsewhere.
Train, val and test canvases draw their images from disjoint pools of source images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from suite.data.base import DATASETS, DataError, Raw, stratified_split
from suite.spec.signature import relation

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Placement = tuple[int, int, int, int]  # (canvas, source image, top, left)
SOURCE_SIDE = {"digits": 8, "fashion_mnist": 28}  # the source images' height and width


def pools(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint (train, val, test) indices of source images: 60/20/20 % of each class, seeded."""
    rest, test = stratified_split(y, 0.2, seed)
    keep, val = stratified_split(y[rest], 0.25, seed + 1)
    return rest[keep], rest[val], test


def paste(
    images: np.ndarray,
    labels: np.ndarray,
    count: int,
    size: int,
    max_objects: int,
    threshold: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[Placement]]:
    """`count` canvases (count, size, size, 1), masks (count, size, size) and what went where.

    `images` are (n, h, w) in [0, 1]; a canvas whose next object finds no free place after 50
    draws keeps the objects it has (at least one always fits on an empty canvas).
    """
    n, h, w = images.shape
    if h > size or w > size:
        raise DataError(f"canvas: source images are {h}x{w}, larger than the canvas {size}")
    x = np.zeros((count, size, size), dtype=np.float32)
    y = np.zeros((count, size, size), dtype=np.int64)
    placed: list[Placement] = []
    for c in range(count):
        boxes: list[tuple[int, int]] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _try in range(50):
                top, left = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
                if all(abs(top - t) >= h or abs(left - lft) >= w for t, lft in boxes):
                    break
            else:
                continue
            i = int(rng.integers(0, n))
            boxes.append((top, left))
            x[c, top : top + h, left : left + w] = images[i]
            y[c, top : top + h, left : left + w] = np.where(images[i] > threshold, labels[i] + 1, 0)
            placed.append((c, i, top, left))
    return x[..., np.newaxis], y, placed


def _source(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray | None]:
    """Images (n, h, w) in [0, 1], labels, class names, and the native test indices if any."""
    if name == "digits":
        from suite.data.images import digits

        raw = digits()
        return raw.x_train[..., 0], raw.y_train, raw.classes, None
    from suite.data.images import fashion_search_dirs, load_fashion_mnist

    raw = load_fashion_mnist(fashion_search_dirs(), download_to=None)
    assert raw.x_test is not None and raw.y_test is not None
    x = np.concatenate([raw.x_train[..., 0], raw.x_test[..., 0]])
    y = np.concatenate([raw.y_train, raw.y_test])
    return x, y, raw.classes, np.arange(len(raw.y_train), len(y))


def _fits_canvas(size: int, source: str) -> str | None:
    side = SOURCE_SIDE[source]
    if size < side:
        return f"size={size} is smaller than the {side}x{side} {source} images; use at least {side}"
    return None


@DATASETS.register("canvas")
@relation("size", _fits_canvas)
def canvas(
    source: Literal["digits", "fashion_mnist"] = "digits",
    size: Annotated[int, Field(ge=8, le=256)] = 32,
    max_objects: Annotated[int, Field(ge=1, le=16)] = 3,
    num_train: Annotated[int, Field(ge=1)] = 1000,
    num_val: Annotated[int, Field(ge=1)] = 200,
    num_test: Annotated[int, Field(ge=1)] = 200,
    threshold: Annotated[float, Field(ge=0, lt=1)] = 0.5,
    seed: int = 0,
) -> Raw:
    """Semi-synthetic segmentation: digits or Fashion-MNIST images pasted on a blank canvas."""
    images, labels, names, native_test = _source(source)
    if native_test is None:
        train_pool, val_pool, test_pool = pools(labels, seed)
    else:
        own = np.setdiff1d(np.arange(len(labels)), native_test)
        keep, val = stratified_split(labels[own], 1 / 6, seed + 1)
        train_pool, val_pool, test_pool = own[keep], own[val], native_test
    rng = np.random.default_rng(seed)
    out = {}
    for part, pool, count in (
        ("train", train_pool, num_train),
        ("val", val_pool, num_val),
        ("test", test_pool, num_test),
    ):
        x, y, _ = paste(images[pool], labels[pool], count, size, max_objects, threshold, rng)
        out[part] = (x, y)
    return Raw(
        out["train"][0],
        out["train"][1],
        ("background", *names),
        "image",
        f"canvas of {source} images (semi-synthetic)",
        x_test=out["test"][0],
        y_test=out["test"][1],
        target="mask",
        x_val=out["val"][0],
        y_val=out["val"][1],
    )
