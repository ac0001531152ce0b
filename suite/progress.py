"""Progress display over candidates, trials and epochs (rich), or nothing."""

from __future__ import annotations

from typing import Any


class Reporter:
    """Receives progress events; this base class shows nothing (API and tests)."""

    def start(self, benchmark: str, candidates: int) -> None: ...

    def candidate(self, name: str, trials_done: int, trials: int) -> None: ...

    def trial(self, number: int, epochs: int) -> None: ...

    def epoch(self, epoch: int, logs: dict[str, float]) -> None: ...

    def trial_end(self, state: str, value: float | None) -> None: ...

    def seeds(self, name: str, done: int, total: int) -> None:
        """Candidate `name` turns to its seed runs: `done` of `total` finished."""

    def seed(self, seed: int, epochs: int) -> None:
        """A seed run starts: the best configuration trained with `seed`, `epochs` at most."""

    def seed_end(self, state: str, value: float | None) -> None:
        """The seed run ended (COMPLETE or FAIL) with its test score."""

    def message(self, text: str) -> None: ...

    def stop(self) -> None: ...

    def callback(self) -> Any:
        """A Keras callback forwarding epoch ends to `epoch`."""
        import keras

        reporter = self

        class EpochProgress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                reporter.epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})

        return EpochProgress()


class RichReporter(Reporter):
    """Three bars: candidates, trials of the current candidate, epochs of the current trial."""

    def __init__(self, metric: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.metric = metric
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def start(self, benchmark: str, candidates: int) -> None:
        from rich.markup import escape

        self.progress.start()
        self.tasks["c"] = self.progress.add_task(
            f"[bold]{escape(benchmark)}[/] candidates", total=candidates, note=""
        )
        self.tasks["t"] = self.progress.add_task("  trials", total=1, note="")
        self.tasks["e"] = self.progress.add_task("  epochs", total=1, note="")
        self._first = True

    def candidate(self, name: str, trials_done: int, trials: int) -> None:
        from rich.markup import escape

        if not self._first:
            self.progress.advance(self.tasks["c"])
        self._first = False
        self.progress.update(self.tasks["c"], note=escape(name))
        # reset: the timer restarts with the candidate's search
        self.progress.reset(
            self.tasks["t"], total=trials, completed=trials_done, note="", description="  trials"
        )

    def trial(self, number: int, epochs: int) -> None:
        self.progress.reset(self.tasks["e"], total=epochs, completed=0, note=f"trial {number}")

    def seeds(self, name: str, done: int, total: int) -> None:
        self.progress.reset(
            self.tasks["t"], total=total, completed=done, note="", description="  seeds"
        )

    def seed(self, seed: int, epochs: int) -> None:
        self.progress.reset(self.tasks["e"], total=epochs, completed=0, note=f"seed {seed}")

    def seed_end(self, state: str, value: float | None) -> None:
        self.trial_end(state, value)

    def epoch(self, epoch: int, logs: dict[str, float]) -> None:
        value = logs.get(self.metric)
        note = f"{self.metric}={value:.4f}" if value is not None else ""
        self.progress.update(self.tasks["e"], completed=epoch + 1, note=note)

    def trial_end(self, state: str, value: float | None) -> None:
        if state != "FAIL":
            self.progress.advance(self.tasks["t"])
        shown = f"{value:.4f}" if value is not None else "-"
        self.progress.update(self.tasks["t"], note=f"last: {state.lower()} {shown}")

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        if "c" in self.tasks:
            self.progress.update(self.tasks["c"], completed=self.progress.tasks[0].total)
        self.progress.stop()
