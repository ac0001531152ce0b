"""suite report: a tiny real benchmark read back into one self-contained HTML page, opened in
headless Chromium with the network blocked; dashboard files checked like specs; what the
runs carry for the MLflow UI (names, tags, nesting, confusion matrices, report artifacts)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SPEC = """
name: tinyrep
data: {name: digits, max_examples: 300}
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv2d: {filters: 8}
        - max_pool2d
        - flatten
      space:
        layers[0].conv2d.filters: {int: [4, 16]}
  gru:
    model:
      family: rnn
      layers:
        - reshape: {shape: [8, 8]}
        - gru: {units: 8}
train: {epochs: 2, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
search:
  trials: 2
  sampler: {tpe: {n_startup_trials: 1}}
  pruner: none
  space:
    train.optimizer.adam.learning_rate: {float: [1.0e-3, 3.0e-2], log: true}
seeds: 3
"""
NAME = "tinyrep"
_BUILT: dict[str, Path] = {}


def _env(mp: pytest.MonkeyPatch, root: Path) -> None:
    mp.setenv("SUITE_RESULTS_DIR", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.delenv("SUITE_OPTUNA_STORAGE", raising=False)


def tiny_benchmark(factory: pytest.TempPathFactory) -> Path:
    """The results directory of the tiny benchmark, trained once per test session."""
    if "root" not in _BUILT:
        from suite.runner import run
        from suite.spec.load import load

        root = factory.mktemp("report") / "results"
        with pytest.MonkeyPatch.context() as mp:
            _env(mp, root)
            spec = root.parent / "tinyrep.yaml"
            spec.write_text(SPEC)
            summaries = run(load(spec))
            assert all(s.error is None for s in summaries)
        _BUILT["root"] = root
    return _BUILT["root"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tiny_benchmark(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, root)
        yield root


def chromium() -> str:
    """Debian's chromium for Playwright, or skip with the reason."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    path = os.environ.get("SUITE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.skip(f"no chromium at {path}: apt-get install chromium (or set SUITE_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def exe() -> str:
    """The browser, looked up before anything is trained."""
    return chromium()


def _client() -> Any:
    from mlflow.tracking import MlflowClient

    from suite.stores import default_tracking_uri

    return MlflowClient(default_tracking_uri())


def test_default_dashboard_validates_and_errors_name_file_line_and_section(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from suite.cli import main
    from suite.report import dashboard
    from suite.spec.errors import SpecError

    board = dashboard.load(dashboard.OWN)
    names = [next(iter(type(s).model_fields)) for s in board.sections]
    assert names[0] == "leaderboard" and {"confusion", "optuna", "tokenizers"} <= set(names)
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: mine\nsections:\n  - leaderbord\n  - pareto: {x: flops}\n")
    with pytest.raises(SpecError) as err:
        dashboard.load(bad)
    text = str(err.value)
    assert f"{bad}:3:" in text and "unknown section 'leaderbord'" in text
    assert "Did you mean 'leaderboard'?" in text
    assert f"{bad}:4:" in text and "sections[1].pareto.x" in text and "'params'" in text
    empty = tmp_path / "empty.yaml"
    empty.write_text("sections: []\n")
    with pytest.raises(SpecError, match="sections"):
        dashboard.load(empty)
    # the CLI refuses a bad dashboard before it reads any benchmark
    result = CliRunner().invoke(main, ["report", "nothing", "--dashboard", str(bad)])
    assert result.exit_code == 2 and "leaderbord" in result.output


@pytest.mark.slow
def test_report_is_self_contained_and_every_chart_renders_offline(
    exe: str, bench: Path, tmp_path: Path
) -> None:
    import plotly.offline
    from click.testing import CliRunner
    from playwright.sync_api import sync_playwright

    from suite.cli import main

    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", NAME, "-o", str(out), "--no-log"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    html = out.read_text(encoding="utf-8")
    bundle = plotly.offline.get_plotlyjs()
    assert html.count(bundle) == 1 and html.count(bundle[:60]) == 1  # inlined once
    rest = html.replace(bundle, "")
    assert "<script src=" not in rest and "https://" not in rest  # nothing else to fetch
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    sections, charts = data["sections"], data["figures"]
    for title in ["Leaderboard", "Learning curves", "Tuning curves", "Search"]:
        assert title in sections
    assert "Confusion matrices" in sections and "Tokenizers" not in sections
    assert any("parameters" in s for s in sections) and any("training time" in s for s in sections)
    assert {"tinyrep-cnn-confusion", "tinyrep-gru-importances"} <= set(charts)
    assert len(charts) >= 10

    errors: list[str] = []
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.split(":", 1)[0] in ("file", "data", "blob"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True)
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(out.as_uri())
            n = len(charts)
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}",
                timeout=60_000,
            )
            rendered = page.evaluate(
                "[...document.querySelectorAll('.js-plotly-plot')].map(d => [d.id,"
                " d.querySelector('.gtitle') ? d.querySelector('.gtitle').textContent : '',"
                " d.querySelectorAll('.xtitle').length])"
            )
            cells = page.locator("table").first.inner_text()
        finally:
            browser.close()
    assert errors == [] and outside == []
    assert len(rendered) == len(charts)
    assert all(title and xtitles for _, title, xtitles in rendered)  # titled, with axes
    assert "cnn" in cells and "gru" in cells and "[" in cells  # mean [95 % CI]


@pytest.mark.slow
def test_runs_carry_names_tags_nesting_and_confusion_matrices(bench: Path) -> None:
    client = _client()
    exp = client.get_experiment_by_name(NAME)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = {
        r.data.tags["suite.candidate"]: r for r in runs if r.data.tags["suite.kind"] == "candidate"
    }
    assert set(parents) == {"cnn", "gru"}
    seeds = [r for r in runs if r.data.tags["suite.kind"] == "seed"]
    trials = [r for r in runs if r.data.tags["suite.kind"] == "trial"]
    assert len(seeds) == 6 and len(trials) == 4
    for r in seeds + trials:
        tags = r.data.tags
        cand = tags["suite.candidate"]
        assert tags["mlflow.parentRunId"] == parents[cand].info.run_id
        assert tags["suite.family"] == {"cnn": "cnn", "gru": "rnn"}[cand]
        assert tags["suite.dataset"] == "digits" and tags["suite.seed"].isdigit()
        pattern = (
            rf"{cand}/trial-\d+/seed-{tags['suite.seed']}" if r in seeds else rf"{cand}/trial-\d+"
        )
        assert re.fullmatch(pattern, r.info.run_name)
        history = client.get_metric_history(r.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == [0, 1]
    cnn_trial = next(r for r in trials if r.data.tags["suite.candidate"] == "cnn")
    assert "model.layers.0.conv2d.filters" in cnn_trial.data.params

    from suite.report.data import Bench
    from suite.stores import default_tracking_uri

    b = Bench(NAME, default_tracking_uri())
    for r in seeds:
        doc = b.confusion(r.info.run_id)
        matrix = doc["matrix"]
        assert doc["labels"] == [str(i) for i in range(10)] and len(matrix) == 10
        right = sum(matrix[i][i] for i in range(10))
        accuracy = right / sum(map(sum, matrix))
        assert accuracy == pytest.approx(r.data.metrics["test_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_report_attaches_itself_once_to_the_leading_candidates_parent_run(
    bench: Path,
) -> None:
    import plotly.io as pio

    from suite.report import build

    report = build([NAME], log=True)
    assert report.path == bench / "reports" / "tinyrep.html" and report.logged_runs == 1
    client = _client()
    exp = client.get_experiment_by_name(NAME)
    parents = {
        r.data.tags["suite.candidate"]: r
        for r in client.search_runs(
            [exp.experiment_id], filter_string="tags.`suite.kind` = 'candidate'"
        )
    }
    leader = min(parents.values(), key=lambda r: r.data.metrics["leaderboard_rank"])
    assert report.logged_to == leader.info.run_id
    for cand, parent in parents.items():
        listed = [f.path for f in client.list_artifacts(parent.info.run_id, "report")]
        if parent is leader:
            assert listed == ["report/figures", "report/tinyrep.html"]
        else:
            assert listed == [], cand
    figures = {
        Path(f.path).name for f in client.list_artifacts(leader.info.run_id, "report/figures")
    }
    for cand in parents:  # every candidate's figures, in one place, as HTML and plotly JSON
        assert {f"tinyrep-{cand}-confusion.html", f"tinyrep-{cand}-confusion.json"} <= figures
    assert "tinyrep-leaderboard.html" in figures
    local = client.download_artifacts(leader.info.run_id, "report/figures/tinyrep-gru-history.json")
    assert pio.read_json(local).layout.title.text == "gru: optimisation history"
    assert leader.info.run_id == client.get_experiment(exp.experiment_id).tags["suite.report_run"]


@pytest.mark.slow
def test_tokenizer_section_follows_the_runs(bench: Path, tmp_path: Path) -> None:
    from suite.report import build

    board = tmp_path / "tok.yaml"
    board.write_text("title: tokenizers\nsections: [tokenizers]\n")
    assert build([NAME], board, tmp_path / "none.html", log=False).sections == ()
    client = _client()
    exp = client.get_experiment_by_name(NAME)
    seeds = client.search_runs([exp.experiment_id], filter_string="tags.`suite.kind` = 'seed'")
    try:
        for i, r in enumerate(seeds):
            client.set_tag(r.info.run_id, "suite.tokenizer", ["char", "word"][i % 2])
        report = build([NAME], board, tmp_path / "tok.html", log=False)
        assert report.sections == ("Tokenizers",) and report.figures == 1
        html = report.path.read_text(encoding="utf-8")
        assert '"char"' in html and '"word"' in html
    finally:
        for r in seeds:
            client.delete_tag(r.info.run_id, "suite.tokenizer")


CD_SPEC = """
name: cd-{data}
data: {{name: {data}, {size}}}
candidates:
  small: {{model: {{family: mlp, layers: [flatten, {{dense: {{units: 4}}}}]}}}}
  big: {{model: {{family: mlp, layers: [flatten, {{dense: {{units: 32}}}}]}}}}
train: {{epochs: 1, batch_size: 64}}
search: {{trials: 1, pruner: none}}
seeds: 0
"""


@pytest.mark.slow
def test_several_benchmarks_get_a_critical_difference_diagram(
    results: Path, tmp_path: Path
) -> None:
    from suite.report import build
    from suite.runner import run
    from suite.spec.load import load

    for data, size in [("digits", "max_examples: 200"), ("mnist1d", "num_samples: 400")]:
        spec = tmp_path / f"{data}.yaml"
        spec.write_text(CD_SPEC.format(data=data, size=size))
        run(load(spec))
    board = tmp_path / "cd.yaml"
    board.write_text("sections: [critical_difference, leaderboard]\n")
    report = build(["cd-digits", "cd-mnist1d"], board, log=False)
    assert report.path.name == "cd-digits+cd-mnist1d.html"
    assert report.sections == (
        "Critical-difference diagram",
        "cd-digits: Leaderboard",
        "cd-mnist1d: Leaderboard",
    )
    html = report.path.read_text(encoding="utf-8")
    svg = html[html.index('<div class="svg">') :]
    assert svg.index("<svg") < svg.index("</svg>") and "Friedman chi-square" in html
    assert "average rank" in html and "Wilcoxon signed-rank over datasets" in html
    # one benchmark alone has no diagram
    assert build(["cd-digits"], board, tmp_path / "one.html", log=False).sections == (
        "Leaderboard",
    )
