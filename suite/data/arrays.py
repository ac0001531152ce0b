"""The user's own data: arrays in an .npz file, or a table in a CSV file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from suite.data.base import DATASETS, DataError, Modality, Raw
from suite.data.files import check_finite, encode_labels, resolve_file

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np


def _shape_for(
    dataset: str, x: np.ndarray, modality: Modality | None
) -> tuple[np.ndarray, Modality]:
    """Give x the suite's layout for its modality (inferred from its rank when not given)."""
    inferred: dict[int, Modality] = {2: "tabular", 3: "sequence", 4: "image"}
    if x.ndim not in inferred:
        raise DataError(
            f"{dataset}: x has shape {x.shape}; expected 2-D (n, features), 3-D (n, steps, "
            "features) or 4-D (n, height, width, channels)."
        )
    modality = modality or inferred[x.ndim]
    if (modality, x.ndim) in (("image", 3), ("sequence", 2)):
        x = x[..., np.newaxis]  # a single channel / feature
    if {"tabular": 2, "sequence": 3, "image": 4}[modality] != x.ndim:
        raise DataError(
            f"{dataset}: x has shape {x.shape}, which cannot be read as modality {modality!r}; "
            "leave modality unset to infer it from the number of axes."
        )
    return x, modality


def _as_float(dataset: str, x: np.ndarray, what: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{dataset}: {what} has dtype {x.dtype}; features must be numeric.")
    x = np.asarray(x, dtype=np.float32)
    check_finite(dataset, x, what)
    return x


@DATASETS.register("npz")
def npz(
    path: str,
    x_key: str = "x",
    y_key: str = "y",
    modality: Literal["image", "sequence", "tabular"] | None = None,
) -> Raw:
    """Your own arrays from an .npz file (x_train/y_train[/x_test/y_test], or x_key/y_key)."""
    name = "npz"
    file = resolve_file(name, path)
    try:
        with np.load(file, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as e:
        raise DataError(
            f"{name}: cannot read {file} without unpickling ({e}). Save labels as numbers or "
            "fixed-width strings (np.asarray(labels, dtype=str)), not Python objects."
        ) from None
    except (OSError, EOFError) as e:
        raise DataError(f"{name}: {file} is not a readable .npz file ({e}).") from None

    if "x_train" in arrays and "y_train" in arrays:
        keys = ("x_train", "y_train")
        has_test = "x_test" in arrays and "y_test" in arrays
        if ("x_test" in arrays) != ("y_test" in arrays):
            raise DataError(f"{name}: {file} has only one of x_test/y_test; give both or neither.")
    else:
        keys = (x_key, y_key)
        has_test = False
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataError(
            f"{name}: {file} has no array(s) {', '.join(map(repr, missing))}; it holds "
            f"{', '.join(map(repr, sorted(arrays))) or 'nothing'}. Name them x_train/y_train "
            "(and optionally x_test/y_test), or pass x_key and y_key."
        )
    x_train, y_train = arrays[keys[0]], arrays[keys[1]]
    x_test = arrays["x_test"] if has_test else None
    y_test = arrays["y_test"] if has_test else None

    classes, (y_tr, y_te) = encode_labels(name, y_train, y_test)
    assert y_tr is not None
    x_tr, mod = _shape_for(name, _as_float(name, x_train, keys[0]), modality)
    x_te = None
    if x_test is not None:
        x_te, _ = _shape_for(name, _as_float(name, x_test, "x_test"), modality)
        if x_te.shape[1:] != x_tr.shape[1:]:
            raise DataError(
                f"{name}: x_test examples have shape {x_te.shape[1:]} but x_train examples "
                f"have {x_tr.shape[1:]}; they must match."
            )
    for x, y, what in ((x_tr, y_tr, keys[0]), (x_te, y_te, "x_test")):
        if x is not None and y is not None and len(x) != len(y):
            raise DataError(f"{name}: {what} has {len(x)} examples but {len(y)} labels.")
    return Raw(x_tr, y_tr, classes, mod, str(file), x_test=x_te, y_test=y_te)


@DATASETS.register("csv")
def csv(
    path: str,
    label: str = "label",
    features: list[str] | None = None,
    delimiter: str = ",",
) -> Raw:
    """A table from a CSV file: one row per example, numeric feature columns and a label column."""
    import pandas as pd

    name = "csv"
    file = resolve_file(name, path)
    try:
        df = pd.read_csv(file, sep=delimiter)
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise DataError(
            f"{name}: cannot parse {file} as CSV with delimiter {delimiter!r}: {e}"
        ) from None
    columns = [str(c) for c in df.columns]
    df.columns = columns
    if label not in columns:
        raise DataError(
            f"{name}: {file} has no label column {label!r}; its columns are "
            f"{', '.join(map(repr, columns))}. Pass label=<column> (and check delimiter)."
        )
    cols = list(features) if features is not None else [c for c in columns if c != label]
    absent = [c for c in cols if c not in columns]
    if absent:
        raise DataError(
            f"{name}: {file} has no feature column(s) {', '.join(map(repr, absent))}; "
            f"its columns are {', '.join(map(repr, columns))}."
        )
    if not cols:
        raise DataError(f"{name}: {file} has no feature columns besides {label!r}.")
    non_numeric = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise DataError(
            f"{name}: feature column(s) {', '.join(map(repr, non_numeric))} in {file} are not "
            "numeric; encode them as numbers or leave them out with features=[...]."
        )
    with_nan = [c for c in cols if df[c].isna().any()]
    if with_nan:
        raise DataError(
            f"{name}: feature column(s) {', '.join(map(repr, with_nan))} in {file} have missing "
            "values; fill or drop them first."
        )
    if df[label].isna().any():
        raise DataError(f"{name}: label column {label!r} in {file} has missing values.")
    x = _as_float(name, df[cols].to_numpy(), "features")
    classes, (y,) = encode_labels(name, df[label].to_numpy())
    assert y is not None
    return Raw(x, y, classes, "tabular", str(file))
