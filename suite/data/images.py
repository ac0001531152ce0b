"""Image datasets: sklearn's digits and Fashion-MNIST from local idx files."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

from suite.data.base import DATASETS, DataError, Raw
from suite.data.files import DATA_DIR_HINT, atomic_write, listing
from suite.settings import cache_dir, data_dirs

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np


@DATASETS.register("digits")
def digits() -> Raw:
    """sklearn's 1,797 handwritten digits, 8x8 grey images in [0, 1], 10 classes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (np.asarray(d.images, dtype=np.float32) / 16.0)[..., np.newaxis]
    y = np.asarray(d.target, dtype=np.int64)
    classes = tuple(str(c) for c in range(10))
    return Raw(x, y, classes, "image", "sklearn.datasets.load_digits")


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FASHION_HOW = (
    "To get it offline: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs "
    "/usr/share/datasets/fashion-mnist), or put the four idx files (.gz or not) in a folder "
    f"fashion_mnist/ and {DATA_DIR_HINT}."
)


def fashion_search_dirs() -> list[Path]:
    """Folders searched for the idx files, in order."""
    dirs: list[Path] = []
    for d in data_dirs():
        dirs += [d / "fashion_mnist", d / "fashion-mnist", d]
    dirs += [
        Path("/usr/share/datasets/fashion-mnist"),
        Path.home() / ".keras" / "datasets" / "fashion-mnist",
        cache_dir() / "fashion_mnist",
    ]
    return dirs


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def read_idx(path: Path) -> np.ndarray:
    """An idx file (plain or gzip) as a uint8 numpy array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"fashion_mnist: {path} is not an unsigned-byte idx file (bad header).")
    ndim = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise DataError(
            f"fashion_mnist: {path} is truncated or corrupt: header says {dims}, "
            f"found {len(data) - offset} bytes of data. Delete it and get it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _decoded(found: dict[str, Path]) -> list[np.ndarray]:
    """The four idx files' arrays, from an uncompressed .npz under the cache dir written on
    the first read (decoding the gzip files costs about a second in every process)."""
    import hashlib
    import zipfile

    stamp = [
        (str(found[s].resolve()), found[s].stat().st_size, found[s].stat().st_mtime_ns)
        for s in FASHION_FILES
    ]
    key = hashlib.sha256(repr(stamp).encode()).hexdigest()[:16]
    path = cache_dir() / "fashion_mnist" / f"decoded-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return [f[f"a{i}"] for i in range(len(FASHION_FILES))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # absent or unreadable: decode and write it
    arrays = [read_idx(found[s]) for s in FASHION_FILES]
    try:
        with atomic_write(path) as f:
            np.savez(f, **{f"a{i}": a for i, a in enumerate(arrays)})
    except OSError:  # an unwritable cache only costs decoding next time
        pass
    return arrays


def _download(target: Path, timeout: float) -> None:
    import urllib.request  # lazily: it pulls in http and ssl

    for stem in FASHION_FILES:
        dest = target / f"{stem}.gz"
        if dest.is_file():
            continue
        with urllib.request.urlopen(FASHION_URL + dest.name, timeout=timeout) as r:
            payload = r.read()
        with atomic_write(dest) as f:
            f.write(payload)


def load_fashion_mnist(dirs: list[Path], download_to: Path | None, timeout: float = 15.0) -> Raw:
    """Fashion-MNIST from the first folder in `dirs` holding all four idx files.

    When none does and `download_to` is given, download the .gz files there first.
    """
    found: dict[str, Path] | None = None
    for d in dirs:
        paths = {stem: _find_idx(d, stem) for stem in FASHION_FILES}
        if all(p is not None for p in paths.values()):
            found = {k: p for k, p in paths.items() if p is not None}
            break
    if found is None:
        why = "downloading is disabled"
        if download_to is not None:
            try:
                _download(download_to, timeout)
                return load_fashion_mnist([download_to], None)
            except OSError as e:  # URLError and timeouts are OSErrors
                why = f"download from {FASHION_URL} failed ({e})"
        raise DataError(
            "fashion_mnist: idx files not found ("
            + ", ".join(f"{s}[.gz]" for s in FASHION_FILES)
            + f"). Looked in:\n{listing(dirs)}\nand {why}.\n{FASHION_HOW}"
        )
    x_train, y_train, x_test, y_test = _decoded(found)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or (y > 9).any():
            raise DataError(
                f"fashion_mnist: files in {found['train-images-idx3-ubyte'].parent} do not look "
                f"like Fashion-MNIST (images {x.shape}, labels {y.shape})."
            )

    def scale(a: np.ndarray) -> np.ndarray:
        return (a.astype(np.float32) / 255.0)[..., np.newaxis]

    return Raw(
        scale(x_train),
        y_train.astype(np.int64),
        FASHION_CLASSES,
        "image",
        str(found["train-images-idx3-ubyte"].parent),
        x_test=scale(x_test),
        y_test=y_test.astype(np.int64),
    )


@DATASETS.register("fashion_mnist")
def fashion_mnist() -> Raw:
    """Zalando's Fashion-MNIST, 60k/10k 28x28 grey clothing images, 10 classes."""
    return load_fashion_mnist(fashion_search_dirs(), download_to=cache_dir() / "fashion_mnist")
