"""What produced a run: library versions, backend, device and the spec's git state.

Collected once per process (`environment`), except the git state of a spec's repository
(`git_state`), read per benchmark run. Every value is a string, ready as an MLflow tag.
Versions come from the installed distributions, so no unused backend is imported.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from suite import __version__

# The tags compared by `suite reproduce`: a difference is worth a warning.
LIBRARIES = ("keras", "tensorflow", "jax", "torch", "optuna", "mlflow", "numpy")
DEVICE = ("suite.cpu", "suite.gpu")
DETERMINISTIC = "suite.deterministic"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 5.0) -> str | None:
    try:
        out = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _nvidia() -> dict[str, str]:
    """GPU names and driver from nvidia-smi, where it exists."""
    if shutil.which("nvidia-smi") is None:
        return {}
    text = _run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])
    if not text:
        return {}
    rows = [[c.strip() for c in line.split(",")] for line in text.splitlines() if line.strip()]
    names = sorted({r[0] for r in rows})
    return {
        "suite.gpu": ", ".join(names),
        "suite.gpu_count": str(len(rows)),
        "suite.gpu_driver": rows[0][1] if len(rows[0]) > 1 else "",
    }


def _backend_devices(backend: str) -> dict[str, str]:
    """GPUs as the backend sees them, with its CUDA and cuDNN versions (TF/JAX/torch)."""
    out: dict[str, str] = {}
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            out["suite.backend_gpus"] = str(len(gpus))
            if gpus:
                info = tf.sysconfig.get_build_info()
                out["suite.cuda"] = str(info.get("cuda_version", ""))
                out["suite.cudnn"] = str(info.get("cudnn_version", ""))
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            out["suite.backend_gpus"] = str(len(gpus))
            if gpus:
                out.setdefault("suite.gpu", getattr(gpus[0], "device_kind", ""))
        elif backend == "torch":
            import torch

            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            out["suite.backend_gpus"] = str(n)
            if n:
                out["suite.gpu"] = torch.cuda.get_device_name(0)
                out["suite.cuda"] = str(torch.version.cuda)
                out["suite.cudnn"] = str(torch.backends.cudnn.version())
    except Exception as e:  # a broken GPU stack must not stop a CPU run
        out["suite.device_error"] = f"{type(e).__name__}: {e}"[:500]
    return out


def has_gpu() -> bool:
    """Whether the backend trains on a GPU in this process."""
    return environment().get("suite.backend_gpus", "0") not in ("", "0")


@functools.cache
def environment() -> dict[str, str]:
    """Suite and library versions, Keras backend, Python, CPU and GPU: once per process."""
    import keras

    backend = keras.backend.backend()
    tags = {
        "suite.version": __version__,
        "suite.backend": backend,
        "suite.python": platform.python_version(),
        "suite.platform": platform.platform(),
        "suite.cpu": cpu_model(),
        "suite.cpu_count": str(os.cpu_count() or 0),
    }
    for lib in LIBRARIES:
        version = keras.__version__ if lib == "keras" else _version(lib)
        if version:
            tags[f"suite.{lib}"] = version
    tags.update(_nvidia())
    tags.update(_backend_devices(backend))
    return tags


def git_state(path: str | Path | None) -> dict[str, str]:
    """The commit of the git repository holding `path` and whether its tree has uncommitted
    changes (`suite.git_commit`, `suite.git_dirty`); empty outside a repository or without git.
    """
    if path is None or shutil.which("git") is None:
        return {}
    where = Path(path).resolve()
    where = where if where.is_dir() else where.parent
    if not where.is_dir():
        return {}
    commit = _run(["git", "rev-parse", "HEAD"], cwd=where)
    if not commit:
        return {}
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where)
    root = _run(["git", "rev-parse", "--show-toplevel"], cwd=where) or ""
    return {
        "suite.git_commit": commit,
        "suite.git_dirty": "true" if status else "false",
        "suite.git_root": root,
    }


_DETERMINISM: list[bool] = []


def deterministic() -> bool:
    """Turn on deterministic ops once per process (TensorFlow backend), unless on a GPU or
    $SUITE_DETERMINISTIC=0; $SUITE_DETERMINISTIC=1 asks for them on a GPU too. Returns
    whether they are on. (Seeds fix Python, NumPy and backend draws and the data order.)
    """
    if _DETERMINISM:
        return _DETERMINISM[0]
    import keras

    wanted = os.environ.get("SUITE_DETERMINISTIC", "").strip().lower()
    if wanted in ("0", "false", "no"):
        on = False
    elif keras.backend.backend() == "tensorflow":
        on = wanted in ("1", "true", "yes") or not has_gpu()
        if on:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
    else:  # JAX and torch: deterministic on CPU; their GPU switches act before start-up
        on = not has_gpu()
    _DETERMINISM.append(on)
    return on
