"""How a suite process starts: offline and quiet unless the user asks otherwise.

Offline: MLflow's usage telemetry is off (`MLFLOW_DISABLE_TELEMETRY=true`) unless the user
opts in with `SUITE_TELEMETRY=1` or sets MLflow's own variables. Set when `suite` is
imported, before MLflow is; child processes (workers, the `suite ui` server) inherit it.

Quiet: TensorFlow's C++ log lines and Python warnings, MLflow's INFO lines and the notices
TensorFlow prints while it loads are left out, unless `--verbose` (or `SUITE_VERBOSE=1`)
brings them back. Only variables the user has not set are touched.
"""

from __future__ import annotations

import os
import re
import sys

VERBOSE = "SUITE_VERBOSE"
TELEMETRY = "SUITE_TELEMETRY"
_TRUE = ("1", "true", "yes", "on")

# Set for a quiet process, each only where the user has not set it: the value, and whether
# this module set it (so `--verbose` given later takes back only its own).
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ INFO, WARNING and ERROR lines
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # "Creating initial MLflow database tables", ...
}
_ours: dict[str, str] = {}  # what this module set, name -> value
MLFLOW_DB = "mlflow.store.db.utils"  # its logger: each database error, before it is raised
# the asynchronous logging queue's logger: a failed write, which `Tracker.flush` raises again
MLFLOW_ASYNC = "mlflow.utils.async_logging.async_logging_queue"
# TensorFlow's Python logger: "N out of the last M calls ... triggered tf.function retracing"
# as each trial builds a new model in the same process
TF_LOGGER = "tensorflow"

# A line of TensorFlow's C++ log (its level: I, W, E or F), or the absl preamble, which its
# logging writes to stderr whatever TF_CPP_MIN_LOG_LEVEL says: while it loads ("oneDNN custom
# operations are on", "Could not find cuda drivers") and later ("failed call to cuInit" on a
# machine without a GPU, "NodeDef mentions attribute ..." from tf.data)
_TF_LOG = re.compile(
    r"^(?:WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|(?P<level>[IWEF])\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] )"
)


def _tf_log_level(line: str) -> str | None:
    """The level of a TensorFlow C++ log line ("" for the absl preamble), None otherwise."""
    m = _TF_LOG.match(line)
    return None if m is None else (m.group("level") or "")


def is_runtime_log(line: str) -> bool:
    """Whether `line` is a line of TensorFlow's C++ log other than a fatal one."""
    return _tf_log_level(line) not in (None, "F")


def is_load_notice(line: str) -> bool:
    """Whether `line` is one of the notices TensorFlow prints while it loads (the absl
    preamble, info and warning lines)."""
    return _tf_log_level(line) in ("", "I", "W")


def offline() -> None:
    """Turn MLflow's telemetry off unless the user opted in or chose for themselves."""
    if os.environ.get(TELEMETRY, "").strip().lower() in _TRUE:
        return
    if "MLFLOW_DISABLE_TELEMETRY" in os.environ:
        return
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


def verbose() -> bool:
    return os.environ.get(VERBOSE, "").strip().lower() in _TRUE


def configure(loud: bool = False) -> None:
    """Quiet (the default) or verbose logging for this process and the ones it starts; call
    before TensorFlow or MLflow is imported."""
    import logging

    if loud:
        os.environ[VERBOSE] = "1"
    if verbose():
        for name, value in _ours.items():
            if os.environ.get(name) == value:  # still ours: not set since by someone else
                os.environ.pop(name)
        _ours.clear()
        for name in (MLFLOW_DB, MLFLOW_ASYNC, TF_LOGGER):
            logging.getLogger(name).setLevel(logging.NOTSET)
        return
    for name, value in QUIET_ENV.items():
        if name not in os.environ:
            os.environ[name] = value
            _ours[name] = value
        elif os.environ[name] != _ours.get(name):
            _ours.pop(name, None)  # the user's own setting: never taken back
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # logs every database error with its traceback, then raises it: the error is reported
    # once where it is caught (a full disk, say, as one line)
    for name in (MLFLOW_DB, MLFLOW_ASYNC):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger(TF_LOGGER).setLevel(logging.ERROR)


def import_tensorflow() -> None:
    """Import TensorFlow (when installed, not yet imported and Keras' backend, as
    $KERAS_BACKEND says), leaving out the notices it prints while it loads unless verbose;
    any other line it prints is passed on."""
    import importlib.util

    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    if verbose():
        import tensorflow

        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", errors="replace")
            sys.stderr.write(
                "".join(ln for ln in text.splitlines(keepends=True) if not is_load_notice(ln))
            )
