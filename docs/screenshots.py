"""The README's screenshots of the MLflow UI, taken through `suite ui` in headless Chromium (the
browser tests' Playwright and Debian's `chromium`): the candidates' parent runs sorted by a
metric, the leader's parent run, and the Model Registry when the store has registered models.

    PYTHONPATH=. python docs/screenshots.py quickstart --sort best_objective   # -> docs/img/
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(benchmark: str, port: int) -> subprocess.Popen[bytes]:
    """`suite ui BENCHMARK` in its own session, once it answers."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "suite.cli", "ui", benchmark, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"suite ui exited with {proc.returncode}") from None
            time.sleep(0.5)
    raise SystemExit("suite ui did not answer in 5 minutes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("benchmark")
    p.add_argument("--sort", default="best_objective", help="parent-run metric to sort by")
    p.add_argument("--columns", nargs="*", default=[], help="more metric or param columns")
    p.add_argument(
        "--hide",
        nargs="*",
        default=["Source", "Dataset", "Models"],
        help="default columns to hide (empty ones make room for the metrics)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=800)
    p.add_argument("--table-height", type=int, default=420, help="of the runs table's picture")
    args = p.parse_args()

    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    from suite import stores

    exe = os.environ.get("SUITE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    client = MlflowClient(stores.default_tracking_uri())
    exp = client.get_experiment_by_name(args.benchmark)
    if exp is None:
        raise SystemExit(f"no benchmark {args.benchmark!r} in {stores.default_tracking_uri()}")
    registered = client.search_registered_models(max_results=10)
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(args.benchmark, port)
    query = urllib.parse.urlencode(
        {
            "workflowType": "machine_learning",
            "searchFilter": "tags.`suite.kind` = 'candidate'",
            "orderByKey": f"metrics.`{args.sort}`",
            "orderByAsc": "false",
        },
        quote_via=urllib.parse.quote,
    )
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(f"{url}/#/experiments/{exp.experiment_id}/runs?{query}")
            page.get_by_text("matching runs").first.wait_for(timeout=120_000)
            page.get_by_role("button", name="Columns", exact=True).click()
            dialog = page.get_by_placeholder("Search columns")
            dialog.wait_for(timeout=30_000)
            dialog = page.locator("[role=dialog]", has=dialog)
            for name in [args.sort, *args.columns, *args.hide]:  # each click toggles one
                dialog.get_by_text(name, exact=True).first.click()
            page.keyboard.press("Escape")
            page.wait_for_timeout(1500)
            clip = {"x": 0, "y": 0, "width": args.width, "height": args.table_height}
            page.screenshot(path=str(args.out / "mlflow-runs.png"), clip=clip)
            leader = page.locator("[role=row] a").first  # the first run name: the leader
            leader.click()
            page.get_by_text("Child runs").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(args.out / "mlflow-parent-run.png"))
            if registered:
                page.goto(f"{url}/#/models")
                page.get_by_text(registered[0].name).first.wait_for(timeout=60_000)
                page.wait_for_timeout(1000)
                page.screenshot(path=str(args.out / "mlflow-registry.png"))
            else:
                print("no registered models: the registry screenshot is skipped")
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    for f in sorted(args.out.glob("mlflow-*.png")):
        print(f"{f}: {f.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
