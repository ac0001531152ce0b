"""Per-epoch MLflow logging: milliseconds an epoch's metrics cost the training loop, written
synchronously (before) and through MLflow's asynchronous queue (now), and the flush at the
end of the trial. A SQLite store in a temporary folder; 200 epochs of 4 metrics, twice.

    PYTHONPATH=. python benchmarks/epoch_logging.py
"""

import os
import tempfile
import time

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from suite.track import Tracker

d = tempfile.mkdtemp()
t = Tracker("bench", f"sqlite:///{d}/mlflow.db")
run = t.client.create_run(t.experiment_id).info.run_id
m = {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8}
for wait in (True, False, True, False):
    s = time.perf_counter()
    for i in range(200):
        t.log_metrics(run, m, step=i, wait=wait)
    mid = time.perf_counter()
    t.flush(run)
    e = time.perf_counter()
    mode = "synchronous " if wait else "asynchronous"
    print(
        f"{mode}: {1000 * (mid - s) / 200:.2f} ms per epoch in the loop (goal <= 10 ms), "
        f"flush at the end {1000 * (e - mid):.0f} ms"
    )
