"""What a user copies out of a finished benchmark: the HTML report telling one story (one
colour per candidate, training beside validation, pruned trials drawn, published results,
best hyperparameters, budget and speed; logged once) and the export's types in CSV and
Parquet. Everything reads the shared tiny benchmark back; nothing trains."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import TinyStore

pytestmark = pytest.mark.slow


def _client(tiny: TinyStore) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tiny.tracking_uri)


def _figures(client: Any, run_id: str, into: Path) -> dict[str, dict[str, Any]]:
    """Each figure's plotly JSON as the report logged it, by its key (arrays decoded)."""
    import plotly.io as pio

    out = {}
    for f in client.list_artifacts(run_id, "report/figures"):
        if f.path.endswith(".json"):
            local = client.download_artifacts(run_id, f.path, str(into))
            out[Path(f.path).stem] = pio.read_json(local).to_dict()
    return out


def _values(array: Any) -> list[Any]:
    """A plotly array as a list (plotly writes numbers as base64 typed arrays)."""
    import base64

    import numpy as np

    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), array["dtype"]).tolist()
    return list(array)


def test_report_tells_one_story_and_is_logged_once(tiny: TinyStore, tmp_path: Path) -> None:
    from suite.report import build
    from suite.report.data import RELIABLE_TRIALS

    client = _client(tiny)
    exp = client.get_experiment_by_name(tiny.name)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    trials = [r for r in runs if r.data.tags["suite.kind"] == "trial"]
    pruned = next(r for r in trials if r.data.tags["suite.candidate"] == "mlp")
    number = pruned.data.tags["suite.trial"]
    client.set_tag(pruned.info.run_id, "suite.state", "PRUNED")  # read back as a pruned trial
    try:
        report = build([tiny.name], output=tmp_path / "tiny.html", tracking_uri=tiny.tracking_uri,
                       storage=tiny.storage, log=True)  # fmt: skip
    finally:
        client.set_tag(pruned.info.run_id, "suite.state", "COMPLETE")
    html = report.path.read_text(encoding="utf-8")
    for title in ("Published results", "Best hyperparameters", "Budget and speed", "Search"):
        assert title in report.sections
    # the header names the store without the machine's absolute path
    header = html[html.index("<header>") : html.index("</header>")]
    assert "tracking store sqlite:///" in header and str(tiny.results.resolve()) not in header
    assert "mlflow.db" in header

    figs = _figures(client, str(report.logged_to), tmp_path)
    assert len(figs) == report.figures
    # one colour per candidate, in every chart that draws candidates
    colours: dict[str, set[str]] = {}
    for key, fig in figs.items():
        for trace in fig["data"]:
            name = str(trace.get("name", ""))
            cand = next((c for c in ("cnn", "mlp") if name == c or name.startswith(f"{c} (")), None)
            cand = cand or next((c for c in ("cnn", "mlp") if f"-{c}-" in key), None)
            colour = (trace.get("line") or {}).get("color") or (trace.get("marker") or {}).get(
                "color"
            )
            if cand and isinstance(colour, str) and trace.get("type") != "heatmap":
                colours.setdefault(cand, set()).add(colour.upper())
            if trace.get("fill") == "toself" and cand:  # a band in its line's colour
                band = trace["fillcolor"]
                assert band.startswith("rgba(")
    assert len(colours["cnn"]) == 1 and len(colours["mlp"]) == 1, colours
    assert colours["cnn"] != colours["mlp"]
    # the leaderboard's markers use the same colours
    board = figs[f"{tiny.name}-leaderboard"]["data"][0]
    assert {c.upper() for c in board["marker"]["color"]} == colours["cnn"] | colours["mlp"]

    # training beside validation, for the score and the loss
    curves = {k: f for k, f in figs.items() if "-curves-" in k}
    assert {f"{tiny.name}-curves-val_accuracy", f"{tiny.name}-curves-val_loss"} <= set(curves)
    for fig in curves.values():
        names = {t["name"] for t in fig["data"]}
        assert {"cnn (validation)", "cnn (training)", "mlp (training)"} <= names

    # the pruned trial is drawn: in the history (a cross) and per epoch (dotted)
    history = figs[f"{tiny.name}-mlp-history"]["data"]
    crosses = [t for t in history if str(t["name"]).startswith("pruned trial")]
    shown = int(number) + 1  # displayed from 1 (the stored trial number counts from 0)
    assert len(crosses) == 1 and _values(crosses[0]["x"]) == [shown]
    per_epoch = figs[f"{tiny.name}-mlp-trials"]["data"]
    dotted = [t for t in per_epoch if t["line"]["dash"] == "dot"]
    assert [t["name"] for t in dotted] == [f"trial {shown} (pruned)"]

    # one importance method, named in both sections, with the warning for few trials
    bars = figs[f"{tiny.name}-cnn-importances"]["layout"]["title"]["text"]
    assert "(fANOVA, seed 0)" in bars
    assert html.count("by importance (fANOVA, seed 0)") == 1  # sensitivity's note
    assert f"importances from fewer than {RELIABLE_TRIALS} are unreliable" in html

    # a score axis is not blown up: it spans at least 5 points
    tuning = figs[f"{tiny.name}-tuning"]["layout"]["yaxis"]
    if "range" in tuning:
        assert tuning["range"][1] - tuning["range"][0] >= 0.05

    # logged once: on the leading candidate's parent run, figures viewable as HTML
    leader = next(
        r
        for r in runs
        if r.data.tags["suite.kind"] == "candidate" and r.info.run_id == report.logged_to
    )
    assert leader.data.metrics.get("leaderboard_rank") == 1.0
    for r in runs:
        if r.data.tags["suite.kind"] == "candidate" and r.info.run_id != report.logged_to:
            assert client.list_artifacts(r.info.run_id, "report") == []
    logged = {Path(f.path).name for f in client.list_artifacts(report.logged_to, "report/figures")}
    assert f"{tiny.name}-mlp-history.html" in logged and f"{tiny.name}-cnn-history.json" in logged
    assert client.get_experiment(exp.experiment_id).tags["suite.report_run"] == report.logged_to


def test_report_opens_without_console_errors(tiny: TinyStore, tmp_path: Path) -> None:
    from test_report import chromium

    exe = chromium()
    from playwright.sync_api import sync_playwright

    from suite.report import build

    report = build([tiny.name], output=tmp_path / "tiny.html", tracking_uri=tiny.tracking_uri,
                   storage=tiny.storage, log=False)  # fmt: skip
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.path.as_uri())
            drawn = "document.querySelectorAll('.js-plotly-plot .main-svg').length"
            page.wait_for_function(f"{drawn} >= {report.figures}", timeout=60_000)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert errors == []
    assert shot.stat().st_size > 10_000
    assert "no published figure for digits and test_accuracy" in text
    assert "train samples/s" in text and "latency p50/p95 ms" in text


def test_export_types_agree_in_csv_and_parquet(tiny: TinyStore, tmp_path: Path) -> None:
    import pandas as pd

    from suite.export import read, sidecar, table, write

    frame = table(tiny.name, tiny.tracking_uri, tiny.storage)
    for col in ("epochs", "best_epoch", "params", "trial", "seed", "leaderboard_rank"):
        assert str(frame[col].dtype) == "Int64", col
    assert str(frame["hp.model.layers[1].dense.units"].dtype) == "Int64"  # NA on cnn rows
    assert str(frame["start_time"].dtype) == "datetime64[ms, UTC]"
    assert "tag.rank" not in frame
    trials, seeds = frame[frame["kind"] == "trial"], frame[frame["kind"] == "seed"]
    assert trials["seed"].isna().all() and trials["search_seed"].notna().all()
    assert seeds["seed"].notna().all() and seeds["search_seed"].isna().all()
    assert (seeds["config_rank"] == 1).all() and trials["config_rank"].isna().all()
    leader = frame.loc[frame["leaderboard_rank"] == 1, "candidate"].unique()
    assert len(leader) == 1

    for curves in (False, True):
        data = table(tiny.name, tiny.tracking_uri, tiny.storage, curves=curves)
        csv = write(data, "csv", tmp_path / f"t{curves}.csv")
        parquet = write(data, "parquet", tmp_path / f"t{curves}.parquet")
        assert sidecar(csv).is_file()
        pd.testing.assert_frame_equal(read(csv), read(parquet))
        pd.testing.assert_frame_equal(read(parquet), data)
        first = pd.read_csv(csv, dtype=str)["start_time"].iloc[0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first)
    per_epoch = table(tiny.name, tiny.tracking_uri, tiny.storage, curves=True)
    assert str(per_epoch["epoch"].dtype) == "Int64"
    assert not [c for c in per_epoch if c.startswith(("latency", "test_", "best_"))]
    assert "samples_per_s" not in per_epoch and "samples_per_s" in frame
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(per_epoch)
    epochs = per_epoch.groupby("run_id")["epoch"].count()
    assert (epochs == 2).all()  # the tiny benchmark trains 2 epochs
