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
