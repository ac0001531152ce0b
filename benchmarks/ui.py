"""`suite ui` as a server: seconds from process start until the UI answers, memory of every
process it started (RSS and PSS summed over its session), and what is left after SIGTERM to the
command's own process (processes of its session, a port still listening), beside
`mlflow ui --workers 1` (what `suite ui` started before it served the UI in-process) and, with
--before DIR, the `suite ui` of another copy of the suite.

The store is a results directory given with --results, or a small one written through
MlflowClient (an experiment of 40 runs with params and metrics; nothing is trained).

    python benchmarks/ui.py --quick
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _common as c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def small_store(root: Path) -> Path:
    """A results directory whose MLflow store holds one experiment of 40 runs."""
    from mlflow.tracking import MlflowClient

    root.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.create_experiment("ui-probe", tags={"suite.metric": "val_accuracy"})
    for i in range(40):
        run = client.create_run(exp, run_name=f"cnn/trial-{i}")
        client.log_param(run.info.run_id, "train.optimizer.adam.learning_rate", 1e-3 * (i + 1))
        for step in range(3):
            client.log_metric(run.info.run_id, "val_accuracy", 0.5 + 0.01 * i, step=step)
        client.set_terminated(run.info.run_id)
    return root


def session(sid: int) -> list[int]:
    """Pids of the live processes of session `sid`."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(d.name))
    return out


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) of these processes in MB."""
    rss = pss = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss, pss


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def measure(
    cmd: list[str], env: dict[str, str], port: int, settle_s: float, cwd: Path | None = None
) -> dict[str, float]:
    """Start `cmd` in a new session, time it to a served index page, sum its memory after
    `settle_s`, SIGTERM its first process only and count what is left."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
            time.sleep(0.1)
        ready = time.perf_counter() - t0
        time.sleep(settle_s)  # children started after the first answer (job runners)
        pids = session(proc.pid)
        rss, pss = memory_mb(pids)
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        stopped = time.perf_counter() - t1
        time.sleep(2)
        left = session(proc.pid)
        bound = listening(port)
        return {
            "ready_s": ready,
            "processes": len(pids),
            "rss_mb": rss,
            "pss_mb": pss,
            "stop_s": stopped,
            "left": len(left),
            "port_bound": float(bound),
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, help="results directory to serve (default: a small one)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds after the first answer")
    p.add_argument(
        "--before",
        type=Path,
        help="another copy of the suite (e.g. `git archive` of an older "
        "commit) whose `suite ui` is measured beside this one",
    )
    args = p.parse_args()
    rep = c.start("ui", args.quick)
    reps = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="suite-bench-ui-") as tmp:
        root = args.results or small_store(Path(tmp) / "results")
        uri = f"sqlite:///{root.resolve() / 'mlflow.db'}"
        env = {**os.environ, "SUITE_RESULTS_DIR": str(root), "PYTHONPATH": str(c.ROOT)}
        env.pop("MLFLOW_TRACKING_URI", None)
        modes = {
            "suite ui": lambda port: [sys.executable, "-m", "suite.cli", "ui", "--port", str(port)],
            "mlflow ui --workers 1": lambda port: [
                sys.executable,
                "-m",
                "mlflow",
                "ui",
                "--backend-store-uri",
                uri,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
        }
        envs = {m: env for m in modes}
        cwds: dict[str, Path | None] = {m: None for m in modes}
        if args.before:  # run from there: `python -m` puts the working folder first
            cwds["suite ui (--before)"] = args.before.resolve()
            modes["suite ui (--before)"] = modes["suite ui"]
            envs["suite ui (--before)"] = {**env, "PYTHONPATH": str(args.before.resolve())}
        got: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        for i in range(reps):  # interleaved, alternating order
            for mode in list(modes) if i % 2 == 0 else list(reversed(modes)):
                port = free_port()
                cmd = modes[mode](port)
                got[mode].append(measure(cmd, envs[mode], port, args.settle, cwds[mode]))
    keys = ["ready_s", "processes", "rss_mb", "pss_mb", "stop_s", "left", "port_bound"]
    rep.table(
        f"median of {reps} (memory {args.settle:g} s after the first answer)",
        ["command", *keys],
        [[m, *(f"{c.median([r[k] for r in rs]):.3g}" for k in keys)] for m, rs in got.items()],
    )
    suite, plain = got["suite ui"], got["mlflow ui --workers 1"]
    ready = c.median([r["ready_s"] for r in suite]) / c.median([r["ready_s"] for r in plain])
    pss = c.median([r["pss_mb"] for r in suite]) / c.median([r["pss_mb"] for r in plain])
    rep.add("suite ui / mlflow ui start-up", ready, "x", "<= 1")
    rep.add("suite ui / mlflow ui memory (PSS)", pss, "x", "<= 1")
    rep.add("processes left after SIGTERM", max(r["left"] for r in suite), "", "<= 0")
    bound = "yes" if any(r["port_bound"] for r in suite) else "no"
    rep.add("port bound after SIGTERM", bound, goal="= no")
    rep.finish(args.json)


if __name__ == "__main__":
    main()
