"""Models of tracked runs for transfer learning: the resolver that the `pretrained` block
(suite.blocks.pretrained) is given.

The runner logs each search's best model as the MLflow model `model` of its trial's run
(earlier runs: the artifact `model/model.keras`); `download` fetches its `.keras` file from
the tracking store the benchmark writes to, once per machine, into the cache.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from suite.blocks.pretrained import ARTIFACT

# The tracking store a running benchmark writes to (set by the runner); None: the default.
TRACKING_URI: ContextVar[str | None] = ContextVar("suite_tracking_uri", default=None)


def store_uri(explicit: str | None = None) -> str:
    """`explicit`, else the running benchmark's store, else $MLFLOW_TRACKING_URI or results/."""
    from suite.stores import default_tracking_uri

    return explicit or TRACKING_URI.get() or default_tracking_uri()


# Where a run's model folder `runs:/<run>/model` holds the .keras file: the keras flavor,
# a pyfunc text model, a run logged before models were MLflow models.
KERAS_FILES = ("data/model.keras", "artifacts/model.keras", "model.keras")


def run_model(run: str, uri: str, dst: Path) -> Path:
    """The folder `runs:/<run>/model` downloaded into `dst` (created): the run's MLflow model
    and, for runs logged before, its `model/` artifacts."""
    from mlflow.artifacts import download_artifacts

    from suite.stores import use_tracking_uri

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    dst.mkdir(parents=True, exist_ok=True)
    with use_tracking_uri(uri):  # MLflow finds a run's logged model through the global URI
        local = download_artifacts(f"runs:/{run}/model", dst_path=str(dst), tracking_uri=uri)
    return Path(local)


def keras_file(folder: Path) -> Path | None:
    """The .keras file in a run's model folder (see KERAS_FILES), or None."""
    return next((folder / f for f in KERAS_FILES if (folder / f).exists()), None)


def download(run: str, uri: str | None = None, artifact: str = ARTIFACT) -> Path:
    """The local copy of a run's artifact, downloaded once into the cache; for the default
    artifact, the .keras file of the run's model in whichever layout it was logged."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from suite.settings import cache_dir

    target = cache_dir() / "pretrained" / run / artifact
    if target.exists():
        return target
    store = store_uri(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            if artifact == ARTIFACT:
                local = keras_file(run_model(run, store, Path(tmp) / "model"))
                if local is None:
                    raise MlflowException(f"no .keras file in the run's model ({KERAS_FILES})")
            else:
                local = MlflowClient(store).download_artifacts(run, artifact, tmp)
            os.replace(local, target)
    except MlflowException as e:
        raise ValueError(
            f"cannot fetch {artifact!r} of run {run!r} from the tracking store {store}: "
            f"{e.message.splitlines()[0] if e.message else e}"
        ) from None
    return target


def pretrained_model(run: str, uri: str | None, artifact: str) -> Any:
    """The run's saved model (its `artifact`, downloaded once), loaded for a `pretrained`
    block."""
    from suite.blocks.saved import load_model

    return load_model(download(run, uri, artifact), compile=False)


@contextmanager
def resolving(uri: str | None = None) -> Iterator[None]:
    """`pretrained` blocks built inside find their runs in tracking store `uri` (default:
    the running benchmark's, else $MLFLOW_TRACKING_URI or results/)."""
    from suite.blocks.pretrained import use_resolver

    token = TRACKING_URI.set(uri) if uri is not None else None
    try:
        with use_resolver(pretrained_model):
            yield
    finally:
        if token is not None:
            TRACKING_URI.reset(token)
