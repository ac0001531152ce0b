"""What a report shows, read back from MLflow and the Optuna storage (never from training)."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from suite import stores, track

# The one importance method of a report, used by its sensitivity and importance charts alike.
METHOD = "fANOVA, seed 0"
# Fewer completed trials than this make importances (and so "most important") unreliable.
RELIABLE_TRIALS = 10


@dataclass(frozen=True)
class Importance:
    """A candidate's hyperparameter importances (most important first) and how much to trust
    them: `completed` trials went into them; `problem` says why there are none."""

    values: dict[str, float]
    completed: int
    problem: str = ""

    @property
    def most(self) -> str | None:
        return next(iter(self.values), None)

    @property
    def warning(self) -> str:
        """Empty when enough completed trials went into the importances."""
        if self.completed >= RELIABLE_TRIALS:
            return ""
        return (
            f"only {self.completed} completed trial{'s' * (self.completed != 1)}: importances "
            f"from fewer than {RELIABLE_TRIALS} are unreliable"
        )


@dataclass
class Bench:
    """One benchmark as the tracking store holds it: runs, leaderboard, studies, artifacts."""

    name: str
    uri: str
    storage: str | None = None
    allow_mixed: bool = False  # results of other data or suite versions: a warning, not an error
    found: dict[str, Importance] = field(default_factory=dict, repr=False)  # importances

    @cached_property
    def read(self) -> Any:
        """The benchmark's experiment and runs (`suite.compare.readback.Runs`); raises NotFound."""
        from suite.compare.readback import read

        return read(self.name, self.uri)

    @property
    def client(self) -> Any:
        return self.read.client

    @property
    def runs(self) -> Any:
        """Every run of the benchmark as a DataFrame (`mlflow.search_runs`)."""
        return self.read.frame

    @cached_property
    def board(self) -> Any:
        """The leaderboard of `suite compare`, best candidate first."""
        from suite.compare import leaderboard

        return leaderboard(self.read, allow_mixed=self.allow_mixed)

    @property
    def metric(self) -> str:
        return str(self.read.metric)

    @property
    def test_metric(self) -> str:
        return str(self.read.test_metric)

    @property
    def higher_better(self) -> bool:
        return self.read.direction == "maximize"

    def col(self, name: str) -> Any:
        return self.read.col(name)

    def of_kind(self, kind: str, candidate: str | None = None, complete: bool = True) -> Any:
        """Runs of one kind (candidate, trial, seed), optionally of one candidate."""
        mask = self.col(f"tags.{track.KIND}") == kind
        if candidate is not None:
            mask &= self.col(f"tags.{track.CANDIDATE}") == candidate
        if complete and kind != "candidate":
            mask &= self.col(f"tags.{track.STATE}") == "COMPLETE"
        return self.runs[mask]

    @property
    def candidates(self) -> list[str]:
        """Candidate names, in leaderboard order (baselines left out)."""
        board = self.board
        names = zip(board["candidate"], board["family"], strict=True)
        return [c for c, f in names if f != "baseline"]

    @cached_property
    def seed_interval(self) -> float:
        """The widest 95 % interval over seeds on the leaderboard (0 without one): score axes
        span at least this much, so differences within seed noise do not look like cliffs."""
        board = self.board
        if "test_ci_low" not in board:
            return 0.0
        widths = (board["test_ci_high"] - board["test_ci_low"]).dropna()
        return float(widths.max()) if len(widths) else 0.0

    def trials(self, candidate: str) -> Any:
        """The candidate's completed and pruned trials in trial order: trial (Optuna's
        number), state, value (the best validation value reached, pruned trials too), the
        searched values (`params`, a dict) and run_id."""
        import pandas as pd

        runs = self.of_kind("trial", candidate, complete=False)
        cols = ["trial", "state", "value", "params", "run_id"]
        state = runs.get(f"tags.{track.STATE}")
        runs = runs[state.isin(["COMPLETE", "PRUNED"])] if state is not None else runs[:0]
        if runs.empty:
            return pd.DataFrame(columns=cols)
        frame = pd.DataFrame(
            {
                "trial": runs[f"tags.{track.TRIAL}"].astype(int),
                "state": runs[f"tags.{track.STATE}"],
                "value": runs.get("metrics.objective", math.nan),
                "params": [json.loads(p or "{}") for p in runs.get("tags.suite.params", [])],
                "run_id": runs["run_id"],
            }
        )
        return frame.sort_values("trial", kind="stable").reset_index(drop=True)

    def importance(self, candidate: str) -> Importance:
        """The candidate's importances by fANOVA (seeded), computed once per report."""
        if candidate not in self.found:
            self.found[candidate] = self._importance(candidate)
        return self.found[candidate]

    def _importance(self, candidate: str) -> Importance:
        import warnings

        import optuna

        study = self.study(candidate)
        if study is None:
            return Importance({}, 0, "no study in the Optuna storage")
        done = [
            t for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
        ]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = optuna.importance.get_param_importances(
                    study,
                    evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                    target=lambda t: t.values[0],
                )
        except (ValueError, RuntimeError) as e:
            return Importance({}, len(done), str(e))
        values = {str(k): float(v) for k, v in found.items()}
        problem = "" if values else "no searched hyperparameter varies"
        return Importance(values, len(done), problem)

    def parent(self, candidate: str) -> Any:
        rows = self.of_kind("candidate", candidate)
        return rows.iloc[0] if len(rows) else None

    def best_seed_runs(self, candidate: str) -> Any:
        """The completed seed runs of the candidate's best configuration."""
        from suite.compare.readback import best_seed_runs

        return best_seed_runs(self.read, candidate)

    def best_run_id(self, candidate: str) -> str | None:
        parent = self.parent(candidate)
        run = None if parent is None else parent.get("tags.suite.best_run")
        return run if isinstance(run, str) else None

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """(step, value) of a metric of one run, in step order."""
        points = self.client.get_metric_history(run_id, key)
        return sorted((m.step, m.value) for m in points if not math.isnan(m.value))

    def confusion(self, run_id: str) -> dict[str, Any] | None:
        """The test confusion matrix a seed run logged, or None."""
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(run_id, track.CONFUSION, tmp)
            except Exception:
                return None
            return json.loads(Path(path).read_text(encoding="utf-8"))

    def study(self, candidate: str) -> Any:
        """The candidate's Optuna study, or None when the storage does not hold it."""
        import optuna

        from suite.stores import make_storage, resolve_storage

        parent = self.parent(candidate)
        name = None if parent is None else parent.get(f"tags.{track.STUDY}")
        name = name if isinstance(name, str) else f"{self.name}/{candidate}"
        try:
            url = resolve_storage(self.name, self.storage)
            return optuna.load_study(study_name=name, storage=make_storage(url))
        except (KeyError, ValueError):
            return None

    def tokenizers(self) -> Any:
        """Seed runs (or completed trials) with their tokenizer, when any run names one."""
        tag = f"tags.{track.TOKENIZER}"
        runs = self.of_kind("seed")
        value = f"metrics.{self.test_metric}"
        if runs.empty or tag not in runs or runs[tag].isna().all():
            runs, value = self.of_kind("trial"), "metrics.objective"
        if runs.empty or tag not in runs or runs[tag].isna().all() or value not in runs:
            return None
        out = runs[[tag, f"tags.{track.CANDIDATE}", f"tags.{track.FAMILY}", value]].dropna()
        out.columns = ["tokenizer", "candidate", "family", "value"]
        out.attrs["metric"] = self.test_metric if value.startswith("metrics.test") else self.metric
        return out if len(out) else None


def load(
    names: list[str], uri: str | None = None, storage: str | None = None, allow_mixed: bool = False
) -> list[Bench]:
    """The benchmarks, checked to exist (a missing one raises compare.NotFound)."""
    uri = uri or stores.default_tracking_uri()
    benches = [Bench(n, uri, storage, allow_mixed) for n in names]
    for b in benches:
        _ = b.read  # raises NotFound, naming the benchmarks that exist
    return benches
