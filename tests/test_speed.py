"""Speed settings: XLA per model family, steps per execution, mixed precision, decoded
Fashion-MNIST cached; none changes what a spec means."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from suite.spec.load import load, spec_hash

SPEC = """
name: speed
data: {name: digits, max_examples: 100}
candidates:
  mlp: {model: {layers: [flatten, {dense: {units: 8}}]}}
train: {epochs: 2}
"""


def _bench(tmp_path: Path, *overrides: str) -> object:
    path = tmp_path / "speed.yaml"
    path.write_text(SPEC)
    return load(path, overrides)


def test_speed_settings_validate_and_defaults_keep_the_spec_hash(tmp_path: Path) -> None:
    plain = _bench(tmp_path)
    explicit = _bench(
        tmp_path,
        "train.jit_compile=auto",
        "train.steps_per_execution=auto",
        "train.mixed_precision=false",
    )
    assert spec_hash(explicit) == spec_hash(plain)
    changed = _bench(tmp_path, "train.jit_compile=true", "train.steps_per_execution=8")
    assert changed.train.jit_compile is True and changed.train.steps_per_execution == 8
    assert spec_hash(changed) != spec_hash(plain)
    from suite.spec.errors import SpecError

    with pytest.raises(SpecError, match="steps_per_execution"):
        _bench(tmp_path, "train.steps_per_execution=0")


def test_xla_is_chosen_for_long_recurrent_trials_on_a_cpu_only(tmp_path: Path) -> None:
    import keras

    from suite.train import XLA_MIN_SAMPLES, resolve_jit, set_precision, steps_per_execution

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the per-family XLA choice applies to the TensorFlow backend")
    import tensorflow as tf

    if any(d.device_type != "CPU" for d in tf.config.list_physical_devices()):
        pytest.skip("on an accelerator `auto` is Keras' own choice")
    bench = _bench(tmp_path)
    recipe = bench.train  # 2 epochs
    rnn = keras.Sequential([keras.Input((5, 1)), keras.layers.Bidirectional(keras.layers.GRU(2))])
    cnn = keras.Sequential([keras.Input((8, 1)), keras.layers.Conv1D(2, 3)])
    big = XLA_MIN_SAMPLES // 2
    from tensorflow.python.framework import config

    was = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    try:
        assert resolve_jit(rnn, recipe, big) is True
        assert resolve_jit(rnn, recipe, big - 1) is False  # too short to pay for compiling
        config.enable_op_determinism()
        # Keras refuses XLA with deterministic ops (warning at every compile): not asked for
        assert resolve_jit(rnn, recipe, big) == "auto"
    finally:
        (config.enable_op_determinism if was else config.disable_op_determinism)()
    assert resolve_jit(cnn, recipe, big) == "auto"  # Keras: XLA off on a CPU
    off = _bench(tmp_path, "train.jit_compile=false", "train.steps_per_execution=2").train
    assert resolve_jit(rnn, off, big) is False
    assert steps_per_execution(recipe, cnn) == 8 and steps_per_execution(off, cnn) == 2
    assert steps_per_execution(recipe, rnn) == 1

    set_precision(_bench(tmp_path, "train.mixed_precision=true").train)
    try:
        layer = keras.layers.Dense(2)
        assert layer.dtype_policy.name == "mixed_float16"
    finally:
        set_precision(recipe)
    assert keras.layers.Dense(2).dtype_policy.name == "float32"


def _idx(path: Path, a: np.ndarray) -> None:
    header = bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, dtype=">i4").tobytes()
    path.write_bytes(gzip.compress(header + a.astype(np.uint8).tobytes()))


def test_fashion_mnist_is_decoded_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from suite.data import images

    monkeypatch.setenv("SUITE_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "fashion"
    src.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 20), ("t10k", 10)):
        _idx(src / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _idx(src / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    first = images.load_fashion_mnist([src], None)
    (cached,) = (tmp_path / "cache" / "fashion_mnist").glob("decoded-*.npz")
    with np.load(cached) as f:
        arrays = {k: f[k] for k in f.files}
    np.testing.assert_array_equal(arrays["a0"], np.rint(first.x_train[..., 0] * 255))
    arrays["a1"] = (arrays["a1"] + 1) % 10  # the cache, not the idx files, is read now
    np.savez(cached, **arrays)
    second = images.load_fashion_mnist([src], None)
    np.testing.assert_array_equal(second.y_train, (first.y_train + 1) % 10)
    np.testing.assert_array_equal(second.x_test, first.x_test)


def _tiny_model(seed: int = 0) -> object:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 4)).astype("float32"), rng.integers(0, 3, 32)


def test_between_trainings_garbage_goes_and_survivors_are_frozen() -> None:
    import gc
    import weakref

    from suite.trial import collecting, fresh_session

    x, y = _xy()
    enabled = gc.isenabled()
    with collecting() as settle:
        assert not gc.isenabled()  # no automatic collection while start-up builds objects
        settle()
        assert gc.isenabled() == enabled and gc.get_freeze_count() > 0
        model = _tiny_model()
        model.fit(x, y, epochs=1, verbose=0)
        gone = weakref.ref(model)
        del model
        fresh_session()
        assert gone() is None  # the previous training's model is collected
        assert len(gc.get_objects()) < 1000  # what survived is frozen: not scanned again
    assert gc.isenabled() == enabled
    frozen = gc.get_freeze_count()
    fresh_session()  # outside `collecting`: collects, freezes nothing
    assert gc.get_freeze_count() <= frozen  # (frozen objects freed by refcount leave it)


def test_a_held_training_keeps_no_live_model_and_restores_the_same_one() -> None:
    from suite.train import FitResult
    from suite.trial import TrialResult, hold, restore

    x, y = _xy()
    model = _tiny_model()
    model.fit(x, y, epochs=2, verbose=0)
    fit = FitResult({"loss": [1.0, 0.9]}, 2, 1, {"loss": 0.9}, 0.1, 0.05, 100.0, "completed")
    held = hold(TrialResult(model, fit, None, 15, {"sample.txt": "x"}))
    assert held.result.model is None  # configuration, weights and optimizer state only
    assert all(isinstance(w, np.ndarray) for w in held.weights + held.optimizer)
    assert len(held.weights) == len(model.weights) and held.optimizer
    back = restore(held)
    assert back.fit == fit and back.params == 15 and back.artifacts == {"sample.txt": "x"}
    np.testing.assert_array_equal(back.model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert back.model.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    # the optimizer's state came back too: one more step moves both models alike
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    back.model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(back.model.predict(x, verbose=0), model.predict(x, verbose=0))


def _epoch_counts(every_s: float) -> list[object]:
    """The count stored after each of 3 epochs, then after training."""
    import keras
    import optuna

    from suite.search import epoch_counter
    from suite.search.adapter import trial_id
    from suite.search.studies import EPOCHS

    x, y = _xy()
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    counter = epoch_counter(study, trial_id(study.ask()), every_s)
    written: list[object] = []

    class Read(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            written.append(study.trials[0].user_attrs.get(EPOCHS))

    _tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[counter, Read()])
    return [*written, study.trials[0].user_attrs[EPOCHS]]


def test_the_epoch_count_is_written_at_most_once_a_second_and_at_the_end() -> None:
    assert _epoch_counts(0.0) == [1, 2, 3, 3]
    assert _epoch_counts(3600.0) == [1, 1, 1, 3]


def _modes(path: Path) -> tuple[str, int]:
    """(journal mode of the file, synchronous level of a new SQLAlchemy connection to it)."""
    import sqlite3
    from contextlib import closing

    import sqlalchemy

    with closing(sqlite3.connect(path)) as conn:
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            sync = int(conn.exec_driver_sql("PRAGMA synchronous").scalar())
    finally:
        engine.dispose()
    return journal, sync


def test_the_stores_commit_through_a_write_ahead_log_without_a_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    from contextlib import closing

    import optuna

    from suite import stores

    monkeypatch.setenv("SUITE_RESULTS_DIR", str(tmp_path / "results"))
    for var in ("MLFLOW_TRACKING_URI", "SUITE_OPTUNA_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    storage = stores.make_storage(stores.default_storage())
    client = stores.tracking_client()
    # NORMAL (1): a commit appends to the log and returns; FULL (2), SQLite's default, flushes
    assert _modes(tmp_path / "results" / "optuna.db") == ("wal", 1)
    assert _modes(tmp_path / "results" / "mlflow.db") == ("wal", 1)
    study = optuna.create_study(storage=storage, study_name="s")
    study.tell(study.ask(), 1.0)
    assert client.create_experiment("e")
    # a store the suite did not open keeps SQLite's defaults
    with closing(sqlite3.connect(tmp_path / "other.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert _modes(tmp_path / "other.db") == ("delete", 2)

    # a store made before (rollback journal, with a study in it) is switched when opened
    old = tmp_path / "old.db"
    made = optuna.storages.RDBStorage(f"sqlite:///{old}")
    optuna.create_study(storage=made, study_name="kept")
    made.engine.dispose()
    assert _modes(old)[0] == "delete"
    reopened = stores.make_storage(f"sqlite:///{old}")
    assert _modes(old) == ("wal", 1)
    assert [s.study_name for s in optuna.get_all_study_summaries(reopened)] == ["kept"]


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_best_so_far_query_agrees_with_reading_every_trial(
    tmp_path: Path, direction: str
) -> None:
    """`is_best` asks the storage for the best value of one objective (one query, not every
    trial read again); several objectives still compare the first against every trial."""
    import optuna
    from optuna.trial import TrialState

    from suite.search import is_best
    from suite.stores import make_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    one = optuna.create_study(study_name="one", storage=storage, direction=direction)
    two = optuna.create_study(study_name="two", storage=storage, directions=[direction, direction])
    assert is_best(one, 0.5) and is_best(two, 0.5)  # nothing completed yet
    for study, values in ((one, [0.3, 0.7, 0.5]), (two, [[0.3, 0], [0.7, 0], [0.5, 0]])):
        for v in values:
            study.tell(study.ask(), v)
        study.tell(study.ask(), state=TrialState.FAIL)
        running = study.ask()  # the trial asking: not yet completed
        up = direction == "maximize"
        best = 0.7 if up else 0.3
        better, worse = (best + 0.1, best - 0.1) if up else (best - 0.1, best + 0.1)
        assert is_best(study, better)
        assert not is_best(study, worse)
        assert not is_best(study, best)  # a tie is not better
        n = len(study.directions)
        study.tell(running, [better] * n if n > 1 else better)
        assert not is_best(study, better)  # the new best counts at once
