"""The reference set: published rows with their tolerance and protocol, the verdict rule,
the specs under specs/reference naming existing rows, and the verdict on a real leaderboard
(terminal, Markdown, LaTeX, JSON and the HTML report)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from suite import references
from suite.compare.readback import dataset_label
from suite.spec.load import load
from suite.spec.schema import Benchmark, ModelSpec

SPECS = Path(__file__).resolve().parents[1] / "specs"
REFERENCE = sorted((SPECS / "reference").glob("*.yaml"))
MODELS = sorted((SPECS / "models").glob("*.yaml"))


def test_default_tolerance_is_one_and_a_half_points_or_twice_the_published_spread() -> None:
    assert references.tolerance() == pytest.approx(0.015)
    assert references.tolerance(std=0.001) == pytest.approx(0.015)
    assert references.tolerance(std=0.0238) == pytest.approx(0.0476)
    assert references.tolerance(std=0.0238, given=0.01) == pytest.approx(0.01)  # the row's own
    assert references.tolerance(std=float("nan"), given=float("nan")) == pytest.approx(0.015)


def test_verdict_is_symmetric_and_says_by_how_much() -> None:
    near = references.verdict(0.94, 0.93)
    assert near.reproduced and near.difference == pytest.approx(-0.01)
    assert near.text().startswith("reproduced (-0.010")
    low = references.verdict(0.91, 0.51)
    assert not low.reproduced
    assert low.text() == "not reproduced: 0.400 below (tolerance ±0.015)"
    high = references.verdict(0.5, 0.6, std=0.02)
    assert not high.reproduced and "0.100 above (tolerance ±0.040)" in high.text()
    assert references.verdict(0.9907, 0.9756, std=0.0076).reproduced  # 0.0151 <= 2 x 0.0076
    assert not references.verdict(0.9907, 0.9756).reproduced  # 0.0151 > 1.5 points


def test_the_reference_rows_carry_a_protocol() -> None:
    frame = references.read()
    for column in ("tolerance", "epochs", "batch_size", "optimizer", "split"):
        assert column in frame.columns
    must = [
        ("mnist1d", "CNN"),
        ("mnist1d", "GRU"),
        ("ucr/GunPoint", "FCN"),
        ("ucr/GunPoint", "ResNet"),
        ("ucr/ItalyPowerDemand", "FCN"),
        ("ucr/ItalyPowerDemand", "ResNet"),
        ("sst2", "CNN-rand"),
        ("mr", "CNN-rand"),
        ("fashion_mnist", "2-conv CNN"),
    ]
    for dataset, model in must:
        row = references.row(model, dataset, "test_accuracy")
        assert row is not None, (dataset, model)
        assert isinstance(row["split"], str) and row["split"], (dataset, model)
    assert references.row("CNN-rand", "mr", "test_accuracy")["value"] == 0.761
    assert references.row("2-conv CNN", "fashion_mnist", "test_accuracy")["tolerance"] > 0.015


def test_compare_references_still_delegates() -> None:
    from suite.compare import references as compat

    assert compat("sst2").equals(references.read("sst2"))


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.stem)
def test_each_reference_spec_validates_and_names_an_existing_row(path: Path) -> None:
    bench = load(path)
    assert isinstance(bench, Benchmark)
    (model,) = bench.candidate_models().values()
    assert model.reference is not None and model.reference.published, path.name
    label = dataset_label(bench.data.model_dump(mode="json"))
    metric = "test_" + bench.search.metric.removeprefix("val_")
    assert references.row(model.reference.published, label, metric) is not None, (
        f"{path.name}: no row {model.reference.published!r} for {label} / {metric}"
    )
    assert bench.search.trials == 1, "a reproduction trains the spec's own values"
    # the published figure is never copied into the spec
    published = references.row(model.reference.published, label, metric)["value"]
    numbers = {float(x) for x in re.findall(r"(?<![\d.])\d\.\d{2,}(?![\d.e])", path.read_text())}
    assert published not in numbers, f"{path.name} copies the published {published}"


def test_the_reference_set_has_at_least_eight_rows() -> None:
    assert len(REFERENCE) >= 8


def test_every_published_link_in_the_model_library_exists() -> None:
    models = set(references.read()["model"])
    linked = 0
    for path in MODELS:
        spec = load(path)
        assert isinstance(spec, ModelSpec)
        name = spec.reference.published if spec.reference else None
        if name:
            linked += 1
            assert name in models, f"{path.name}: no published row names model {name!r}"
    assert linked >= 4
    assert references.candidate_tags(load(SPECS / "models" / "mnist1d_gru.yaml")) == {
        references.TAG: "GRU"
    }
    assert references.candidate_tags(load(SPECS / "models" / "gru.yaml")) == {}


TINY = """
name: refcheck
data: {name: mnist1d, num_samples: 300, val_fraction: 0.2}
candidates:
  ref_cnn: {model: {extends: models/mnist1d_cnn.yaml}}
  plain:
    model:
      family: mlp
      layers: [flatten, {dense: {units: 8}}]
train: {epochs: 1, batch_size: 64, optimizer: {adam: {learning_rate: 1.0e-2}}}
search: {trials: 1, pruner: none}
seeds: 2
"""


@pytest.mark.slow
def test_a_linked_candidate_gets_a_verdict_on_every_output(results: Path) -> None:
    from rich.console import Console

    from suite.compare import leaderboard, render, to_json, to_latex, to_markdown
    from suite.report import build
    from suite.runner import run

    spec = results.parent / "refcheck.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(TINY)
    run(load(spec))
    frame = leaderboard("refcheck")
    (v,) = frame.attrs["reproduction"]  # only the linked candidate, never `plain`
    assert v["candidate"] == "ref_cnn" and v["model"] == "CNN" and v["published"] == 0.94
    ours = float(frame.set_index("candidate").loc["ref_cnn", "test_mean"])
    assert v["ours"] == pytest.approx(ours)
    assert v["reproduced"] == (abs(ours - 0.94) <= 0.015)
    assert v["verdict"].startswith("reproduced" if v["reproduced"] else "not reproduced")
    md = to_markdown(frame)
    assert "**Reproduction of published results**" in md and v["verdict"] in md
    assert json.loads(to_json(frame))["reproduction"][0]["verdict"] == v["verdict"]
    assert "reproduction of published results" in to_latex(frame)
    out = io.StringIO()
    render(frame, Console(file=out, width=250))
    assert "reproduction of published results" in out.getvalue()
    assert v["verdict"].split(":")[0].split(" (")[0] in out.getvalue()
    html = build(["refcheck"], log=False).path.read_text()
    assert f"{v['verdict']} against {v['model']}" in html and "ref_cnn" in html


def _fidelity() -> object:
    import importlib.util
    import sys

    path = SPECS.parent / "benchmarks" / "fidelity.py"
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("fidelity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fidelity_script_covers_every_reference_spec_and_writes_its_table() -> None:
    fidelity = _fidelity()
    assert sorted(fidelity.ROWS) == sorted(p.stem for p in REFERENCE)
    dataset, metric, model = fidelity.row_link(load(SPECS / "reference" / "kim_mr.yaml"))
    assert (dataset, metric, model) == ("mr", "test_accuracy", "CNN-rand")
    done = {
        "row": "mnist1d_cnn",
        "dataset": "mnist1d",
        "model": "CNN",
        "published": 0.94,
        "scores": [0.93, 0.95],
        "unit": "seed",
        "epochs": [150.0, 150.0],
        "epochs_max": 150,
        "wall_s": 61.2,
        "ours": 0.94,
        "low": 0.81,
        "high": 1.07,
        "difference": 0.0,
        "verdict": "reproduced (+0.000, within ±0.015)",
    }
    failed = {"row": "kim_sst2", "dataset": "sst2", "model": "CNN-rand", "error": "no data"}
    info = {"date": "today", "cpus": "2", "loadavg": "1.0 1.0 1.0"}
    text = fidelity.table([failed, done], info)
    lines = text.splitlines()
    assert lines[0].startswith("Reference set, today") and "load average 1.0" in lines[0]
    (cnn,) = [x for x in lines if x.startswith("| mnist1d CNN |")]
    assert cnn.startswith("| mnist1d CNN | 0.9400 | 0.940 [0.810, 1.070] (2 seeds)")
    assert "| 150 of 150 | 61 |" in cnn
    assert "| sst2 CNN-rand | - | not run: no data | - | - | - | - |" in lines
    assert "| ucr/GunPoint ResNet | 0.9907 | not run | - | - | - | - |" in lines  # no record
    assert len(lines) == 4 + len(fidelity.ROWS)
