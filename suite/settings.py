"""Where the suite reads data and writes results (environment variables, then defaults)."""

from __future__ import annotations

import os
from pathlib import Path


def results_dir() -> Path:
    """Root for tracking store, studies, caches and reports: $SUITE_RESULTS_DIR or ./results."""
    return Path(os.environ.get("SUITE_RESULTS_DIR", "results")).expanduser()


def cache_dir() -> Path:
    """Cache of generated or converted datasets: $SUITE_CACHE_DIR or <results>/cache."""
    env = os.environ.get("SUITE_CACHE_DIR")
    return Path(env).expanduser() if env else results_dir() / "cache"


def data_dirs() -> list[Path]:
    """Local folders searched for dataset files: $SUITE_DATA_DIR (os.pathsep-separated)."""
    env = os.environ.get("SUITE_DATA_DIR", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p]


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise ValueError(f"${name} must be a number, not {os.environ[name]!r}") from None


def recycle_every() -> int:
    """Trials a process runs before a fresh one replaces it: $SUITE_RECYCLE_EVERY (0: never)."""
    return int(_env_number("SUITE_RECYCLE_EVERY", 0))


def recycle_mb() -> float:
    """Resident-memory growth (MB, over its level after the first trial) at which a process
    is replaced by a fresh one: $SUITE_RECYCLE_MB (0: never)."""
    return _env_number("SUITE_RECYCLE_MB", RECYCLE_MB)


RECYCLE_MB = 150.0  # TensorFlow keeps ~7-10 MB per small trial: about one restart in 20 trials
