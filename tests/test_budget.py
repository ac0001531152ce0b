"""Budget-limited candidates: the rule on constructed curves, then a real tiny benchmark where
one candidate is still rising when its epochs run out (flagged in every output and in MLflow)
and the other is flat (not flagged)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from suite import budget


def _rising(epochs: int) -> list[float]:
    """A learning curve early in training: 0.1 + 0.8 (1 - exp(-epoch / 10))."""
    return [0.1 + 0.8 * (1 - math.exp(-(e + 1) / 10)) for e in range(epochs)]


def _judge(curve: list[float], stop: str = "completed", noise: float = 0.01) -> bool | None:
    m = budget.tail_metrics(curve, stop)
    return budget.still_improving(
        m[budget.SLOPE], m[budget.WINDOW], noise, "maximize", m[budget.STOPPED] == 1.0
    )


def test_the_tail_is_a_quarter_of_the_epochs_and_at_least_three() -> None:
    got = {n: budget.window(n) for n in (0, 1, 2, 3, 4, 8, 12, 13, 40)}
    assert got == {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 8: 3, 12: 3, 13: 4, 40: 10}


def test_slope_is_least_squares_per_epoch() -> None:
    assert budget.slope([1.0, 3.0, 5.0, 7.0]) == pytest.approx(2.0)
    assert budget.slope([0.5] * 5) == 0.0
    x = np.arange(6.0)
    y = np.array([0.1, 0.4, 0.3, 0.8, 0.7, 1.0])
    assert budget.slope(list(y)) == pytest.approx(np.polyfit(x, y, 1)[0])
    assert math.isnan(budget.slope([0.3])) and math.isnan(budget.slope([0.1, math.nan]))


def test_a_rising_curve_is_still_improving() -> None:
    curve = _rising(8)
    m = budget.tail_metrics(curve, "completed")
    assert m[budget.WINDOW] == 3 and m[budget.LAST] == curve[-1] and m[budget.STOPPED] == 0
    assert m[budget.SLOPE] == pytest.approx(budget.slope(curve[-3:]))
    assert _judge(curve) is True
    # the same curve against seeds that disagree by more than its trend would add: not judged
    # improving (its last three epochs gain about 0.03 a window)
    assert _judge(curve, noise=0.5) is False


def test_a_plateaued_curve_and_an_early_stopped_one_are_not() -> None:
    plateau = _rising(60)  # the same curve, trained to its plateau
    assert budget.tail_metrics(plateau, "completed")[budget.WINDOW] == 15
    assert _judge(plateau) is False
    flat_noisy = [0.9, 0.91, 0.9, 0.905, 0.9, 0.91, 0.9, 0.905]
    assert _judge(flat_noisy, noise=0.01) is False
    assert _judge(_rising(8), stop="early_stopped") is False
    assert _judge(_rising(8), stop="stopped") is False  # a pruner ended it


def test_minimized_metrics_improve_downwards_and_one_epoch_is_not_judged() -> None:
    loss = [2.0, 1.6, 1.3, 1.1, 0.95]
    m = budget.tail_metrics(loss, "completed")
    assert budget.still_improving(m[budget.SLOPE], m[budget.WINDOW], 0.05, "minimize", False)
    assert not budget.still_improving(m[budget.SLOPE], m[budget.WINDOW], 0.05, "maximize", False)
    one = budget.tail_metrics([0.4], "completed")
    assert math.isnan(one[budget.SLOPE]) and one[budget.WINDOW] == 1
    assert (
        budget.still_improving(one[budget.SLOPE], one[budget.WINDOW], 0, "maximize", False) is None
    )
    two = budget.tail_metrics([0.2, 0.3], "completed")  # two epochs: their difference
    assert two[budget.SLOPE] == pytest.approx(0.1) and two[budget.WINDOW] == 2


def _curve(values: list[float], stop: str = "completed") -> budget.Curve:
    m = budget.tail_metrics(values, stop)
    return budget.Curve(
        m[budget.SLOPE], m[budget.WINDOW], m[budget.LAST], bool(m[budget.STOPPED]), len(values)
    )


def test_a_candidate_is_budget_limited_when_most_seed_runs_still_improve() -> None:
    rising = [_curve([v + 0.01 * s for v in _rising(8)]) for s in range(3)]
    flat = [_curve([0.5 + 0.01 * s] * 8) for s in range(2)]
    most = budget.assess(rising + flat, "maximize")
    assert (most.runs, most.judged, most.improving, most.epochs) == (5, 5, 3, 8)
    assert most.limited and most.fraction == pytest.approx(0.6)
    assert most.noise == pytest.approx(np.std([c.last for c in rising + flat], ddof=1))
    assert most.note("gru") == (
        "gru budget-limited: still improving at epoch 8 of 8 (3 of 5 seed runs)"
    )
    half = budget.assess(rising[:2] + flat, "maximize")
    assert not half.limited and half.fraction == 0.5
    single = budget.assess([_curve([0.3])] * 3, "maximize")
    assert single.judged == 0 and math.isnan(single.fraction) and not single.limited
    assert budget.annotate("cnn better", [most.note("gru")]).endswith(" — " + most.note("gru"))
    assert budget.annotate("cnn better", []) == "cnn better"


def test_curves_read_from_logged_metrics() -> None:
    logged = {**budget.tail_metrics(_rising(8), "completed"), "epochs": 8.0}
    c = budget.curve(logged)
    assert c is not None and c.epochs == 8 and not c.stopped_early
    assert budget.curve({"epochs": 8.0}) is None  # results from before the tail was logged


# An easy 10-class problem whose inputs are all <= 0 (class 0 is 40 % of it). `linear` (the
# head on the raw inputs) at a small rate is far from its plateau after 4 epochs; `constant`
# passes the inputs through a ReLU first, which zeroes them: it can only learn the majority
# class, so its validation accuracy is the same at every epoch.
STARVED = """
name: starved
data: {{name: npz, path: {path}}}
candidates:
  linear:
    model: {{family: linear, layers: [flatten]}}
  constant:
    model: {{family: constant, layers: [{{activation: {{fn: relu}}}}]}}
train: {{epochs: 4, batch_size: 32, optimizer: {{adam: {{learning_rate: 1.0e-2}}}}}}
search: {{trials: 1, pruner: none}}
seeds: 3
"""


@pytest.mark.slow
def test_a_starved_candidate_is_flagged_everywhere(results: Path, tmp_path: Path) -> None:
    import pandas as pd
    from click.testing import CliRunner
    from mlflow.tracking import MlflowClient

    from suite.cli import main
    from suite.compare import leaderboard, to_csv, to_json, to_latex, to_markdown
    from suite.report import build
    from suite.runner import run
    from suite.spec.load import load
    from suite.track import default_tracking_uri

    rng = np.random.default_rng(0)
    n, k = 400, 10
    y = np.where(rng.random(n) < 0.4, 0, rng.integers(1, k, n))
    x = -np.abs(3.0 * np.eye(k)[y] + rng.normal(0, 1, (n, k))).astype("float32")
    np.savez(tmp_path / "easy.npz", x=x, y=y)
    (tmp_path / "starved.yaml").write_text(STARVED.format(path=tmp_path / "easy.npz"))
    run(load(tmp_path / "starved.yaml"))

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("starved")
    parents = {
        r.data.tags["suite.candidate"]: r
        for r in client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'candidate'")
    }
    assert parents["linear"].data.tags[budget.LIMITED] == "1"
    assert parents["constant"].data.tags[budget.LIMITED] == "0"
    for r in client.search_runs([exp.experiment_id], "tags.`suite.kind` != 'candidate'"):
        m = r.data.metrics  # trials and seed runs alike log the tail
        assert m[budget.WINDOW] == 3 and m[budget.STOPPED] == 0
        history = client.get_metric_history(r.info.run_id, "val_accuracy")
        curve = [h.value for h in sorted(history, key=lambda h: h.step)]
        assert m[budget.SLOPE] == pytest.approx(budget.slope(curve[-3:]))
        if r.data.tags["suite.candidate"] == "constant":
            assert len(set(curve)) == 1 and r.data.tags[budget.IMPROVING] == "false"
        elif r.data.tags["suite.kind"] == "seed":
            assert r.data.tags[budget.IMPROVING] == "true"

    board = leaderboard("starved")
    rows = board.set_index("candidate")
    assert rows.loc["linear", "budget_limited"] and rows.loc["linear", "still_improving"] == 1.0
    assert not rows.loc["constant", "budget_limited"]
    assert rows.loc["constant", "still_improving"] == 0.0
    note = "linear budget-limited: still improving at epoch 4 of 4 (3 of 3 seed runs)"
    assert rows.loc["linear", "verdict"].endswith(note.removeprefix("linear "))
    assert "budget-limited" not in rows.loc["constant", "verdict"]
    (pair,) = board.attrs["pairwise"]
    assert pair["verdict"].endswith(" — " + note)

    doc = json.loads(to_json(board))
    flags = {r["candidate"]: r for r in doc["rows"]}
    assert flags["linear"]["budget_limited"] is True
    assert flags["constant"]["budget_limited"] is False
    assert {b["candidate"]: b["note"] for b in doc["budget"]} == {"linear": note, "constant": ""}
    csv = pd.read_csv(io.StringIO(to_csv(board))).set_index("candidate")
    assert csv.loc["linear", "budget_limited"] and not csv.loc["constant", "budget_limited"]
    assert note in to_markdown(board) and "budget-limited" in to_latex(board)
    table = CliRunner().invoke(main, ["compare", "starved"], terminal_width=200)
    assert table.exit_code == 0 and note + "; its figures reflect" in table.output
    report = build(["starved"], output=tmp_path / "r.html", log=False)
    assert note in report.path.read_text(encoding="utf-8")
