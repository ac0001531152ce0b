"""From a registered loader to fixed, fingerprinted train/val/test splits.

Split rules (they depend only on the data and `seed`, never on a trial's seed):

1. the loader's native test split is the test split; a source without one has `test_fraction`
   of each class held out as test (seeded with `seed`);
2. the loader's native validation split, if any, is the validation split; otherwise
   `val_fraction` of each class of the remaining training data is held out (seeded `seed + 1`);
3. `max_examples`, if given, then truncates: train keeps at most `max_examples` examples, val and
   test at most `max(max_examples // 2, 1)` each, a class-proportional subsample (at least one per
   class when the cap allows) taken in a fixed seeded order per class. The splits themselves are
   made before the cap, so the cap never moves an example from one split to another.

Masks (segmentation) follow the same rules with "uniformly at random" for "of each class"
(the `random` split rule). Time series are cut in time order instead (`chronological`, see
suite.data.series). Results are memoized in-process; the returned arrays are read-only because
they are shared. Sequences a loader padded (`Raw.mask_value`, suite.data.padding) keep their
padding value in `meta["mask_value"]` and their real lengths per split in `meta["lengths"]`.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from suite.data.base import (
    DATASETS,
    DataError,
    Dataset,
    Raw,
    Series,
    Split,
    SplitRule,
    Target,
    fingerprint,
    random_split,
    stratified_split,
)
from suite.data.padding import lengths
from suite.data.series import prepare_series

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

_MEMO: dict[tuple[object, ...], Dataset] = {}


def clear_cache() -> None:
    """Forget every memoized Dataset of this process."""
    _MEMO.clear()


def stratified_take(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of min(n, len(y)) examples, class-proportional, seeded.

    Every class keeps at least one example when n >= the number of classes; within a class the
    examples come in a fixed order drawn from `seed`, so a larger n takes the same examples first.
    """
    if n >= len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n / len(y)
    q = np.floor(exact).astype(np.int64)
    if n >= len(classes):
        q = np.maximum(q, 1)
    while q.sum() < n:  # largest remainders first, never past a class's size
        q[np.argmax(np.where(q < counts, exact - q, -np.inf))] += 1
    while q.sum() > n:  # only after the at-least-one bumps
        q[np.argmax(q)] -= 1
    rng = np.random.default_rng(seed)
    parts = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, q, strict=True)]
    return np.sort(np.concatenate(parts))


def _bind(name: str, params: dict[str, object]) -> tuple[object, dict[str, object]]:
    loader = DATASETS.get(name)
    sig = inspect.signature(loader)
    try:
        bound = sig.bind(**params)
    except TypeError as e:
        accepted = ", ".join(sig.parameters) or "none"
        raise TypeError(f"dataset {name!r}: {e}. Its parameters are: {accepted}") from None
    bound.apply_defaults()
    _declared_values(name, dict(bound.arguments))
    return loader, dict(bound.arguments)


@functools.cache
def _declaration(name: str) -> Any:
    from suite.spec.signature import params_model

    return params_model(DATASETS.get(name), f"data.{name}")


def _declared_values(name: str, params: dict[str, object]) -> None:
    """Refuse parameter values outside the loader's declaration, as `suite validate` does for a
    spec: a SpecError naming `data.<parameter>`."""
    from pydantic import ValidationError

    from suite.spec.errors import Problem, SpecError, describe

    try:
        _declaration(name).model_validate(params)
    except ValidationError as e:
        found = [describe(err) for err in e.errors()]  # type: ignore[arg-type]
        raise SpecError([Problem(("data", *loc), msg) for loc, msg in found]) from None


def _check(name: str, raw: Raw) -> None:
    pairs = [("train", raw.x_train, raw.y_train)]
    for what, x, y in (("test", raw.x_test, raw.y_test), ("val", raw.x_val, raw.y_val)):
        if (x is None) != (y is None):
            raise DataError(f"{name}: the loader returned only one of x_{what}/y_{what}.")
        if x is not None and y is not None:
            pairs.append((what, x, y))
            if x.shape[1:] != raw.x_train.shape[1:]:
                raise DataError(f"{name}: {what} examples have another shape than train examples.")
    k = len(raw.classes)
    if raw.modality == "text":
        _check_text(name, raw, pairs)
        return
    for what, x, y in pairs:
        per_pixel = raw.target == "mask"
        shape_ok = y.shape == x.shape[:3] if per_pixel else y.ndim == 1
        if x.dtype != np.float32 or y.dtype != np.int64 or not shape_ok or len(x) != len(y):
            expected = "one class per pixel (n, h, w)" if per_pixel else "one label per example"
            raise DataError(
                f"{name}: the loader's {what} arrays are x {x.dtype}{x.shape}, y {y.dtype}"
                f"{y.shape}; expected float32 x and int64 y, {expected}."
            )
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise DataError(f"{name}: {what} labels fall outside 0..{k - 1}.")


def _check_text(name: str, raw: Raw, pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """Text: 1-D object arrays of examples; class labels int64 in range, seen in training."""
    for what, x, y in pairs:
        if x.dtype != object or x.ndim != 1 or len(x) != len(y):
            raise DataError(
                f"{name}: the loader's {what} texts are {x.dtype}{x.shape} with {len(y)} labels; "
                "expected a 1-D object array (one text per example) and one label per example."
            )
    if raw.target != "class":
        return
    k = len(raw.classes)
    seen = set(np.unique(raw.y_train).tolist())
    for what, _, y in pairs:
        if y.dtype != np.int64 or y.ndim != 1:
            raise DataError(f"{name}: {what} labels must be int64 class indices, got {y.dtype}.")
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise DataError(f"{name}: {what} labels fall outside 0..{k - 1}.")
        unseen = [i for i, c in enumerate(y.tolist()) if c not in seen]
        if unseen:
            row = unseen[0]
            raise DataError(
                f"{name}: {what} row {row} has label {raw.classes[y[row]]!r}, which the training "
                f"split never has ({len(unseen)} such rows); a model cannot learn it. Drop those "
                "rows or add training examples of that class."
            )


_NATURAL: dict[str, SplitRule] = {
    "class": "stratified",
    "mask": "random",
    "series": "chronological",
    "tags": "random",
    "text": "random",
    "next_token": "chronological",
}
_ALLOWED: dict[str, set[str]] = {
    "class": {"stratified", "random"},
    "mask": {"random"},
    "series": {"chronological"},
    "tags": {"random"},
    "text": {"random"},
    "next_token": {"chronological"},
}
_WHAT = {
    "class": "a label per example",
    "mask": "a mask per image",
    "series": "a time series",
    "tags": "a tag per word",
    "text": "a target text per example",
    "next_token": "a next token at every step of a text",
}


def _agree(name: str, has: Target, target: Target | None, split: SplitRule | None) -> None:
    """Refuse a dataset whose kind of target or split rule does not fit the task."""
    if target is not None and target != has:
        raise DataError(
            f"dataset {name!r} provides {_WHAT[has]}, but the task needs {_WHAT[target]}; "
            f"pick a {target} dataset or a task for {has} targets"
        )
    if split is not None and split not in _ALLOWED[has]:
        raise DataError(
            f"dataset {name!r} ({_WHAT[has]}) cannot be split {split!r}; "
            f"it is split {_NATURAL[has]!r}"
        )


def _random_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return random_split(len(y), fraction, seed)


def _random_take(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of min(n, len(y)) examples drawn uniformly, seeded."""
    return np.sort(np.random.default_rng(seed).permutation(len(y))[:n])


def _split(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> Split:
    xs, ys = x[idx], y[idx]
    xs.flags.writeable = False
    ys.flags.writeable = False
    return Split(xs, ys)


def prepare(
    name: str,
    params: dict[str, object] | None = None,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    max_examples: int | None = None,
    seed: int = 0,
    target: Target | None = None,
    split: SplitRule | None = None,
) -> Dataset:
    """Load dataset `name` with loader `params` and cut its fixed train/val/test splits.

    `target` and `split` (a task's, e.g. "series" and "chronological") are checked against what
    the dataset provides; None accepts the dataset's own kind and its natural split rule.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if max_examples is not None and max_examples < 1:
        raise ValueError(f"max_examples must be at least 1 or None, got {max_examples}")
    loader, bound = _bind(name, dict(params or {}))
    key = (
        name,
        repr(sorted(bound.items())),
        val_fraction,
        test_fraction,
        max_examples,
        seed,
        split,
    )
    if key in _MEMO:
        ds = _MEMO[key]
        _agree(name, ds.target, target, split)
        return ds

    raw: Raw | Series = loader(**bound)  # type: ignore[operator]
    if hasattr(raw, "to_dataset"):  # a record that cuts its own splits (a corpus, text pairs)
        _agree(name, raw.target, target, split)
        ds = raw.to_dataset(
            name,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            max_examples=max_examples,
            seed=seed,
            params=bound,
        )
        _MEMO[key] = ds
        return ds
    if isinstance(raw, Series):
        _agree(name, "series", target, split)
        ds = prepare_series(
            name,
            raw,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            max_examples=max_examples,
            params=bound,
        )
        _MEMO[key] = ds
        return ds
    _agree(name, raw.target, target, split)
    _check(name, raw)
    stratified = (split or _NATURAL[raw.target]) == "stratified"
    cut = stratified_split if stratified else _random_split
    take = stratified_take if stratified else _random_take
    x, y = raw.x_train, raw.y_train
    if raw.x_test is None or raw.y_test is None:
        pool, test_idx = cut(y, test_fraction, seed)
        x_test, y_test = x, y
        test_split = "held_out"
    else:
        pool, test_idx = np.arange(len(y)), np.arange(len(raw.y_test))
        x_test, y_test = raw.x_test, raw.y_test
        test_split = "native"
    if raw.x_val is None or raw.y_val is None:
        keep, held = cut(y[pool], val_fraction, seed + 1)
        train_idx, val_idx = pool[keep], pool[held]
        x_val, y_val = x, y
        val_split = "held_out"
    else:
        train_idx, val_idx = pool, np.arange(len(raw.y_val))
        x_val, y_val = raw.x_val, raw.y_val
        val_split = "native"

    if max_examples is not None:
        small = max(max_examples // 2, 1)
        train_idx = train_idx[take(y[train_idx], max_examples, seed + 2)]
        val_idx = val_idx[take(y_val[val_idx], small, seed + 3)]
        test_idx = test_idx[take(y_test[test_idx], small, seed + 4)]

    train, val = _split(x, y, train_idx), _split(x_val, y_val, val_idx)
    test = _split(x_test, y_test, test_idx)
    ds = Dataset(
        name=name,
        train=train,
        val=val,
        test=test,
        classes=raw.classes,
        modality=raw.modality,
        source=raw.source,
        fingerprint=fingerprint(train.x, train.y, val.x, val.y, test.x, test.y),
        target=raw.target,
        meta={
            "params": bound,
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "source_sizes": {
                "train": len(raw.y_train),
                "test": 0 if raw.y_test is None else len(raw.y_test),
            },
            "test_split": test_split,
            "val_split": val_split,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "max_examples": max_examples,
            "seed": seed,
            **_padding(raw.mask_value, {"train": train, "val": val, "test": test}),
        },
    )
    _MEMO[key] = ds
    return ds


def _padding(mask_value: float | None, splits: dict[str, Split]) -> dict[str, object]:
    """Meta of padded sequences: the padding value and the real lengths (min, max) per split."""
    if mask_value is None:
        return {}
    spans = {}
    for part, split in splits.items():
        n = lengths(split.x, mask_value)
        spans[part] = [int(n.min()), int(n.max())] if len(n) else [0, 0]
    return {"mask_value": mask_value, "lengths": spans}
