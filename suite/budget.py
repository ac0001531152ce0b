"""Budget-limited training: was a run still improving when its epochs ran out?

The rule (pure functions of numbers; README, "Budget-limited candidates"):

- The tail of a run's validation curve (the search metric, one value per epoch) is its last
  `window(epochs)` = max(3, ceil(25 % of the epochs)) epochs, or all of them when it has
  fewer; its trend is the least-squares slope over those epochs.
- A run is still improving when it ran all its epochs (not ended by early stopping, a pruner
  or a NaN loss) and its trend, continued for as many epochs again as the tail holds
  (slope x window), moves the metric its good way by more than the candidate's seed noise:
  the sample standard deviation of the last value over the candidate's seed runs (0 with a
  single run). A run of a single epoch has no trend: it is not judged.
- A candidate is budget-limited when most (more than half) of its best configuration's seed
  runs that could be judged were still improving.

Each run logs what the rule needs (`tail_metrics`); the decision is made once the seed runs
are known, by the runner when a candidate finishes (`suite.parents.tag_budget`: the tags
`suite.budget_limited` on the parent run and `suite.still_improving` on each run) and by
`suite compare`, which reads the same metrics back.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MIN_WINDOW = 3
TAIL_FRACTION = 0.25
SLOPE, WINDOW, LAST, STOPPED = "tail_slope", "tail_epochs", "tail_last", "stopped_early"
LIMITED, IMPROVING = "suite.budget_limited", "suite.still_improving"  # parent, run tags


def window(epochs: int) -> int:
    """Epochs in the tail: max(MIN_WINDOW, ceil(TAIL_FRACTION x epochs)), at most `epochs`."""
    return max(0, min(epochs, max(MIN_WINDOW, math.ceil(TAIL_FRACTION * epochs))))


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of `values` against their index (per epoch); NaN when fewer than
    two values or any is not finite."""
    n = len(values)
    if n < 2 or not all(math.isfinite(v) for v in values):
        return math.nan
    mx, my = (n - 1) / 2, sum(values) / n
    num = sum((i - mx) * (v - my) for i, v in enumerate(values))
    return num / sum((i - mx) ** 2 for i in range(n))


def tail_metrics(curve: Sequence[float], stop: str) -> dict[str, float]:
    """What the rule needs from one run, as MLflow metrics: the slope over the tail of its
    validation `curve`, the tail's length, the last value, and 1 when `stop` (the fit's
    ending) is anything but `completed`."""
    values = [float(v) for v in curve]
    w = window(len(values))
    return {
        SLOPE: slope(values[len(values) - w :]) if w else math.nan,
        WINDOW: float(w),
        LAST: values[-1] if values else math.nan,
        STOPPED: 0.0 if stop == "completed" else 1.0,
    }


def still_improving(
    slope: float, window: float, noise: float, direction: str, stopped_early: bool
) -> bool | None:
    """Whether one run was still improving at its end: not stopped early, and its tail's
    slope x window points the `direction` way by more than `noise` (NaN noise counts as 0).
    None when it cannot be judged (no slope: fewer than two epochs)."""
    if stopped_early:
        return False
    if not math.isfinite(slope) or not math.isfinite(window) or window < 2:
        return None
    gain = slope * window * (1.0 if direction == "maximize" else -1.0)
    return gain > (noise if math.isfinite(noise) else 0.0)


@dataclass(frozen=True)
class Curve:
    """One run's tail, as logged: slope, window, last value, stopped early, epochs trained."""

    slope: float
    window: float
    last: float
    stopped_early: bool
    epochs: float


def noise(curves: Sequence[Curve]) -> float:
    """The sample standard deviation of the runs' last values (0 with fewer than two)."""
    last = [c.last for c in curves if math.isfinite(c.last)]
    return statistics.stdev(last) if len(last) > 1 else 0.0


@dataclass(frozen=True)
class Assessment:
    """A candidate's seed runs judged by the rule."""

    runs: int  # seed runs with a logged tail
    judged: int  # of those, the ones the rule could judge
    improving: int  # of those, the ones still improving at their end
    epochs: int  # epochs the improving runs trained (median), else every run's
    noise: float  # the across-seed standard deviation the gain had to beat

    @property
    def fraction(self) -> float:
        """The fraction of judged runs still improving; NaN when none could be judged."""
        return self.improving / self.judged if self.judged else math.nan

    @property
    def limited(self) -> bool:
        """Budget-limited: most judged runs were still improving."""
        return self.judged > 0 and 2 * self.improving > self.judged

    def note(self, candidate: str | None = None) -> str:
        """`gru budget-limited: still improving at epoch 8 of 8 (6 of 7 seed runs)`; without
        the name when `candidate` is None."""
        text = (
            f"budget-limited: still improving at epoch {self.epochs} of {self.epochs} "
            f"({self.improving} of {self.judged} seed runs)"
        )
        return f"{candidate} {text}" if candidate else text

    def record(self, candidate: str) -> dict[str, Any]:
        """The assessment as a JSON-ready dict (the leaderboard's `budget` attribute)."""
        return {
            "candidate": candidate,
            "budget_limited": self.limited,
            "still_improving": self.fraction,
            "improving": self.improving,
            "judged": self.judged,
            "runs": self.runs,
            "epochs": self.epochs,
            "noise": self.noise,
            "note": self.note(candidate) if self.limited else "",
        }


def decisions(curves: Sequence[Curve], direction: str) -> list[bool | None]:
    """Each run's `still_improving`, against the noise of all of them."""
    sd = noise(curves)
    return [still_improving(c.slope, c.window, sd, direction, c.stopped_early) for c in curves]


def assess(curves: Sequence[Curve], direction: str) -> Assessment:
    """Judge one candidate's seed runs (one configuration, several seeds)."""
    said = decisions(curves, direction)
    judged = [d for d in said if d is not None]
    up = [c for c, d in zip(curves, said, strict=True) if d]
    trained = [c.epochs for c in (up or curves) if math.isfinite(c.epochs)]
    epochs = int(statistics.median(trained)) if trained else 0
    return Assessment(len(curves), len(judged), sum(judged), epochs, noise(curves))


def curve(metrics: Mapping[str, Any]) -> Curve | None:
    """A run's Curve from its metrics (`tail_slope`, ...); None when it logged no tail."""

    def get(key: str) -> float:
        try:
            return float(metrics.get(key, math.nan))
        except (TypeError, ValueError):
            return math.nan

    if not math.isfinite(get(WINDOW)):
        return None
    return Curve(get(SLOPE), get(WINDOW), get(LAST), get(STOPPED) == 1.0, get("epochs"))


def curves_of(frame: Any) -> list[Curve]:
    """The Curves of the runs in an `mlflow.search_runs` frame (`metrics.*` columns)."""
    cols = {c.removeprefix("metrics."): c for c in frame.columns if c.startswith("metrics.")}
    out = []
    for _, row in frame.iterrows():
        c = curve({k: row[col] for k, col in cols.items()})
        if c is not None:
            out.append(c)
    return out


def annotate(verdict: str, notes: Sequence[str]) -> str:
    """A verdict followed by the budget notes of the candidates it involves."""
    return " — ".join([verdict, *notes]) if notes else verdict
