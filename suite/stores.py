"""Where results are stored: the Optuna study storage and the MLflow tracking store.

Both sides read this module: `suite run` and its workers write there, `compare`,
`report`, `export` and `delete` read from there. Nothing here trains or searches.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from suite import disk, settings


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "") or default)


def heartbeat_interval() -> int:
    """Seconds between a trial's heartbeats on a database: $SUITE_HEARTBEAT_INTERVAL or 10."""
    return _env_int("SUITE_HEARTBEAT_INTERVAL", 10)


def grace_period() -> int:
    """Seconds without a heartbeat before a trial counts as dead: $SUITE_HEARTBEAT_GRACE."""
    return _env_int("SUITE_HEARTBEAT_GRACE", 3 * heartbeat_interval())


def max_retry() -> int:
    """How often a dead worker's trial is run again: $SUITE_MAX_RETRY or 2."""
    return _env_int("SUITE_MAX_RETRY", 2)


def default_tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else a SQLite store under the results directory."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = settings.results_dir().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for any other store."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


# The SQLite stores this process opened (resolved paths): their connections commit in
# write-ahead-log mode without waiting for the disk (see `fast_commits`).
_FAST: set[str] = set()


def write_ahead(path: Path) -> None:
    """Put the SQLite store `path` in write-ahead-log mode, which the file keeps: a commit
    appends to `<name>-wal` instead of rewriting pages through a journal, and readers do not
    block the writer. Best effort: a store another process holds busy stays as it is."""
    import sqlite3

    try:
        with closing(sqlite3.connect(path, timeout=0.5)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        pass


def fast_commits(path: Path) -> None:
    """The store `path` in write-ahead-log mode (`write_ahead`), and every SQLAlchemy
    connection this process opens on it with `synchronous=NORMAL`: a commit waits for no
    disk flush. A killed process loses nothing it committed; a power cut may undo the last
    commits, never corrupt the store (SQLite's documented guarantee for this mode)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    key = str(path.resolve())
    if key in _FAST:  # opened before in this process
        return
    write_ahead(path)
    _FAST.add(key)
    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLAlchemy's connect hook: a connection to one of `_FAST` commits without flushing."""
    import sqlite3

    if not _FAST or not isinstance(dbapi_connection, sqlite3.Connection):
        return
    files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
    if files and files[0] and str(Path(files[0]).resolve()) in _FAST:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def create_whole(path: Path, make: Callable[[str], None]) -> None:
    """Create the SQLite store `path` all at once: `make(url)` builds its schema in a
    temporary file beside it, which is then linked into place; a failure (a full disk)
    leaves nothing behind. Of several processes creating it together, the first wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        make(f"sqlite:///{tmp}")
        write_ahead(tmp)  # while no other process can hold it busy
        try:
            os.link(tmp, path)  # atomic, and never replaces a store another process made
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    except Exception as e:
        disk.reraise(e)
        raise
    finally:
        for end in ("", "-journal", "-wal", "-shm"):
            tmp.with_name(tmp.name + end).unlink(missing_ok=True)


def _rows(path: Path, table: str) -> int:
    """Rows of `table` in the SQLite file `path` (0 when the table is missing)."""
    import sqlite3

    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone():
            return 0
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def open_whole(
    url: str, open_: Callable[[], Any], make: Callable[[str], None], kind: str, table: str
) -> Any:
    """`open_()` a store, creating a SQLite one whole first (see `create_whole`).

    A SQLite store that cannot be opened and holds no rows in `table` was left half-made
    (a full disk or a crash while it was created, before this suite made stores whole): it
    is copied aside and made anew in place, with a message. One that holds rows is left alone.
    """
    path = sqlite_file(url)
    if path is not None and not path.exists():
        create_whole(path, make)
    if path is not None:
        fast_commits(path)
    try:
        return open_()
    except Exception as e:
        disk.reraise(e)
        if path is None or not path.is_file() or _rows(path, table):
            raise
        aside = remake(path, make)
        print(
            f"{kind} {path} was half-made and held no {table}: it is made anew, the old file "
            f"kept as {aside.name} ({type(e).__name__}: {str(e).splitlines()[0][:200]})",
            file=sys.stderr,
        )
        return open_()


def remake(path: Path, make: Callable[[str], None]) -> Path:
    """Copy the SQLite store `path` aside, then give it a new schema by `make` in place
    (SQLite's backup API: connections this process already holds on it see the new one).
    Returns the copy's path."""
    import shutil
    import sqlite3

    aside = path.with_name(f"{path.name}.half-made-{time.strftime('%Y%m%d-%H%M%S')}")
    shutil.copy2(path, aside)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        make(f"sqlite:///{tmp}")
        with closing(sqlite3.connect(tmp)) as src, closing(sqlite3.connect(path)) as dst:
            src.backup(dst)
    except Exception as e:
        disk.reraise(e)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return aside


def _make_mlflow(url: str) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    artifacts = (settings.results_dir().resolve() / "artifacts").as_uri()
    SqlAlchemyStore(url, artifacts).engine.dispose()


def tracking_client(uri: str | None = None) -> Any:
    """An MlflowClient on `uri` (default: `default_tracking_uri()`); a SQLite store is created
    whole, and a half-made one without runs made anew (see `open_whole`)."""
    from mlflow.tracking import MlflowClient

    url = uri or default_tracking_uri()
    return open_whole(url, lambda: MlflowClient(url), _make_mlflow, "the tracking store", "runs")


def default_storage() -> str:
    """$SUITE_OPTUNA_STORAGE, else a SQLite file under the results directory (one process)."""
    env = os.environ.get("SUITE_OPTUNA_STORAGE")
    if env:
        return env
    root = settings.results_dir().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'optuna.db'}"


def journal_storage() -> str:
    """The journal file under the results directory, shared by workers on one machine."""
    root = settings.results_dir().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return str(root / "optuna.journal")


def is_journal(storage: str) -> bool:
    """Whether `storage` names an Optuna journal file."""
    return storage.endswith(".journal")


def has_studies(storage: str, benchmark: str) -> bool:
    """Whether `storage` exists and holds a study of `benchmark`."""
    if storage.startswith("sqlite:///"):
        if not Path(storage.removeprefix("sqlite:///")).is_file():
            return False
    elif is_journal(storage) and not Path(storage).is_file():
        return False
    import optuna

    names = optuna.get_all_study_names(make_storage(storage))
    return any(n.startswith(f"{benchmark}/") for n in names)


def resolve_storage(benchmark: str, storage: str | None, workers: int = 1) -> str:
    """The storage to use: the given one, $SUITE_OPTUNA_STORAGE, else a file under results/.

    One process uses SQLite; several use the journal file. A benchmark stays in the file it
    began in: a rerun finds its studies there, and one begun in SQLite refuses several workers.
    """
    if storage or os.environ.get("SUITE_OPTUNA_STORAGE"):
        return storage or default_storage()
    sqlite, journal = default_storage(), journal_storage()
    if has_studies(journal, benchmark):
        return journal
    if workers > 1:
        if has_studies(sqlite, benchmark):
            raise ValueError(
                f"benchmark {benchmark!r} began in {sqlite}, which one process at a time "
                "may use: continue it without --workers, or delete it to start over"
            )
        return journal
    return sqlite


def local_storages() -> list[str]:
    """The default storages under the results directory that exist (SQLite, journal)."""
    out = [default_storage()]
    journal = journal_storage()
    if Path(journal).is_file() and not os.environ.get("SUITE_OPTUNA_STORAGE"):
        out.append(journal)
    return out


_STORAGES: dict[str, Any] = {}


def make_storage(url: str) -> Any:
    """An Optuna storage for `url`, one per process and URL.

    A path ending in .journal is Optuna's journal file; SQLite is a plain RDB storage; any
    other database records heartbeats, so a trial whose worker died is failed and retried.
    """
    if url in _STORAGES:
        return _STORAGES[url]
    import optuna

    if is_journal(url):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(url))
    elif url.startswith("sqlite:"):
        kwargs = {"engine_kwargs": {"connect_args": {"timeout": 60}}}

        def make(tmp: str) -> None:
            optuna.storages.RDBStorage(tmp, **kwargs).engine.dispose()

        storage = open_whole(
            url,
            lambda: optuna.storages.RDBStorage(url, **kwargs),
            make,
            "the study storage",
            "trials",
        )
    else:
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        retry = retry or optuna.storages.RetryFailedTrialCallback
        key = "heartbeat_stale_trial_callback"
        if key not in inspect.signature(optuna.storages.RDBStorage).parameters:
            key = "failed_trial_callback"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental
            options = {
                "heartbeat_interval": heartbeat_interval(),
                "grace_period": grace_period(),
                key: retry(max_retry=max_retry()),
            }
        for attempt in range(5):  # workers starting together race to create the tables
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    storage = optuna.storages.RDBStorage(url, **options)
                break
            except Exception:
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
    _STORAGES[url] = storage
    return storage


@contextmanager
def use_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI set to `uri` for the block, then put back as it was: some
    of MLflow's model logging, registering and `runs:/`, `models:/` resolving reads only it."""
    import mlflow

    before = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # which also sets (or unsets) the variable: put it back
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env
