"""`suite compare` on real tiny benchmarks: intervals, paired tests, formats, the data guard,
and the comparison over datasets. Every figure is read back from MLflow."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CANDIDATES = """
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv2d: {filters: 4}
        - max_pool2d
        - flatten
  mlp:
    model:
      family: mlp
      layers:
        - flatten
        - dense: {units: 8}
train: {epochs: 1, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
"""

TINY = (
    """
name: cmp
data: {name: digits, max_examples: 240}
"""
    + CANDIDATES
    + """
search:
  trials: 2
  target: 0.15
  sampler: {random: {}}
  pruner: none
  space:
    train.optimizer.adam.learning_rate: {float: [3.0e-3, 3.0e-2], log: true}
seeds: 3
"""
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One results folder: the 3-seed benchmark `cmp` on digits, run once for the module."""
    from suite.runner import run
    from suite.spec.load import load

    root = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUITE_RESULTS_DIR", str(root / "results"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("SUITE_OPTUNA_STORAGE", raising=False)
        spec = root / "cmp.yaml"
        spec.write_text(TINY)
        run(load(spec))
        yield root


def _seed_values(candidate: str) -> list[float]:
    from mlflow.tracking import MlflowClient

    from suite.stores import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("cmp")
    runs = client.search_runs(
        [exp.experiment_id],
        f"tags.`suite.kind` = 'seed' and tags.`suite.candidate` = '{candidate}'",
    )
    return [r.data.metrics["test_accuracy"] for r in runs]


def test_leaderboard_has_intervals_efficiency_and_says_too_few_seeds(store: Path) -> None:
    from scipy import stats as sps

    from suite.compare import leaderboard

    frame = leaderboard("cmp")
    assert frame.attrs["dataset"] == "digits" and frame.attrs["target"] == 0.15
    assert sorted(frame["candidate"]) == ["cnn", "mlp"]
    for _, row in frame.iterrows():
        values = _seed_values(row["candidate"])
        assert row["seeds"] == len(values) == 3
        assert row["test_mean"] == pytest.approx(sum(values) / 3)
        if row["test_std"] > 0:
            ci = sps.ttest_1samp(values, 0).confidence_interval()
            assert (row["test_ci_low"], row["test_ci_high"]) == (
                pytest.approx(ci.low),
                pytest.approx(ci.high),
            )
        assert row["test_ci_low"] <= row["test_mean"] <= row["test_ci_high"]
        assert 0 < row["latency_p50_ms"] <= row["latency_p95_ms"]
        assert row["samples_per_s"] > 0 and row["params"] > 0
        assert row["epochs_to_target"] == 1 or math.isinf(row["epochs_to_target"])
        assert row["time_to_target_s"] >= 0
        assert row["trials_complete"] == 2 and row["epochs_total"] == 2
    (pair,) = frame.attrs["pairwise"]
    assert pair["n"] == 3 and pair["winner"] == ""
    assert pair["verdict"].startswith("too few seeds")
    assert "cannot reach p < 0.05" in pair["verdict"] and "at least 6 seeds" in pair["verdict"]
    assert pair["min_p"] == pytest.approx(0.25)
    assert set(frame["verdict"]) <= {"too few seeds", "best mean, not significant"}
    assert {r["candidate"] for r in frame.attrs["iqm"]} == {"cnn", "mlp"}
    poi = {(r["a"], r["b"]): r["poi"] for r in frame.attrs["improvement"]}
    assert poi[("cnn", "mlp")] == pytest.approx(1 - poi[("mlp", "cnn")])


def test_tuning_curves_and_seed_scores(store: Path) -> None:
    from suite.compare import read, seed_scores, sensitivity, tuning_curves

    runs = read("cmp")
    curves = tuning_curves(runs)
    assert list(curves.groupby("candidate").size()) == [2, 2]
    for _, g in curves.groupby("candidate"):
        assert list(g["trial"]) == [0, 1]
        assert g["best_so_far"].is_monotonic_increasing
        assert g["best_so_far"].iloc[-1] == g["value"].max()
        assert list(g["epochs_cum"]) == [1, 2]
    sens = sensitivity(runs)
    assert len(sens) == 4 and set(sens["param"]) == {"train.optimizer.adam.learning_rate"}
    assert sens.attrs["most_important"] == dict.fromkeys(["cnn", "mlp"], sens["param"][0])
    scores = seed_scores(runs)
    assert sorted(scores["seed"].unique()) == [0, 1, 2]
    assert sorted(scores["value"][scores["candidate"] == "mlp"]) == sorted(_seed_values("mlp"))


def test_every_output_format_parses(store: Path, tmp_path: Path) -> None:
    import pandas as pd
    from click.testing import CliRunner

    from suite.cli import main

    out = {}
    for fmt in ("csv", "markdown", "json", "latex"):
        file = tmp_path / f"board.{fmt}"
        result = CliRunner().invoke(main, ["compare", "cmp", "--format", fmt, "-o", str(file)])
        assert result.exit_code == 0, result.output
        out[fmt] = file.read_text()
    doc = json.loads(out["json"], parse_constant=_not_json)  # strict: no NaN or Infinity
    assert doc["benchmark"] == "cmp" and len(doc["rows"]) == 2
    assert doc["pairwise"][0]["verdict"].startswith("too few seeds")
    board = pd.read_csv(io.StringIO(out["csv"]))
    assert sorted(board["candidate"]) == ["cnn", "mlp"] and "test_ci_low" in board
    assert "\\begin{tabular}" in out["latex"] and "\\end{table}" in out["latex"]
    assert "| mlp |" in out["markdown"] and "too few seeds" in out["markdown"]
    table = CliRunner().invoke(main, ["compare", "cmp"])
    assert table.exit_code == 0 and "head-to-head" in table.output


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _second(store: Path, name: str, data: str, only: tuple[str, ...] = ()) -> None:
    """Another benchmark of the same candidates: one trial each, no seed runs."""
    from suite.runner import run
    from suite.spec.load import load

    spec = store / f"{name}.yaml"
    text = f"name: {name}\ndata: {data}\n{CANDIDATES}search: {{trials: 1, target: 0.15}}\n"
    spec.write_text(text + "seeds: 0\n")
    run(load(spec), only=only)


@pytest.fixture(scope="module")
def other(store: Path) -> str:
    """A second benchmark on other digits (fewer examples) under the same dataset name."""
    _second(store, "cmp-other", "{name: digits, max_examples: 200}", only=("mlp",))
    return "cmp-other"


def test_other_data_under_the_same_dataset_name_is_refused(other: str) -> None:
    from click.testing import CliRunner

    from suite.cli import main
    from suite.compare import MixedResults, across

    with pytest.raises(MixedResults, match="dataset 'digits' has 2 different data fingerprints"):
        across(["cmp", "cmp-other"])
    allowed = across(["cmp", "cmp-other"], allow_mixed=True)
    assert any("fingerprints" in w for w in allowed.warnings)
    refused = CliRunner().invoke(main, ["compare", "cmp", "cmp-other"])
    assert refused.exit_code == 2 and "--allow-mixed" in refused.output


def test_results_of_another_suite_version_are_refused(other: str) -> None:
    from mlflow.tracking import MlflowClient

    from suite.compare import MixedResults, leaderboard
    from suite.stores import default_tracking_uri

    client = MlflowClient(default_tracking_uri())
    exp = client.get_experiment_by_name("cmp-other")
    (one, *_) = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    client.set_tag(one.info.run_id, "suite.version", "0.0.9")  # a trial of an older suite
    with pytest.raises(MixedResults, match="different suite versions"):
        leaderboard("cmp-other")
    assert any(
        "0.0 in cmp-other" in w
        for w in leaderboard("cmp-other", allow_mixed=True).attrs["warnings"]
    )


def test_comparison_over_datasets(store: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_digits

    from suite.compare import across
    from suite.compare.across_datasets import to_text

    digits = load_digits()
    x = (1.0 - digits.images[:200] / 16.0)[..., None].astype("float32")  # inverted digits
    np.savez(store / "inverted.npz", x=x, y=digits.target[:200])
    _second(store, "cmp-inverted", f"{{name: npz, path: {store / 'inverted.npz'}}}")
    result = across(["cmp", "cmp-inverted"], baseline="mlp")
    assert list(result.table.index) == ["digits", "npz/inverted"]
    assert sum("no seed runs on npz/inverted" in w for w in result.warnings) == 2
    assert sorted(result.table.columns) == ["cnn", "mlp"]
    assert result.ranks.sum() == pytest.approx(3.0)  # ranks 1 and 2 on every dataset
    up = result.table.rank(axis=1, ascending=False).mean()
    assert result.ranks.to_dict() == pytest.approx(up.to_dict())
    assert math.isnan(result.friedman[1])  # two candidates: Friedman needs three
    (pair,) = result.pairwise.to_dict("records")
    assert pair["n"] == 2 and pair["verdict"].startswith("too few datasets")
    t = result.times.to_numpy(float)
    assert ((t >= 0) | np.isinf(t)).all()  # seconds to the target, or never
    ok = np.isfinite(result.times["cnn"]) & np.isfinite(result.times["mlp"])
    if ok.any():
        ratio = (result.times["mlp"] / result.times["cnn"])[ok]
        assert result.speedup["cnn"] == pytest.approx(float(np.exp(np.log(ratio).mean())))
        assert result.speedup["mlp"] == pytest.approx(1.0)
    assert set(result.profile["candidate"]) <= {"cnn", "mlp"}
    doc: dict[str, Any] = json.loads(to_text(result, "json"), parse_constant=_not_json)
    assert doc["benchmarks"] == ["cmp", "cmp-inverted"] and doc["baseline"] == "mlp"
    assert set(doc["table"]) == {"digits", "npz/inverted"}
    summary = pd.read_csv(io.StringIO(to_text(result, "csv")))
    assert sorted(summary["candidate"]) == ["cnn", "mlp"] and "average_rank" in summary
    assert "\\begin{tabular}" in to_text(result, "latex")
    assert "too few datasets" in to_text(result, "markdown")
    assert result.cd_svg().startswith("<svg")


def test_the_new_seed_default_and_target_keep_old_studies_resumable(tmp_path: Path) -> None:
    from suite.spec.load import legacy_spec_hash, load, spec_hash

    base = "name: h\ndata: {name: digits}\n" + CANDIDATES
    (tmp_path / "new.yaml").write_text(base + "search: {target: 0.9}\n")
    (tmp_path / "old.yaml").write_text(base + "seeds: 0\n")
    (tmp_path / "set.yaml").write_text(base + "seeds: 3\n")
    new, old, stated = (load(tmp_path / f"{n}.yaml") for n in ("new", "old", "set"))
    assert new.seed_list == list(range(10))
    assert spec_hash(new) != spec_hash(old)  # seeds are part of the spec
    # studies made when 0 was the default (and defaults were hashed) are recognised
    assert legacy_spec_hash(new) == legacy_spec_hash(old)
    assert legacy_spec_hash(stated) != legacy_spec_hash(old)
    assert spec_hash(new) == spec_hash(load(tmp_path / "new.yaml", ["search.target=null"]))


def test_published_references_ship_with_citations_and_are_shown(store: Path) -> None:
    from suite.compare import leaderboard, references, to_markdown

    gun = references("ucr/GunPoint", "test_accuracy").set_index("model")
    assert gun.loc["FCN", "value"] == 1.0 and gun.loc["ResNet", "value"] == pytest.approx(0.9907)
    assert "Fawaz et al. 2019" in gun.loc["ResNet", "citation"]
    mnist1d = references("mnist1d").set_index("model")["value"].to_dict()
    assert mnist1d == {"logistic regression": 0.32, "MLP": 0.68, "GRU": 0.91, "CNN": 0.94}
    assert references("sst2").set_index("model").loc["CNN-rand", "value"] == 0.827
    assert references().notna()[["dataset", "metric", "model", "value", "citation"]].all().all()
    frame = leaderboard("cmp")
    assert frame.attrs["references"] == []  # none published for this digits subset
    frame.attrs["references"] = references("mnist1d").to_dict("records")
    text = to_markdown(frame)
    assert "**Published results**" in text and "Greydanus 2020" in text and "0.940" in text
    assert "| this suite: cmp |" in text  # our own figures beside the published ones
