"""Progress that says what runs: seed runs shown as "seeds k/n" with an epochs bar of their
own, and a dry run whose epoch budget counts the seed runs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

SPEC = """\
name: progress
data: {name: digits, max_examples: 120}
candidates:
  mlp:
    model:
      layers:
        - flatten
        - dense: {units: 4}
train: {epochs: 3, batch_size: 32}
search: {trials: 2, sampler: {random: {seed: 0}}, pruner: none, seeds_top_k: 1}
seeds: 2
"""


def _recorder() -> Any:
    from suite.progress import Reporter

    class Recorder(Reporter):
        def __init__(self) -> None:
            self.events: list[tuple[Any, ...]] = []

        def candidate(self, name: str, trials_done: int, trials: int) -> None:
            self.events.append(("candidate", name, trials_done, trials))

        def trial(self, number: int, epochs: int) -> None:
            self.events.append(("trial", number, epochs))

        def epoch(self, epoch: int, logs: dict[str, float]) -> None:
            self.events.append(("epoch", epoch))

        def trial_end(self, state: str, value: float | None) -> None:
            self.events.append(("trial_end", state))

        def seeds(self, name: str, done: int, total: int) -> None:
            self.events.append(("seeds", name, done, total))

        def seed(self, seed: int, epochs: int) -> None:
            self.events.append(("seed", seed, epochs))

        def seed_end(self, state: str, value: float | None) -> None:
            self.events.append(("seed_end", state, value))

    return Recorder()


@pytest.mark.slow
def test_seed_runs_are_reported_as_seeds_with_their_own_epochs(
    results: Path, tmp_path: Path
) -> None:
    from suite.runner import run
    from suite.spec.load import load

    spec = tmp_path / "progress.yaml"
    spec.write_text(SPEC)
    rec = _recorder()
    run(load(spec), reporter=rec)
    kinds = [e[0] for e in rec.events]
    assert ("seeds", "mlp", 0, 2) in rec.events  # seeds 0/2 once the search is done
    assert kinds.index("seeds") > max(i for i, k in enumerate(kinds) if k == "trial_end")
    assert [e for e in rec.events if e[0] == "seed"] == [("seed", 0, 3), ("seed", 1, 3)]
    ends = [e for e in rec.events if e[0] == "seed_end"]
    assert [e[1] for e in ends] == ["COMPLETE", "COMPLETE"] and all(e[2] is not None for e in ends)
    # every epoch falls within the training announced last: never "8/1"
    total = None
    for e in rec.events:
        if e[0] in ("trial", "seed"):
            total, seen = e[2], 0
        elif e[0] == "epoch":
            seen += 1
            assert total is not None and seen <= total, rec.events


def test_the_rich_display_shows_seeds_k_of_n_and_restarts_its_timers() -> None:
    from suite.progress import RichReporter

    rep = RichReporter("val_accuracy")  # on stderr, which the test captures
    rep.start("bench", 1)
    rep.candidate("mlp", 2, 2)  # a resumed search: its trials are done
    rep.seeds("mlp", 1, 7)
    tasks = {t.id: t for t in rep.progress.tasks}
    trials, epochs = tasks[rep.tasks["t"]], tasks[rep.tasks["e"]]
    assert trials.description.strip() == "seeds" and (trials.completed, trials.total) == (1, 7)
    assert not trials.finished  # its timer runs again
    rep.seed(3, 8)
    for epoch in range(8):
        rep.epoch(epoch, {"val_accuracy": 0.5})
    assert (epochs.completed, epochs.total) == (8, 8)  # not "8/1"
    rep.seed(4, 8)
    assert epochs.fields["note"] == "seed 4" and (epochs.completed, epochs.total) == (0, 8)
    rep.seed_end("COMPLETE", 0.9)
    assert trials.completed == 2
    rep.stop()


def test_line_reporter_says_seed_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from suite.workers import LineReporter

    rep = LineReporter("val_accuracy")
    rep.seeds("mlp", 0, 2)
    rep.seed(5, 3)
    rep.seed_end("COMPLETE", 0.875)
    err = capsys.readouterr().err
    assert "mlp: 0/2 seed runs done" in err and "mlp: seed 5 complete test score 0.8750" in err


@pytest.mark.slow
def test_the_dry_run_counts_the_seed_runs_epochs(results: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from suite.manage import dry_run
    from suite.spec.load import load

    spec = tmp_path / "progress.yaml"
    spec.write_text(SPEC)
    bench = load(spec, ["seeds=7", "search.seeds_top_k=2", "train.epochs=8", "search.trials=5"])
    out = io.StringIO()
    dry_run(bench, (), None, Console(file=out, width=200))
    row = next(line for line in out.getvalue().splitlines() if "mlp" in line)
    # 5 trials x 8 epochs, then 2 configurations x 7 seeds x 8 epochs
    assert "│ 14 " in row and "│ 152 " in row, out.getvalue()
