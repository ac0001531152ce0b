"""What a report shows, read back from MLflow and the Optuna storage (never from training)."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from suite import stores, track


@dataclass
class Bench:
    """One benchmark as the tracking store holds it: runs, leaderboard, studies, artifacts."""

    name: str
    uri: str
    storage: str | None = None
    allow_mixed: bool = False  # results of other data or suite versions: a warning, not an error

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
