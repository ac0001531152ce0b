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
    is replaced by a fresh one: $SUITE_RECYCLE_MB (0: never), else `default_recycle_mb()`."""
    return _env_number("SUITE_RECYCLE_MB", default_recycle_mb())


RECYCLE_MB = 150.0  # the least growth that triggers a restart
RECYCLE_SHARE = 0.025  # ... or this share of the machine's memory, whichever is more


def default_recycle_mb() -> float:
    """max(RECYCLE_MB, RECYCLE_SHARE of physical memory): TensorFlow keeps ~7-10 MB per small
    trial, and a restart costs a whole start-up (8-25 s), so a machine with memory to spare
    restarts rarely (24 GB: every ~60-80 small trials; 8 GB: every ~20-30)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):  # no sysconf: the fixed floor
        return RECYCLE_MB
    return max(RECYCLE_MB, RECYCLE_SHARE * total)
