"""Models in MLflow's own format: logged models of trial and seed runs, and the registry.

A run's model is an MLflow LoggedModel named `model` (MLflow 3 keeps it outside the run's
artifact folder; `runs:/<run>/model` still finds it). Keras models use the `keras` flavor
(any backend) with a signature, an input example and explicit pip requirements, so MLflow
infers nothing in a subprocess; their pyfunc loader is this module, which registers the suite's
custom Keras classes before loading, so `mlflow.pyfunc.load_model` and `mlflow models serve`
work in a fresh process. A text classifier is a pyfunc model that takes raw strings
(suite.text.serving). Each candidate's best configuration is registered as
`<benchmark>.<candidate>`, its champion seed run's version under the alias `champion`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from suite.stores import use_tracking_uri

NAME = "model"  # the logged model's name: `runs:/<run>/model` resolves to it
MODEL_ID = "suite.model_id"  # run tag: the run's logged model
CHAMPION = "champion"  # registry alias of a candidate's best seed run
CANDIDATE = "suite.candidate"  # the tag naming a run's candidate (suite.track.CANDIDATE)


def registered_name(benchmark: str, candidate: str) -> str:
    """The registered model of a benchmark's candidate (`/` and `:` are not allowed)."""
    return f"{benchmark}.{candidate}".replace("/", "_").replace(":", "_")


@functools.cache
def requirements(text: bool = False) -> tuple[str, ...]:
    """Pinned pip requirements of a logged model (given explicitly: no inference)."""
    from importlib.metadata import PackageNotFoundError, version

    import keras

    backend = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    names = ["mlflow", "keras", "numpy", backend.get(keras.backend.backend(), "tensorflow")]
    if text:
        names += ["tensorflow", "tensorflow-text", "sentencepiece", "pandas"]
    out = []
    for name in dict.fromkeys(names):
        for dist in (name, "mlflow-skinny") if name == "mlflow" else (name,):
            try:
                out.append(f"{name}=={version(dist)}")
                break
            except PackageNotFoundError:
                continue
    return tuple(out)


def _dims(shape: Sequence[int | None]) -> tuple[int, ...]:
    return (-1, *(-1 if d is None else int(d) for d in shape[1:]))


def keras_signature(model: Any, example: Any) -> Any:
    """The tensor signature of `model` for inputs like `example` (an array or a dict of
    arrays); None for other inputs."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    if isinstance(example, np.ndarray):
        inputs = [TensorSpec(example.dtype, _dims(example.shape))]
    elif isinstance(example, Mapping) and all(isinstance(v, np.ndarray) for v in example.values()):
        inputs = [TensorSpec(v.dtype, _dims(v.shape), str(k)) for k, v in example.items()]
    else:
        return None
    outs = list(model.outputs)
    named = len(outs) > 1
    outputs = [
        TensorSpec(np.dtype(str(o.dtype)), _dims(o.shape), o.name if named else None) for o in outs
    ]
    return ModelSignature(Schema(inputs), Schema(outputs))


def _save_keras(
    path: str, mlflow_model: Any, validate_serving_input: bool = True, **kw: Any
) -> None:
    """mlflow.keras.save_model, with this module as the pyfunc loader."""
    import mlflow.keras

    os.makedirs(path, exist_ok=True)  # mlflow.keras writes the input example before making it
    mlflow.keras.save_model(path=path, mlflow_model=mlflow_model, **kw)
    mlflow_model.flavors["python_function"]["loader_module"] = __name__
    mlflow_model.save(os.path.join(path, "MLmodel"))


def _save_pyfunc(
    path: str, mlflow_model: Any, validate_serving_input: bool = True, **kw: Any
) -> None:
    import mlflow.pyfunc

    mlflow.pyfunc.save_model(path=path, mlflow_model=mlflow_model, **kw)


# The flavors as `Model.log` takes them (module-like: a name and save_model), taking its
# `validate_serving_input` (the flavors' own save_model refuse it): checking the input example
# would load the model again and predict, once per logged model.
KERAS = SimpleNamespace(__name__="mlflow.keras", save_model=_save_keras)
PYFUNC = SimpleNamespace(__name__="mlflow.pyfunc", save_model=_save_pyfunc)
# The text classifier as MLflow's "models from code" (a file run on load, nothing pickled).
TEXT_CODE = Path(__file__).parent / "text" / "pyfunc_model.py"


def _load_pyfunc(path: str) -> Any:
    """MLflow's pyfunc loader of the suite's Keras models: the suite's custom Keras classes
    are registered, then the keras flavor loads the model."""
    import mlflow.keras

    from suite.blocks.saved import register_custom_objects

    register_custom_objects()
    with contextlib.suppress(ImportError):
        import suite.text.metrics  # noqa: F401  (compiled text models' metrics)
    return mlflow.keras._load_pyfunc(path)


def log_model(
    client: Any,
    uri: str,
    experiment_id: str,
    run_id: str,
    model: Any,
    example: Any = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log `model` (Keras) as the run's MLflow model `model`; its model id."""
    from mlflow.models import Model

    signature = keras_signature(model, example) if example is not None else None
    logged = client.create_logged_model(
        experiment_id, name=NAME, source_run_id=run_id, tags=dict(tags or {}), model_type="keras"
    )
    with use_tracking_uri(uri):
        Model.log(
            artifact_path=None,
            name=NAME,
            flavor=KERAS,
            run_id=run_id,
            model_id=logged.model_id,
            model=model,
            signature=signature,
            input_example=example if signature is not None else None,
            pip_requirements=list(requirements()),
            validate_serving_input=False,  # a second load and predict per model
        )
    return logged.model_id


def log_text_model(
    client: Any,
    uri: str,
    experiment_id: str,
    run_id: str,
    model: Any,
    tokenizer: Path,
    classes: Sequence[str],
    texts: Sequence[str],
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log a text classifier as a pyfunc model that takes raw strings (the Keras model, the
    fitted tokenizer and the class names as its artifacts); its model id."""
    import json
    import tempfile

    from mlflow.models import Model, ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logged = client.create_logged_model(
        experiment_id, name=NAME, source_run_id=run_id, tags=dict(tags or {}), model_type="text"
    )
    signature = ModelSignature(
        Schema([ColSpec("string")]),
        Schema([ColSpec("string", "label"), *(ColSpec("double", str(c)) for c in classes)]),
    )
    with tempfile.TemporaryDirectory() as tmp, use_tracking_uri(uri):
        file, names = Path(tmp) / "model.keras", Path(tmp) / "classes.json"
        model.save(file)
        names.write_text(json.dumps([str(c) for c in classes]), encoding="utf-8")
        Model.log(
            artifact_path=None,
            name=NAME,
            flavor=PYFUNC,
            run_id=run_id,
            model_id=logged.model_id,
            python_model=str(TEXT_CODE),
            artifacts={"model": str(file), "tokenizer": str(tokenizer), "classes": str(names)},
            signature=signature,
            input_example=[str(t) for t in texts],
            pip_requirements=list(requirements(text=True)),
            validate_serving_input=False,
        )
    return logged.model_id


def champion(runs: Sequence[Any], metric: str, direction: str) -> Any | None:
    """The run with the best `metric` (ties: the lowest seed) among those with a model."""
    have = [r for r in runs if r.data.tags.get(MODEL_ID) and metric in r.data.metrics]
    if not have:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(
        have,
        key=lambda r: (sign * r.data.metrics[metric], int(r.data.tags.get("suite.seed") or 0)),
    )


def register(client: Any, uri: str, name: str, run: Any, tags: Mapping[str, str]) -> str | None:
    """Make `run`'s model the `champion` of registered model `name` (created when missing; a
    run registered before keeps its version); the version, or None when already so."""
    from mlflow.exceptions import MlflowException

    run_id, model_id = run.info.run_id, run.data.tags[MODEL_ID]
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        if current.run_id == run_id:
            return None
    except MlflowException:  # no registered model or no alias yet
        with contextlib.suppress(MlflowException):  # another worker made it, or no alias
            client.create_registered_model(name, tags={"suite.candidate": tags.get(CANDIDATE, "")})
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if found:
        version = str(found[0].version)
    else:
        with use_tracking_uri(uri):  # the SQLite registry reads the logged model through it
            made = client.create_model_version(
                name, f"models:/{model_id}", run_id=run_id, model_id=model_id, tags=dict(tags)
            )
        version = str(made.version)
    client.set_registered_model_alias(name, CHAMPION, version)
    return version
