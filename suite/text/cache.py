"""Token ids cached on disk, keyed by the content hash of dataset + splits + tokenizer settings.

Trial 2..N of a candidate, other candidates with the same tokenizer, reruns and other workers
load the ids (and the fitted tokenizer) instead of tokenizing again. Each call logs one line,
`tokenizer <kind> on <dataset>: cache hit|miss (<seconds> s)`, and counts it in `COUNTS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from suite import settings

log = logging.getLogger("suite.text")
VERSION = "3"  # bump when the stored layout or the tokenizers' output changes
COUNTS = {"hit": 0, "miss": 0, "memo": 0}  # disk hits, misses, in-process reuses (tests read it)
_MEMO: dict[str, Any] = {}


@dataclass(frozen=True)
class Prepared:
    """A dataset as the model sees it, with the tokenizer that made it and its statistics."""

    data: Any  # suite.data.Dataset with int32 ids as x
    tokenizer: Any  # suite.text.fit.Fitted, or None
    stats: dict[str, float]
    hit: bool  # the ids came from the cache (no tokenization)
    seconds: float  # time to load or to fit + tokenize
    key: str = ""


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 (24 hex digits) of the JSON form of `parts` plus the cache version."""
    doc = json.dumps({"v": VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:24]


def cached(
    parts: dict[str, Any], build: Callable[[Path], dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], Path, bool, float]:
    """Arrays stored under the key of `parts`: loaded when present, else `build(folder)` makes
    them (and may write files into `folder`). Returns (arrays, folder, hit, seconds)."""
    key = cache_key(parts)
    root = settings.cache_dir() / "text"
    folder = root / key
    start = time.perf_counter()
    if (folder / "arrays.npz").is_file():
        with np.load(folder / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        COUNTS["hit"] += 1
        return arrays, folder, True, time.perf_counter() - start
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}."))
    try:
        arrays = build(tmp)
        np.savez(tmp / "arrays.npz", **arrays)
        (tmp / "key.json").write_text(json.dumps(parts, default=str, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:  # another worker stored it first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    COUNTS["miss"] += 1
    return arrays, folder, False, time.perf_counter() - start


def clear_memo() -> None:
    """Forget the in-process copies (the disk cache stays)."""
    _MEMO.clear()


def _split_texts(data: Any, split: str) -> list[str]:
    return [str(t) for t in getattr(data, split).x.tolist()]


def remembered(key: str) -> Prepared | None:
    """Inputs prepared earlier in this process under `key`, or None."""
    return _MEMO.get(key)


def remember(key: str, prep: Prepared) -> None:
    """Keep prepared inputs for this process's later trials."""
    _MEMO[key] = prep


def encode_dataset(data: Any, spec: Any) -> Prepared:
    """`data` (texts) with each split's texts turned into ids by `spec` fitted on train."""
    from suite.data.base import Split

    doc = spec.model_dump(mode="json")
    parts = {"dataset": data.name, "fingerprint": data.fingerprint, "tokenizer": doc}
    key = cache_key(parts)
    memo = f"{settings.cache_dir().resolve()}/{key}"  # per cache folder (tests use several)
    if memo in _MEMO:
        prep = _MEMO[memo]
        COUNTS["memo"] += 1
        stats = {**prep.stats, "tok.tokenize_s": 0.0}
        return dataclasses.replace(prep, hit=True, seconds=0.0, stats=stats)

    def build(folder: Path) -> dict[str, np.ndarray]:
        from suite.data import DataError
        from suite.text.fit import fit_tokenizer

        try:
            tok = fit_tokenizer(spec, _split_texts(data, "train"), folder / "tokenizer")
        except UnicodeError as e:
            raise DataError(f"{data.name}: train split: {e}") from None
        except ValueError as e:
            if "not valid Unicode" in str(e):
                raise DataError(f"{data.name}: train split: {e}") from None
            raise
        out: dict[str, np.ndarray] = {}
        seqs = {}
        for split in ("train", "val", "test"):
            try:
                seqs[split] = tok.ids(_split_texts(data, split))
            except ValueError as e:
                raise DataError(f"{data.name}: {split} split: {e}") from None
            out[split], out[f"{split}_cut"] = tok.pad(seqs[split])
        stats = tok.stats(seqs["train"], seqs["val"], out["train_cut"])
        (folder / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
        return out

    arrays, folder, hit, seconds = cached(parts, build)
    from suite.text.fit import load_tokenizer

    tok = load_tokenizer(folder / "tokenizer")
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    stats["tok.tokenize_s"] = seconds
    what = "cache hit: no tokenization" if hit else "cache miss: fitted and tokenized"
    log.info("tokenizer %s on %s: %s (%.2f s, key %s)", spec.kind, data.name, what, seconds, key)
    cut = float(arrays["train_cut"].mean()) if len(arrays["train_cut"]) else 0.0
    if cut > 0.5:
        log.warning(
            "tokenizer %s on %s: %.0f%% of training texts are longer than max_length=%d and "
            "were truncated (%s side); raise tokenizer.max_length",
            spec.kind,
            data.name,
            100 * cut,
            spec.max_length,
            spec.truncation,
        )
    encoded = dataclasses.replace(
        data,
        train=Split(_ro(arrays["train"]), data.train.y),
        val=Split(_ro(arrays["val"]), data.val.y),
        test=Split(_ro(arrays["test"]), data.test.y),
        modality="sequence",
        meta={**data.meta, "tokenizer": doc, "tokenizer_key": key},
    )
    prep = Prepared(encoded, tok, stats, hit, seconds, key)
    _MEMO[memo] = prep
    return prep


def _ro(a: np.ndarray) -> np.ndarray:
    with contextlib.suppress(ValueError):
        a.flags.writeable = False
    return a
