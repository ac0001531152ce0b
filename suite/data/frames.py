"""Sequences of real digit images whose label depends on the whole sequence.

The 1,797 scikit-learn digits are first split (per class, seeded) into a train pool and a test
pool; train sequences are drawn from the train pool only and test sequences from the test
pool only, so no image is shared between them. The test sequences are the native test split.

Parameters: `frames` images per sequence; `num_sequences` train + test sequences; `test_pool` the
share of the images (per class) and of the sequences on the test side; `rule` sum, sum_mod_10,
max or majority (a planted strict majority digit); `seed` fixes pools, digits and images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from suite.data.base import DATASETS, Raw, stratified_split
from suite.data.images import digits

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Rule = Literal["sum", "sum_mod_10", "max", "majority"]
RULES: dict[str, str] = {
    "sum": "the sum of the digits (9 * frames + 1 classes)",
    "sum_mod_10": "the sum of the digits modulo 10",
    "max": "the largest digit",
    "majority": "the digit that fills more than half of the frames",
}


def label_of(sequence_digits: np.ndarray, rule: Rule) -> np.ndarray:
    """Labels of digit sequences (n, frames) under `rule`."""
    d = np.asarray(sequence_digits, dtype=np.int64)
    if rule == "sum":
        return d.sum(axis=1)
    if rule == "sum_mod_10":
        return d.sum(axis=1) % 10
    if rule == "max":
        return d.max(axis=1)
    counts = np.stack([(d == k).sum(axis=1) for k in range(10)], axis=1)
    winner = counts.argmax(axis=1)
    if (counts.max(axis=1) * 2 <= d.shape[1]).any():
        raise ValueError("majority: a sequence has no digit in more than half of its frames")
    return winner


def _digit_sequences(n: int, frames: int, rule: Rule, rng: np.random.Generator) -> np.ndarray:
    """(n, frames) digits: uniform per frame, or for `majority` a planted strict majority."""
    if rule != "majority":
        return rng.integers(0, 10, size=(n, frames))
    label = rng.integers(0, 10, size=n)
    others = (label[:, None] + rng.integers(1, 10, size=(n, frames))) % 10  # never the label
    planted = np.arange(frames) < frames // 2 + 1
    seqs = np.where(planted[None, :], label[:, None], others)
    return rng.permuted(seqs, axis=1)


def _compose(
    images: np.ndarray, targets: np.ndarray, seq_digits: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Indices into `images` (n, frames): a random image of each wanted digit."""
    out = np.empty(seq_digits.shape, dtype=np.int64)
    for k in range(10):
        pool = np.flatnonzero(targets == k)
        where = seq_digits == k
        out[where] = rng.choice(pool, size=int(where.sum()))
    return out


@DATASETS.register("frames")
def frames(
    frames: Annotated[int, Field(ge=1, le=32)] = 4,
    num_sequences: Annotated[int, Field(ge=100)] = 6000,
    rule: Rule = "sum",
    test_pool: Annotated[float, Field(gt=0, lt=1)] = 0.25,
    seed: int = 0,
) -> Raw:
    """Sequences of `frames` 8x8 digit images labelled by the whole sequence (e.g. its sum)."""
    src = digits()
    images, targets = src.x_train, src.y_train
    rng = np.random.default_rng(seed)
    train_pool, test_pool_idx = stratified_split(targets, test_pool, seed)
    n_test = max(round(num_sequences * test_pool), 10)
    parts = []
    for pool, n in ((train_pool, num_sequences - n_test), (test_pool_idx, n_test)):
        seq_digits = _digit_sequences(n, frames, rule, rng)
        idx = pool[_compose(images[pool], targets[pool], seq_digits, rng)]
        parts.append((images[idx], label_of(targets[idx], rule)))
    (x_train, y_train), (x_test, y_test) = parts
    return Raw(
        x_train.astype(np.float32),
        y_train.astype(np.int64),
        tuple(str(c) for c in range(9 * frames + 1 if rule == "sum" else 10)),
        "sequence",
        f"sklearn.datasets.load_digits, {frames} frames, label = {RULES[rule]}",
        x_test=x_test.astype(np.float32),
        y_test=y_test.astype(np.int64),
    )
