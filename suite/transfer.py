"""Transfer learning: a block that starts from a tracked run's model, and unfreezing for
the fine-tuning phase of a recipe (`train.fine_tune`).

The runner logs each search's best model as the MLflow model `model` of its trial's run
(earlier runs: the artifact `model/model.keras`); `pretrained: {run: RUN_ID}` downloads its
`.keras` file from the tracking store the benchmark writes to (once per machine, into the
cache), loads it with `safe_mode=True` and applies its layers up to `until` to the new input
as one nested model, frozen unless `trainable`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from suite.blocks.base import IMG, block

ARTIFACT = "model/model.keras"

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


def register_custom_objects() -> None:
    """Import every block module, so each custom Keras class the suite defines is registered."""
    import suite.blocks

    for mod in pkgutil.iter_modules(suite.blocks.__path__):
        importlib.import_module(f"suite.blocks.{mod.name}")


def load_model(path: str | Path, *, compile: bool = True) -> Any:
    """Load a `.keras` file the suite saved, with `safe_mode=True` and its custom classes."""
    import keras

    register_custom_objects()
    return keras.saving.load_model(path, safe_mode=True, compile=compile)


def cut(model: Any, until: str | int | None, name: str) -> Any:
    """The part of `model` from its inputs to the output of layer `until` (None: all but the
    last layer, i.e. without the task head), as a model named `name`."""
    import keras

    if until is None:
        end = model.layers[-1].input
    else:
        try:
            layer = model.get_layer(until) if isinstance(until, str) else model.layers[until]
        except (ValueError, IndexError):
            names = ", ".join(f"{i}: {lay.name}" for i, lay in enumerate(model.layers))
            raise ValueError(
                f"until={until!r} is not a layer of the saved model; its layers are {names}"
            ) from None
        end = layer.output
    return keras.Model(model.inputs, end, name=name)


@block("pretrained", example=(IMG, [{"pretrained": {"run": "RUN_ID"}}, "flatten"]))
def pretrained(
    run: str,
    until: str | int | None = None,
    trainable: bool = False,
    artifact: str = ARTIFACT,
    tracking_uri: str | None = None,
) -> Any:
    """A tracked run's saved model up to layer `until` (default: without its head), frozen."""

    def apply(x: Any) -> Any:
        path = download(run, tracking_uri, artifact)
        source = load_model(path, compile=False)
        want, got = tuple(source.inputs[0].shape[1:]), tuple(x.shape[1:])
        fits = len(want) == len(got) and all(
            w in (None, g) for w, g in zip(want, got, strict=False)
        )
        if len(source.inputs) != 1 or not fits:
            raise ValueError(
                f"run {run!r}'s model takes inputs of shape {want}; this input is {got}"
            )
        part = cut(source, until, f"pretrained_{run[:8]}")
        part.trainable = trainable
        return part(x)

    return apply


def flat_layers(model: Any) -> list[Any]:
    """The model's layers in order, nested models replaced by their own layers (no inputs)."""
    import keras

    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(flat_layers(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            out.append(layer)
    return out


def _all_trainable(model: Any) -> None:
    # Setting `trainable` to the value it already has may not reach the sublayers (with the
    # TensorFlow backend an unchanged attribute is not set again), so go through False.
    model.trainable = False
    model.trainable = True


def unfreeze(model: Any, start: str | int = "all") -> None:
    """Make layers trainable: all of them, or layer `start` (a name or an index into
    `flat_layers`) and every layer after it; earlier layers keep their state."""
    layers = flat_layers(model)
    if start == "all":
        _all_trainable(model)
        return
    names = [layer.name for layer in layers]
    if isinstance(start, str):
        if start not in names:
            raise ValueError(
                f"train.fine_tune.unfreeze: no layer named {start!r}; "
                f"the layers are {', '.join(names)}"
            )
        first = names.index(start)
    elif -len(layers) <= start < len(layers):
        first = start % len(layers)
    else:
        raise ValueError(
            f"train.fine_tune.unfreeze: index {start} is out of range for {len(layers)} layers"
        )
    before = [layer.trainable for layer in layers]
    _all_trainable(model)  # containers too, so their inner layers can train
    for i, layer in enumerate(layers):
        layer.trainable = before[i] or i >= first
