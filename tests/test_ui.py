"""suite ui: the MLflow UI over the results store, bound to 127.0.0.1, shows the benchmark's
experiment and its runs in headless Chromium (the tiny benchmark of test_report)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_report import NAME, chromium, tiny_benchmark

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exe() -> str:
    return chromium()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`suite ui` on a free port over the tiny benchmark's store; stopped afterwards."""
    from mlflow.tracking import MlflowClient

    root = tiny_benchmark(tmp_path_factory)
    client = MlflowClient(f"sqlite:///{(root / 'mlflow.db').resolve()}")
    exp = client.get_experiment_by_name(NAME)
    # as if made before the suite tagged experiments for the UI: `suite ui` tags it again
    client.delete_experiment_tag(exp.experiment_id, "mlflow.experimentKind")
    port = _free_port()
    env = {**os.environ, "SUITE_RESULTS_DIR": str(root)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = (root.parent / "ui.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "suite.cli", "ui", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its MLflow server and workers go with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"suite ui did not start: {(root.parent / 'ui.log').read_text()}")
            time.sleep(0.5)
        yield url, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def test_ui_is_bound_to_loopback_only(ui: tuple[str, Path]) -> None:
    url, _ = ui
    port = int(url.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: finds this host's outward address
            outward = s.getsockname()[0]
        except OSError:
            outward = None
    if not outward or outward.startswith("127."):
        pytest.skip("this host has no address other than loopback")
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(5)
        s.connect((outward, port))


def test_ui_shows_the_experiment_and_its_runs(exe: str, ui: tuple[str, Path]) -> None:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    url, root = ui
    client = MlflowClient(f"sqlite:///{(root / 'mlflow.db').resolve()}")
    exp = client.get_experiment_by_name(NAME)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    seed = next(r for r in runs if r.data.tags["suite.kind"] == "seed")
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(url) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", route)
            page = context.new_page()
            page.goto(f"{url}/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning")
            page.get_by_text(NAME).first.wait_for(timeout=120_000)
            page.get_by_text(f"{len(runs)} matching runs").wait_for(timeout=120_000)
            for parent in ("cnn", "gru"):  # the candidates' parent runs, trials nested
                page.get_by_role("link", name=parent, exact=True).first.wait_for(timeout=30_000)
            page.goto(f"{url}/#/experiments/{exp.experiment_id}/runs/{seed.info.run_id}")
            page.get_by_text(seed.info.run_name).first.wait_for(timeout=120_000)
            page.get_by_text("test_accuracy").first.wait_for(timeout=60_000)
        finally:
            browser.close()
