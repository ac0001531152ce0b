"""Published results (suite/references.csv) and the verdict that says whether a run
reproduced one.

The CSV has one row per published figure: `dataset` (the leaderboard's dataset label, e.g.
`ucr/GunPoint`), `metric`, `model`, `value`, `std` (across the paper's runs, when it gives
them), `citation`, `note`, and what a verdict needs: `tolerance` (blank: the default rule) and
the protocol (`epochs`, `batch_size`, `optimizer`, `split`).

A candidate is matched to a row explicitly, never by its name: a model spec's
`reference.published` names the row's `model`; training tags the candidate's parent run with
it (`suite.reproduces`), and the leaderboard looks the row up by the benchmark's dataset
label, its test metric and that name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The tag on a candidate's parent run naming the published row its model reproduces.
TAG = "suite.reproduces"
# The default tolerance: 1.5 points, or twice the published spread over runs when wider.
POINTS = 0.015
SPREAD = 2.0


def read(dataset: str | None = None, metric: str | None = None) -> Any:
    """Published figures with their citations and protocols (a pandas DataFrame), optionally
    for one dataset label (e.g. `ucr/GunPoint`) and metric."""
    from importlib import resources

    import pandas as pd

    with resources.files("suite").joinpath("references.csv").open(encoding="utf-8") as f:
        frame = pd.read_csv(f)
    if dataset is not None:
        frame = frame[frame["dataset"] == dataset]
    if metric is not None:
        frame = frame[frame["metric"] == metric]
    return frame.reset_index(drop=True)


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def tolerance(std: Any = None, given: Any = None) -> float:
    """The row's own tolerance when it states one, else max(1.5 points, 2 x published std)."""
    own = _number(given)
    if own is not None:
        return own
    spread = _number(std)
    return max(POINTS, SPREAD * spread) if spread is not None else POINTS


@dataclass(frozen=True)
class Verdict:
    """Ours against a published figure: reproduced when the means differ by at most the
    tolerance (either way: far above a published figure is not a reproduction either)."""

    published: float
    ours: float
    tolerance: float

    @property
    def difference(self) -> float:
        return self.ours - self.published

    @property
    def reproduced(self) -> bool:
        return abs(self.difference) <= self.tolerance + 1e-12

    def text(self) -> str:
        """`reproduced (-0.004, within ±0.015)` or `not reproduced: 0.052 below (±0.015)`."""
        d = self.difference
        if self.reproduced:
            return f"reproduced ({d:+.3f}, within ±{self.tolerance:.3f})"
        way = "below" if d < 0 else "above"
        return f"not reproduced: {abs(d):.3f} {way} (tolerance ±{self.tolerance:.3f})"


def verdict(published: float, ours: float, std: Any = None, given: Any = None) -> Verdict:
    """The verdict on `ours` (a mean over seeds) against a published value and its spread."""
    return Verdict(float(published), float(ours), tolerance(std, given))


def row(model: str, dataset: str, metric: str) -> dict[str, Any] | None:
    """The published row of `model` on `dataset` for `metric`, or None."""
    found = read(dataset, metric)
    found = found[found["model"] == model]
    return None if found.empty else found.iloc[0].to_dict()


def candidate_tags(model: Any) -> dict[str, str]:
    """The parent-run tag linking a candidate to its published row (a ModelSpec's
    `reference.published`), or nothing."""
    ref = getattr(model, "reference", None)
    name = getattr(ref, "published", None)
    return {TAG: name} if name else {}


def reproductions(
    rows: list[dict[str, Any]], links: dict[str, str], dataset: str, metric: str
) -> list[dict[str, Any]]:
    """For each leaderboard row (candidate, test_mean, test_ci_low/high, seeds) whose
    candidate is linked to a published row of this dataset and metric: the verdict."""
    out = []
    for r in rows:
        name = links.get(str(r.get("candidate")))
        ours = _number(r.get("test_mean"))
        pub = row(name, dataset, metric) if name else None
        if pub is None or ours is None:
            continue
        v = verdict(pub["value"], ours, pub.get("std"), pub.get("tolerance"))
        out.append(
            {
                "candidate": r["candidate"],
                "model": name,
                "published": v.published,
                "tolerance": v.tolerance,
                "ours": ours,
                "ci_low": _number(r.get("test_ci_low")),
                "ci_high": _number(r.get("test_ci_high")),
                "seeds": _number(r.get("seeds")),
                "difference": v.difference,
                "reproduced": v.reproduced,
                "verdict": v.text(),
                "citation": pub["citation"],
            }
        )
    return out


__all__ = [
    "POINTS",
    "SPREAD",
    "TAG",
    "Verdict",
    "candidate_tags",
    "read",
    "reproductions",
    "row",
    "tolerance",
    "verdict",
]
