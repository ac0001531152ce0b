"""Per-epoch MLflow logging: milliseconds an epoch's metrics cost the training loop, written
synchronously and through MLflow's asynchronous queue (the suite's way), and the end of the
run (`Tracker.end`, which stores what is still queued). A SQLite store in a temporary folder;
200 epochs of 4 metrics per run, each mode twice; then the same in a child process with
MLflow's default queue (no batching wait: a run's end waits for the idle queue's 1 s poll).

    PYTHONPATH=. python benchmarks/epoch_logging.py
"""

import os
import subprocess
import sys
import tempfile
import time

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from suite.track import Tracker

CHILD = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS" in os.environ

d = tempfile.mkdtemp()
t = Tracker("bench", f"sqlite:///{d}/mlflow.db")
m = {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8}
for wait in (True, False, True, False):
    run = t.client.create_run(t.experiment_id).info.run_id
    s = time.perf_counter()
    for i in range(200):
        t.log_metrics(run, m, step=i, wait=wait)
    time.sleep(1.5)  # the scoring after training: the queue has gone idle
    mid = time.perf_counter()
    t.end(run)
    e = time.perf_counter()
    assert len(t.client.get_metric_history(run, "loss")) == 200
    mode = "synchronous " if wait else "asynchronous"
    if os.environ.get("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS") == "0":
        mode += " (MLflow's default queue)"
    print(
        f"{mode}: {1000 * (mid - s - 1.5) / 200:.2f} ms per epoch in the loop (goal <= 10 ms), "
        f"end of the run {1000 * (e - mid):.0f} ms (goal <= 100 ms)"
    )
if not CHILD:
    env = {**os.environ, "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS": "0"}
    subprocess.run([sys.executable, __file__], env=env, check=True)
