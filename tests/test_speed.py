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
