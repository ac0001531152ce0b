"""Series of unequal length, cut to at most `max_length` steps and padded to one length.

A loader that reads series of unequal length keeps each one as a (steps, features) array,
then calls `pad_series`: every series is truncated to `max_length` steps (dropping its end,
`truncate="post"`, or its start, `"pre"`) and padded with one value at its end (`pad="post"`)
or start (`"pre"`) up to the longest kept series. The padding value is chosen so that no real
step equals it in every feature (0.0 unless some real step is all zeros); the loader returns it
as `Raw.mask_value`, which tells the model builder to mask those steps (suite.data.base).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

Side = Literal["post", "pre"]


def truncate(series: Sequence[np.ndarray], max_length: int | None, side: Side) -> list[np.ndarray]:
    """Each (steps, features) series cut to at most `max_length` steps (None: kept whole);
    "post" drops the last steps, "pre" the first."""
    if max_length is None:
        return list(series)
    if side == "post":
        return [s[:max_length] for s in series]
    return [s[max(len(s) - max_length, 0) :] for s in series]


def mask_value_for(series: Sequence[np.ndarray]) -> float:
    """0.0 unless some real step is all zeros; then an integer below every real value."""
    if not any(bool((s == 0).all(axis=1).any()) for s in series):
        return 0.0
    low = min(float(s.min()) for s in series if s.size)
    return float(np.floor(low) - 1.0)


def pad_series(series: Sequence[np.ndarray], length: int, side: Side, value: float) -> np.ndarray:
    """(n, length, features) float32: each (steps <= length, features) series padded with
    `value` after its end ("post") or before its start ("pre")."""
    features = series[0].shape[1] if series else 0
    out = np.full((len(series), length, features), value, dtype=np.float32)
    for i, s in enumerate(series):
        if side == "post":
            out[i, : len(s)] = s
        else:
            out[i, length - len(s) :] = s
    return out


def lengths(x: np.ndarray, mask_value: float) -> np.ndarray:
    """Real steps of each padded (n, steps, features) series: those not all `mask_value`."""
    return (x != np.float32(mask_value)).any(axis=2).sum(axis=1)
