"""Generated datasets: MNIST-1D (Greydanus & Kobak), built offline and cached as .npz."""

from __future__ import annotations

import random
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from suite.data.base import DATASETS, DataError, Raw
from suite.data.files import atomic_write
from suite.settings import cache_dir

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

MNIST1D_KEYS = ("x", "y", "x_test", "y_test")


def mnist1d_cache_path(num_samples: int, seed: int) -> Path:
    return cache_dir() / "mnist1d" / f"{num_samples}_{seed}.npz"


def _generate_mnist1d(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise DataError(
            f"mnist1d: the mnist1d package is not importable ({e}); `pip install mnist1d` "
            "(it generates the data offline)."
        ) from None
    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds the global `random` and numpy RNGs; leave the caller's state as it was.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {k: np.asarray(d[k]) for k in MNIST1D_KEYS}


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in MNIST1D_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # absent or unreadable: regenerate


@DATASETS.register("mnist1d")
def mnist1d(num_samples: Annotated[int, Field(ge=20)] = 5000, seed: int = 42) -> Raw:
    """MNIST-1D: 10 classes of length-40 1-D signals, generated offline (80/20 native split)."""
    path = mnist1d_cache_path(num_samples, seed)
    arrays = _read_cache(path)
    if arrays is None:
        arrays = _generate_mnist1d(num_samples, seed)
        try:
            with atomic_write(path) as f:
                np.savez(f, **arrays)
        except OSError as e:  # an unwritable cache only costs regeneration next time
            warnings.warn(f"mnist1d: could not cache to {path}: {e}", stacklevel=2)

    def seq(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float32)[..., np.newaxis]

    return Raw(
        seq(arrays["x"]),
        arrays["y"].astype(np.int64),
        tuple(str(c) for c in range(10)),
        "sequence",
        f"mnist1d.data.make_dataset(num_samples={num_samples}, seed={seed})",
        x_test=seq(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
    )
