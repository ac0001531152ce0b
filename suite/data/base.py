"""Dataset records, the dataset registry, seeded splits and fingerprints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from suite.registry import Registry

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Modality = Literal["image", "sequence", "tabular", "text"]
# What a dataset asks the model to predict: a class per example, a class per pixel (a mask),
# the next `horizon` values of a series, a tag per word ("tags") or a string ("text").
Target = Literal["class", "mask", "series", "tags", "text", "next_token"]
# How the examples are cut into train/val/test: per class, uniformly at random, or in time order.
SplitRule = Literal["stratified", "random", "chronological"]


class DataError(Exception):
    """A dataset that cannot be found or read; the message says where it looked and what to do."""


@dataclass(frozen=True)
class Raw:
    """What a loader returns: arrays as shipped, before the suite's splits.

    x arrays are float32, channels-last: images (n, h, w, c), sequences (n, steps, features),
    tabular (n, features). Text: 1-D object arrays, one str per example (or, for "tags", a
    tuple of words per example, with y an object array of int64 arrays). y arrays are int64
    class indices in [0, len(classes)): one per example (n,) when `target` is "class", one per
    pixel (n, h, w) when it is "mask".
    x_test/y_test are None when the source has no test split (one is then held out);
    x_val/y_val, when given, are the validation split (else one is held out of train).
    `mask_value`, when set, says the sequences are padded to a common length with it: a step
    whose features all equal it is padding (suite.data.padding), which the model masks.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    classes: tuple[str, ...]
    modality: Modality
    source: str
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    target: Target = "class"
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    mask_value: float | None = None


@dataclass(frozen=True)
class Series:
    """What a time-series loader returns: one univariate series and how to window it.

    `values` are float64 in the series' own units, equally spaced in time (gaps already
    filled, as the loader's card says); `times` labels each step (e.g. "1958-03-29").
    A window is `window` inputs followed by `horizon` targets; windows start every `stride`
    steps. `season` is the period (in steps) of the seasonal naive baseline.
    """

    values: np.ndarray
    times: tuple[str, ...]
    unit: str
    source: str
    window: int
    horizon: int
    stride: int
    season: int
    notes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """Fixed train/val/test splits of one dataset and the fingerprint of their contents.

    `meta["mask_value"]`, when present, says the sequences are padded with that value (a step
    whose features all equal it is padding): the model builder puts a Masking layer first.
    """

    name: str
    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    modality: Modality
    source: str
    fingerprint: str
    meta: dict[str, object] = field(default_factory=dict)
    target: Target = "class"
    horizon: int = 0  # series: steps forecast per window
    scaling: tuple[float, float] | None = None  # series: (mean, std) the inputs were scaled by
    # series: naive forecasts scored on the same windows, e.g. {"persistence": {"test_mae": ..}}
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


Loader = Callable[..., Raw | Series]
DATASETS: Registry[Loader] = Registry("dataset")


def _hash_object(h: Any, value: object) -> None:
    """Feed one element of an object array (str, bytes, tuple/list, array) into `h`."""
    if isinstance(value, str):
        h.update(b"s%d:" % len(value) + value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, bytes):
        h.update(b"b%d:" % len(value) + value)
    elif isinstance(value, tuple | list):
        h.update(b"t%d:" % len(value))
        for v in value:
            _hash_object(h, v)
    else:
        a = np.ascontiguousarray(value)
        h.update(f"a{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())


def fingerprint(*arrays: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes of each array (object arrays: by content), 16 hex."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        if a.dtype == object:
            for v in a.ravel():
                _hash_object(h, v)
        else:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) with about `fraction` of each class held out, seeded."""
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n = round(len(idx) * fraction)
        if fraction > 0 and len(idx) > 1:
            n = min(max(n, 1), len(idx) - 1)
        held.append(idx[:n])
        keep.append(idx[n:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def random_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) of range(n) with round(n * fraction) held out, seeded."""
    perm = np.random.default_rng(seed).permutation(n)
    k = round(n * fraction)
    if fraction > 0 and n > 1:
        k = min(max(k, 1), n - 1)
    return np.sort(perm[k:]), np.sort(perm[:k])
