"""UCR/UEA time-series classification problems read from .ts files (aeon's wheel or data dirs)."""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from suite.data.base import DATASETS, DataError, Raw
from suite.data.files import DATA_DIR_HINT, listing
from suite.data.padding import Side, mask_value_for, pad_series
from suite.data.padding import truncate as truncate_series
from suite.settings import data_dirs

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

UCR_HOW = (
    "`pip install --no-deps aeon` ships a few problems (GunPoint, ItalyPowerDemand, ArrowHead, "
    "BasicMotions, ...; --no-deps avoids numba), or download <Name>.zip from "
    "https://timeseriesclassification.com, unzip it into a folder ucr/ and " + DATA_DIR_HINT
)

# Series of unequal length (suite.data.padding): declared here, so the schema describes them.
PadSide = Annotated[
    Side, Field(description="unequal lengths: pad after the end (post) or before the start (pre)")
]
MaxLength = Annotated[
    int | None, Field(ge=1, description="cut longer series to this many steps (null: keep all)")
]
CutSide = Annotated[
    Side, Field(description="with max_length: drop the end (post) or the start (pre)")
]


def aeon_data_dir() -> Path | None:
    """`<aeon>/datasets/data` of an installed aeon, found without importing aeon."""
    try:
        spec = importlib.util.find_spec("aeon")
    except (ImportError, ValueError):
        return None
    for loc in (spec and spec.submodule_search_locations) or []:
        p = Path(loc) / "datasets" / "data"
        if p.is_dir():
            return p
    return None


def ucr_roots() -> list[Path]:
    """Folders whose subfolders hold <Name>/<Name>_TRAIN.ts, searched in order."""
    roots: list[Path] = []
    for d in data_dirs():
        roots += [d / "ucr", d / "Univariate_ts", d / "Multivariate_ts", d]
    aeon = aeon_data_dir()
    if aeon is not None:
        roots.append(aeon)
    return roots


def _pair(folder: Path, name: str) -> tuple[Path, Path] | None:
    train, test = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
    return (train, test) if train.is_file() and test.is_file() else None


def _header(path: Path) -> dict[str, str]:
    header: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#%":
                continue
            if line[0] != "@" or line.lower() == "@data":
                break
            key, _, value = line[1:].partition(" ")
            header[key.lower()] = value.strip()
    return header


def _is_classification(path: Path) -> bool:
    return _header(path).get("classlabel", "").lower().startswith("true")


def available(roots: list[Path]) -> list[str]:
    """Names of the classification problems with both _TRAIN.ts and _TEST.ts under `roots`."""
    names: set[str] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for train in root.glob("*/*_TRAIN.ts"):
            name = train.name[: -len("_TRAIN.ts")]
            if _pair(train.parent, name) and _is_classification(train):
                names.add(name)
    return sorted(names)


def locate(name: str, roots: list[Path]) -> tuple[Path, Path] | None:
    """(train, test) files of `name`: <root>/<name>/ first, then any <root>/*/ (e.g. *_eq)."""
    for root in roots:
        found = _pair(root / name, name)
        if found:
            return found
    for root in roots:
        if root.is_dir():
            for train in sorted(root.glob(f"*/{name}_TRAIN.ts")):
                found = _pair(train.parent, name)
                if found:
                    return found
    return None


def _label_index(classes: tuple[str, ...]) -> dict[str, int]:
    index = {c: i for i, c in enumerate(classes)}
    for i, c in enumerate(classes):  # "1" in the data may be declared as "1.0", or vice versa
        with contextlib.suppress(ValueError):
            index.setdefault(repr(float(c)), i)
    return index


def read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray, tuple[str, ...]]:
    """The series (each (steps, dims) float32; lengths may differ between series), y int64
    and the classes of one .ts file."""
    header = _header(path)
    declared = header.get("classlabel", "").split()
    if not declared or declared[0].lower() != "true" or len(declared) < 3:
        raise DataError(
            f"ucr: {path} declares no class labels (@classLabel true ...); it is not a "
            "classification problem. Pick one of the classification problems."
        )
    if header.get("timestamps", "false").lower() == "true":
        raise DataError(f"ucr: {path} uses timestamps, which the suite does not read.")
    classes = tuple(declared[1:])
    index = _label_index(classes)
    rows: list[np.ndarray] = []
    labels: list[int] = []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line[0] in "#%":
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dims, label = line.split(":")
            label = label.strip()
            i = index.get(label)
            if i is None:
                with contextlib.suppress(ValueError):
                    i = index.get(repr(float(label)))
            if not dims or i is None:
                raise DataError(
                    f"ucr: {path}:{lineno}: expected 'v1,v2,...:label' with label in "
                    f"{list(classes)}, got label {label!r}."
                )
            try:
                series = [[float(v) for v in d.replace("?", "nan").split(",")] for d in dims]
            except ValueError as e:
                raise DataError(f"ucr: {path}:{lineno}: unreadable value ({e}).") from None
            if len({len(s) for s in series}) != 1:
                raise DataError(
                    f"ucr: {path}:{lineno}: the dimensions of one series have unequal lengths "
                    f"({', '.join(str(len(s)) for s in series)}); the suite pads whole series, "
                    "not single dimensions."
                )
            if rows and rows[0].shape[1] != len(series):
                raise DataError(
                    f"ucr: {path}:{lineno}: {len(series)} dimensions, not {rows[0].shape[1]}."
                )
            rows.append(np.asarray(series, dtype=np.float32).T)
            labels.append(i)
    if not rows:
        raise DataError(f"ucr: {path} has no data lines after @data.")
    gaps = sum(bool(np.isnan(r).any()) for r in rows)
    if gaps:
        raise DataError(
            f"ucr: {path} has missing values ('?' in {gaps} series); the suite needs complete "
            "series. Pick another problem or impute the file."
        )
    return rows, np.asarray(labels, dtype=np.int64), classes


def _znormalize(series: list[np.ndarray]) -> list[np.ndarray]:
    """Each series z-normalized per dimension over its own (real) steps."""
    out = []
    for s in series:
        mean, std = s.mean(axis=0, keepdims=True), s.std(axis=0, keepdims=True)
        out.append(((s - mean) / np.where(std < 1e-8, 1.0, std)).astype(np.float32))
    return out


@DATASETS.register("ucr")
def ucr(
    problem: str = "GunPoint",
    znormalize: bool = False,
    pad: PadSide = "post",
    max_length: MaxLength = None,
    truncate: CutSide = "post",
) -> Raw:
    """A UCR/UEA time-series classification problem from its .ts files (native train/test)."""
    roots = ucr_roots()
    found = locate(problem, roots)
    if found is None:
        names = available(roots)
        lower = {n.lower(): n for n in names}
        near = [lower[n] for n in difflib.get_close_matches(problem.lower(), list(lower), n=3)]
        hint = f" Did you mean {' or '.join(map(repr, near))}?" if near else ""
        where = listing(roots) if roots else "  (nowhere: no aeon, no SUITE_DATA_DIR)"
        raise DataError(
            f"ucr: no problem {problem!r} (looked for {problem}/{problem}_TRAIN.ts and "
            f"_TEST.ts under:\n"
            f"{where}\n).{hint} Available: {', '.join(names) or 'none'}.\nTo get more: {UCR_HOW}."
        )
    train, test = found
    s_train, y_train, classes = read_ts(train)
    s_test, y_test, test_classes = read_ts(test)
    if s_test[0].shape[1] != s_train[0].shape[1]:
        raise DataError(
            f"ucr: {problem}: test series have {s_test[0].shape[1]} dimensions but train series "
            f"have {s_train[0].shape[1]}."
        )
    if test_classes != classes:  # map by label text onto the train declaration
        remap = np.array([classes.index(c) if c in classes else -1 for c in test_classes])
        y_test = remap[y_test]
        if (y_test < 0).any():
            raise DataError(f"ucr: {problem}: the test file declares classes absent from train.")
    s_train, s_test = (
        truncate_series(s_train, max_length, truncate),
        truncate_series(s_test, max_length, truncate),
    )
    if znormalize:
        s_train, s_test = _znormalize(s_train), _znormalize(s_test)
    every = s_train + s_test
    length = max(len(s) for s in every)
    mask = None if all(len(s) == length for s in every) else mask_value_for(every)
    value = 0.0 if mask is None else mask
    x_train, x_test = (
        pad_series(s_train, length, pad, value),
        pad_series(s_test, length, pad, value),
    )
    return Raw(
        x_train,
        y_train,
        classes,
        "sequence",
        str(train.parent),
        x_test=x_test,
        y_test=y_test,
        mask_value=mask,
    )
