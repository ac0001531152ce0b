"""suite ui: MLflow's UI served in-process over the results store, bound to 127.0.0.1, opening
every page on runs (never on MLflow 3's GenAI view) in headless Chromium, and stopping with no
process or port left on SIGTERM or Ctrl-C. The store is the session's shared tiny benchmark."""

from __future__ import annotations

import contextlib
import os
import re
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
from conftest import TinyStore
from test_report import chromium

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
GENAI_PAGES = ("/overview", "/traces", "/chat-sessions", "/evaluation-runs", "/prompts")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(sid: int) -> list[int]:
    """Live processes of session `sid` (`suite ui` started with start_new_session)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(d.name))
    return pids


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(store: TinyStore, log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`suite ui ARGS --port P` over the store in a new session; waits until it answers."""
    port = _free_port()
    env = {**os.environ, "SUITE_RESULTS_DIR": str(store.results)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "suite.cli", "ui", *args, "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"suite ui did not start: {log.read_text()}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Whatever is left of the session, killed (a failed test leaves nothing behind)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


@pytest.fixture(scope="module")
def exe() -> str:
    return chromium()


@pytest.fixture(scope="module")
def ui(tiny_store: TinyStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """`suite ui tiny-shared` on a free port over the shared tiny store; (url, store, log)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tiny_store.tracking_uri)
    exp = client.get_experiment_by_name(tiny_store.name)
    # as if made before the suite tagged experiments: `suite ui` tags it again before serving
    client.delete_experiment_tag(exp.experiment_id, "mlflow.experimentKind")
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    proc, url = _start(tiny_store, log, tiny_store.name)
    try:
        yield url, tiny_store, log
    finally:
        _stop(proc)


def test_ui_is_bound_to_loopback_only(ui: Any) -> None:
    url, _, _ = ui
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


def test_ui_index_page_stores_the_runs_view(ui: Any) -> None:
    from suite.ui import ASSISTANT_KEY, PROMO_KEY, WORKFLOW_KEY

    url, _, _ = ui
    with urllib.request.urlopen(f"{url}/", timeout=30) as r:
        page = r.read().decode()
    head = page.split("<head>", 1)[1]
    assert head.index(WORKFLOW_KEY) < head.index("<script defer")  # before MLflow's script
    assert ASSISTANT_KEY in head and PROMO_KEY in head


def test_mlflow_front_end_still_reads_the_view_from_that_key() -> None:
    """The installed MLflow's front-end keeps the view in the localStorage entry `suite ui`
    writes (key `mlflow.workflowType`, version 1, stored as `<key>_v<version>`)."""
    import importlib.util

    from suite.ui import ASSISTANT_KEY, PROMO_KEY, RUNS_VIEW, WORKFLOW_KEY

    spec = importlib.util.find_spec("mlflow")
    assert spec and spec.origin
    build = Path(spec.origin).parent / "server" / "js" / "build" / "static" / "js"
    bundles = [p.read_text(encoding="utf-8", errors="replace") for p in build.glob("*.js")]
    assert bundles, f"no front-end bundle under {build}"
    key, version = WORKFLOW_KEY.rsplit("_v", 1)
    js = "\n".join(bundles)
    assert re.search(rf'key:"{re.escape(key)}",version:{version}\b', js)
    assert f'MACHINE_LEARNING="{RUNS_VIEW}"' in js
    assert re.search(r"=>`\$\{e\}_v\$\{t\}`", js), "localStorage keys are no longer <key>_v<n>"
    akey, aversion = ASSISTANT_KEY.rsplit("_v", 1)
    assert re.search(rf'key:"{re.escape(akey)}",version:{aversion}\b', js)
    pkey, pversion = PROMO_KEY.rsplit("_v", 1)  # the registry's promotion, dismissed
    assert re.search(rf'key:"{re.escape(pkey)}",version:{pversion}\b', js)


def test_ui_lands_on_runs_from_the_printed_link_to_a_run_and_back(exe: str, ui: Any) -> None:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    url, store, log = ui
    client = MlflowClient(store.tracking_uri)
    exp = client.get_experiment_by_name(store.name)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    seed = next(r for r in runs if r.data.tags["suite.kind"] == "seed")
    printed = log.read_text()
    listing = re.search(r"runs of the benchmarks: (\S+)", printed)
    own = re.search(rf"runs of {re.escape(store.name)}: (\S+)", printed)
    assert listing and own, printed
    assert own.group(1).endswith(
        f"/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning"
    )
    outside: list[str] = []
    visited: list[str] = []

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
            page.on(
                "framenavigated", lambda f: visited.append(f.url) if f == page.main_frame else None
            )

            def on_runs_view() -> None:
                """The model-training sidebar (its Model registry link), not the GenAI one."""
                page.get_by_role("link", name="Model registry").first.wait_for(timeout=60_000)
                assert page.get_by_role("link", name="AI Gateway").count() == 0
                assert page.get_by_role("link", name="Prompts").count() == 0

            page.goto(listing.group(1))  # the printed link: the experiment list
            page.get_by_role("link", name=store.name).first.wait_for(timeout=120_000)
            on_runs_view()
            page.get_by_role("link", name=store.name).first.click()  # into the experiment
            page.get_by_text(f"{len(runs)} matching runs").wait_for(timeout=120_000)
            assert f"/experiments/{exp.experiment_id}/runs" in page.url
            on_runs_view()
            for parent in ("cnn", "mlp"):  # the candidates' parent runs, trials nested
                page.get_by_role("link", name=parent, exact=True).first.wait_for(timeout=30_000)
            page.get_by_role("link", name="cnn", exact=True).first.click()  # into a run
            page.get_by_text("Child runs").first.wait_for(timeout=60_000)
            assert re.search(rf"/experiments/{exp.experiment_id}/runs/\w+", page.url)
            on_runs_view()
            page.go_back()  # and back to the runs table
            page.get_by_text(f"{len(runs)} matching runs").wait_for(timeout=120_000)
            on_runs_view()
            # a run page loaded on its own (a bookmark: no workflowType in the address)
            page.goto(f"{url}/#/experiments/{exp.experiment_id}/runs/{seed.info.run_id}")
            page.reload()
            page.get_by_text(seed.info.run_name).first.wait_for(timeout=120_000)
            page.get_by_text("test_accuracy").first.wait_for(timeout=60_000)
            on_runs_view()
            # the home page's sidebar, then the experiment by its link in the list
            page.goto(f"{url}/")
            page.get_by_role("link", name="Experiments").first.click()
            page.get_by_role("link", name=store.name).first.click()
            page.get_by_text(f"{len(runs)} matching runs").wait_for(timeout=120_000)
            on_runs_view()
        finally:
            browser.close()
    genai = [u for u in visited if any(p in u.split("#", 1)[-1] for p in GENAI_PAGES)]
    assert not genai, f"GenAI pages on the way: {genai}"
    assert not outside, f"the UI reached outside the server: {outside[:3]}"


def test_ui_of_an_unknown_benchmark_names_the_known(tiny: TinyStore) -> None:
    from click.testing import CliRunner

    from suite.cli import main

    out = CliRunner().invoke(main, ["ui", "nope", "--port", str(_free_port())])
    assert out.exit_code == 2
    assert "no benchmark 'nope'" in out.output and tiny.name in out.output


@pytest.mark.parametrize(
    ("how", "workers"), [("SIGTERM to its process", 2), ("Ctrl-C to its terminal", 1)]
)
def test_ui_stops_with_no_process_or_port_left(
    tiny_store: TinyStore, tmp_path: Path, how: str, workers: int
) -> None:
    proc, url = _start(tiny_store, tmp_path / "ui.log", "--workers", str(workers))
    port = int(url.rsplit(":", 1)[1])
    try:
        started = _session(proc.pid)
        assert proc.pid in started and len(started) >= workers
        if how.startswith("SIGTERM"):
            proc.send_signal(signal.SIGTERM)
        else:  # a terminal's Ctrl-C reaches its whole foreground process group
            os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
        deadline = time.monotonic() + 10
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session(proc.pid) == [], f"left running after {how}: {_session(proc.pid)}"
        assert not _listening(port), f"port {port} still bound after {how}"
        if how.startswith("Ctrl-C"):  # a clean stop, not a traceback
            assert code == 0, (code, (tmp_path / "ui.log").read_text())
    finally:
        _stop(proc)
