"""Helpers shared by the loaders: finding files, atomic writes, label encoding."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from suite.data.base import DataError
from suite.settings import data_dirs

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

DATA_DIR_HINT = "set SUITE_DATA_DIR to the folder that holds it (several: os.pathsep-separated)"


def listing(paths: Iterable[object]) -> str:
    """A bullet list of the places searched, one per line."""
    lines = [f"  - {p}" for p in paths]
    return "\n".join(lines) if lines else "  (nowhere: SUITE_DATA_DIR is not set)"


def resolve_file(dataset: str, path: str) -> Path:
    """A user-named file: absolute, relative to the current directory, then to each data dir."""
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given]
    if not given.is_absolute():
        candidates += [d / given for d in data_dirs()]
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(
        f"{dataset}: file {path!r} not found. Looked for it at:\n{listing(candidates)}\n"
        f"Give an absolute path, a path relative to the current directory, or {DATA_DIR_HINT}."
    )


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[IO[bytes]]:
    """Write a file through a temporary sibling, renamed onto `target` only on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a cache is fine to share
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _label_values(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"labels must be one per example, got shape {y.shape}")
    if y.dtype == object:
        y = y.astype(str)
    return y


def encode_labels(
    dataset: str, *ys: np.ndarray | None
) -> tuple[tuple[str, ...], list[np.ndarray | None]]:
    """Map the sorted unique label values of all arrays to 0..k-1; classes are their str()."""
    try:
        values = [None if y is None else _label_values(y) for y in ys]
        present = [v for v in values if v is not None]
        uniq = np.unique(np.concatenate(present))
    except (TypeError, ValueError) as e:
        raise DataError(
            f"{dataset}: cannot read the labels ({e}). Give one label per example "
            "(numbers or strings, no missing values)."
        ) from None
    if uniq.dtype.kind == "f" and np.isnan(uniq).any():
        raise DataError(f"{dataset}: some labels are missing (NaN); drop or fill those rows.")
    if len(uniq) < 2:
        raise DataError(f"{dataset}: found {len(uniq)} distinct label(s); need at least 2 classes.")
    classes = tuple(str(u) for u in uniq.tolist())
    encoded = [None if v is None else np.searchsorted(uniq, v).astype(np.int64) for v in values]
    return classes, encoded


def check_finite(dataset: str, x: np.ndarray, what: str = "x") -> None:
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x.reshape(len(x), -1))).any(axis=1).sum())
        raise DataError(
            f"{dataset}: {what} has missing or infinite values ({bad} examples affected); "
            "clean or impute them before loading."
        )
