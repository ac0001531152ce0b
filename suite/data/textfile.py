"""The user's own text classification files: CSV, TSV, JSONL or Parquet with a text column and
a label column. Rows are numbered from 1 after the header (JSONL: line numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from suite.data.base import DATASETS, DataError, Raw
from suite.data.files import resolve_file
from suite.data.text import text_raw

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Format = Literal["auto", "csv", "tsv", "jsonl", "parquet"]
_SUFFIX = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}


def _read(path: str, fmt: Format, encoding: str) -> object:
    import pandas as pd

    file = resolve_file("text_file", path)
    kind = fmt if fmt != "auto" else _SUFFIX.get(file.suffix.lower())
    if kind is None:
        raise DataError(
            f"text_file: cannot tell the format of {file} from its suffix; "
            "set format: csv, tsv, jsonl or parquet"
        )
    if kind != "parquet":
        raw = file.read_bytes()
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise DataError(
                f"text_file: {file} line {line}: bytes {raw[e.start : e.end]!r} are not valid "
                f"{encoding}; re-encode the file or set encoding (e.g. latin-1)"
            ) from None
    try:
        if kind == "parquet":
            return pd.read_parquet(file)
        if kind == "jsonl":
            return pd.read_json(file, lines=True, encoding=encoding, dtype=False)
        sep = "\t" if kind == "tsv" else ","
        return pd.read_csv(file, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
    except ValueError as e:
        raise DataError(f"text_file: cannot read {file} as {kind}: {e}") from None


def _columns(
    frame: object, path: str, text: str, label: str, empty: str
) -> tuple[list[str], np.ndarray]:
    cols = list(frame.columns)  # type: ignore[attr-defined]
    for what, col in (("text_column", text), ("label_column", label)):
        if col not in cols:
            raise DataError(
                f"text_file: {path} has no column {col!r} ({what}); its columns are: "
                f"{', '.join(map(str, cols))}"
            )
    xs = frame[text].tolist()  # type: ignore[index]
    ys = frame[label].to_numpy()  # type: ignore[index]
    keep = []
    for i, t in enumerate(xs):
        if not isinstance(t, str) or not t.strip():
            if empty == "drop":
                continue
            raise DataError(
                f"text_file: {path} row {i + 1}: empty or missing text in column {text!r}; "
                "fix the row or set empty: drop"
            )
        lab = ys[i]
        if lab is None or (isinstance(lab, str) and not lab.strip()) or lab != lab:
            raise DataError(f"text_file: {path} row {i + 1}: missing label in column {label!r}")
        keep.append(i)
    return [str(xs[i]) for i in keep], ys[keep].astype(str)


@DATASETS.register("text_file")
def text_file(
    path: str,
    text_column: str = "text",
    label_column: str = "label",
    format: Format = "auto",
    encoding: str = "utf-8",
    val_path: str | None = None,
    test_path: str | None = None,
    empty: Literal["error", "drop"] = "error",
) -> Raw:
    """Your own texts and labels (CSV, TSV, JSONL, Parquet), with optional val/test files."""
    parts = {}
    for split, p in (("train", path), ("val", val_path), ("test", test_path)):
        if p is not None:
            frame = _read(p, format, encoding)
            parts[split] = _columns(frame, p, text_column, label_column, empty)
    return text_raw("text_file", parts, f"text_file {path}")
