"""A full disk: recognised under any wrapper (OSError, SQLite, SQLAlchemy, Optuna, MLflow)
and said once, with what could not be written, where, and the space left.

A trial that meets a full disk stops the process at once: nothing more is written (every
write would fail too), the stores keep what was committed, and the next run fails the
interrupted trial and runs it again, as after a kill.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from suite import settings

FULL_TEXTS = ("database or disk is full", "no space left on device", "disk quota exceeded")


class DiskFull(Exception):
    """The disk filled while the suite wrote `what` under `where`."""

    def __init__(self, what: str, where: Path) -> None:
        self.what, self.where = what, where
        super().__init__(self.describe())

    def describe(self) -> str:
        return (
            f"the disk is full: could not write {self.what} (in {self.where}; "
            f"{free_space(self.where)}). Finished trials are safe in the stores: free some "
            "space (or move the results directory and point --results-dir at it), then rerun "
            "the same command to resume"
        )


def free_space(where: Path) -> str:
    """'1.2 MB free of 64.0 MB' for the file system holding `where` (or its nearest parent)."""
    for folder in (where, *where.parents):
        try:
            usage = shutil.disk_usage(folder)
        except OSError:
            continue
        return f"{_mb(usage.free)} free of {_mb(usage.total)}"
    return "free space unknown"


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 2**30 else f"{n / 2**30:.1f} GB"


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, its causes and contexts, and the driver errors SQLAlchemy wraps (`.orig`)."""
    out: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop()
        if e in out or len(out) > 50:
            continue
        out.append(e)
        for nxt in (e.__cause__, e.__context__, getattr(e, "orig", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def disk_full(exc: BaseException) -> DiskFull | None:
    """The DiskFull that `exc` is, or wraps; None when it is another error."""
    for e in _chain(exc):
        if isinstance(e, DiskFull):
            return e
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            if e.filename:
                path = Path(str(e.filename))
                return DiskFull(f"{path.name!r}", path.parent)
            return DiskFull("a file", settings.results_dir().resolve())
    for e in _chain(exc):
        if any(text in str(e).lower() for text in FULL_TEXTS):
            return DiskFull("to the tracking store or the study storage", _where())
    return None


def _where() -> Path:
    return settings.results_dir().expanduser().resolve()


def reraise(exc: BaseException) -> None:
    """Raise the DiskFull that `exc` is (without its chain of tracebacks); else return."""
    full = disk_full(exc)
    if full is not None:
        raise full from None
