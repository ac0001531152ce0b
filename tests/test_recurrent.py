"""Recurrent blocks beyond the generic contract: masks, deep RNN connections, attention maths,
encoder-decoder shapes, saving the custom layers, and the sequence-of-frames dataset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.spec.schema import ModelSpec
from suite.tasks import TASKS

REPO = Path(__file__).resolve().parents[1]


def _model(layers: list[Any], shape: tuple[int, ...], outputs: int = 3) -> Any:
    from suite.build import build_model

    spec = ModelSpec.model_validate({"layers": layers})
    return build_model(spec.layers, shape, TASKS.get("classification"), outputs)


def _features(layers: list[Any], shape: tuple[int, ...]) -> Any:
    """The model without its head: inputs -> the stack's last output."""
    import keras

    from suite.build import apply_stack

    spec = ModelSpec.model_validate({"layers": layers})
    inputs = keras.Input(shape=shape)
    return keras.Model(inputs, apply_stack(inputs, spec.layers))


def _seq(n: int, steps: int, features: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, steps, features)).astype("float32")


def _pad(x: np.ndarray, extra: int) -> np.ndarray:
    return np.concatenate([x, np.zeros((x.shape[0], extra, x.shape[2]), "float32")], axis=1)


# --- masking -------------------------------------------------------------------------------

MASKED_STACKS = {
    "lstm": [{"lstm": {"units": 4}}],
    "deep_residual": [{"deep_rnn": {"units": 4, "layers": 3, "connection": "residual"}}],
    "deep_highway_bi": [
        {"deep_rnn": {"cell": "gru", "units": 4, "connection": "highway", "bidirectional": True}}
    ],
    "attention_pool": [{"lstm": {"units": 4}}, {"attention_pool": {"score": "additive"}}],
    "seq2seq_attention": [
        {"encoder_decoder": {"cell": "gru", "units": 4, "steps": 2, "attention": "general"}},
        "flatten",
    ],
}


@pytest.mark.parametrize("name", sorted(MASKED_STACKS))
def test_masked_padding_steps_do_not_change_the_output(name: str) -> None:
    import keras

    keras.utils.set_random_seed(0)
    layers = ["masking", *MASKED_STACKS[name]]
    short, long = _model(layers, (5, 3)), _model(layers, (8, 3))
    long.set_weights(short.get_weights())
    x = _seq(4, 5)
    np.testing.assert_allclose(
        long.predict(_pad(x, 3), verbose=0), short.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_without_masking_padding_does_change_an_lstm() -> None:
    import keras

    keras.utils.set_random_seed(0)
    layers: list[Any] = [{"lstm": {"units": 4}}]
    short, long = _model(layers, (5, 3)), _model(layers, (8, 3))
    long.set_weights(short.get_weights())
    x = _seq(4, 5)
    gap = np.abs(long.predict(_pad(x, 3), verbose=0) - short.predict(x, verbose=0)).max()
    assert gap > 1e-4


def test_mask_value_is_honoured() -> None:
    import keras

    keras.utils.set_random_seed(0)
    layers: list[Any] = [{"masking": {"mask_value": -1.0}}, {"gru": {"units": 4}}]
    short, long = _model(layers, (5, 3)), _model(layers, (7, 3))
    long.set_weights(short.get_weights())
    x = _seq(2, 5)
    padded = np.concatenate([x, np.full((2, 2, 3), -1.0, "float32")], axis=1)
    np.testing.assert_allclose(
        long.predict(padded, verbose=0), short.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


# --- deep RNNs -----------------------------------------------------------------------------


@pytest.mark.parametrize("connection", ["none", "residual", "highway"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_deep_rnn_output_shapes(connection: str, bidirectional: bool) -> None:
    width = 5 * (2 if bidirectional else 1)
    params = {"units": 5, "layers": 3, "connection": connection, "bidirectional": bidirectional}
    seq = _features([{"deep_rnn": {**params, "return_sequences": True}}], (6, 3))
    vec = _features([{"deep_rnn": {**params, "return_sequences": False}}], (6, 3))
    assert tuple(seq.output.shape) == (None, 6, width)
    assert tuple(vec.output.shape) == (None, width)


def _layer_counts(model: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in model.layers:
        name = type(layer).__name__
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_connection_changes_the_graph() -> None:
    def build(connection: str) -> Any:
        return _features(
            [
                {
                    "deep_rnn": {
                        "cell": "simple_rnn",
                        "units": 4,
                        "layers": 3,
                        "connection": connection,
                    }
                }
            ],
            (6, 3),
        )

    none, residual, highway = build("none"), build("residual"), build("highway")
    assert _layer_counts(none).get("Add", 0) == 0
    assert _layer_counts(residual)["Add"] == 2  # around layers 2 and 3
    assert _layer_counts(highway)["Add"] == 2
    assert _layer_counts(highway)["Dense"] == 2  # one transform gate per connection
    gates = [layer for layer in highway.layers if type(layer).__name__ == "Dense"]
    assert all(g.get_config()["activation"] == "sigmoid" for g in gates)
    assert none.count_params() == residual.count_params() < highway.count_params()


def test_residual_deep_rnn_adds_each_layer_input() -> None:
    """Layer 2's output of a residual stack is its input plus the RNN's own output."""
    import keras

    keras.utils.set_random_seed(0)
    model = _features(
        [
            {
                "deep_rnn": {
                    "cell": "simple_rnn",
                    "units": 4,
                    "layers": 2,
                    "connection": "residual",
                    "return_sequences": True,
                }
            }
        ],
        (5, 3),
    )
    rnns = [layer for layer in model.layers if type(layer).__name__ == "SimpleRNN"]
    x = _seq(2, 5)
    first = keras.Model(model.input, rnns[0].output).predict(x, verbose=0)
    second = keras.Model(model.input, rnns[1].output).predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), first + second, rtol=1e-5, atol=1e-6)


# --- attention maths -----------------------------------------------------------------------


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _expected_scores(layer: Any, q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Scores (b, Tv) for a 2-D query, from the layer's weights, in numpy."""
    name = type(layer).__name__
    if name == "LuongAttention" and layer.score == "dot":
        return np.einsum("bd,btd->bt", q, v)
    if name == "LuongAttention":
        return np.einsum("bd,btd->bt", q, v @ np.asarray(layer.kernel))
    wq, wv = np.asarray(layer.query_kernel), np.asarray(layer.values_kernel)
    hidden = np.tanh((q @ wq)[:, None, :] + v @ wv + np.asarray(layer.bias))
    return hidden @ np.asarray(layer.score_vector)


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_attention_weights_and_context_match_numpy(score: str) -> None:
    import keras

    from suite.blocks.attention import attention

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    q = rng.normal(size=(2, 3)).astype("float32")
    v = rng.normal(size=(2, 4, 3)).astype("float32")
    layer = attention(score, 5, 3)  # type: ignore[arg-type]
    context, weights = layer(q, v, return_attention_scores=True)
    context, weights = np.asarray(context), np.asarray(weights)
    assert weights.shape == (2, 4) and context.shape == (2, 3)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights, _softmax(_expected_scores(layer, q, v)), rtol=1e-5)
    np.testing.assert_allclose(context, np.einsum("bt,btd->bd", weights, v), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_attention_gives_masked_steps_no_weight(score: str) -> None:
    from suite.blocks.attention import attention

    rng = np.random.default_rng(2)
    q = rng.normal(size=(2, 3)).astype("float32")
    v = rng.normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, False], [True, True, True, False]])
    layer = attention(score, 5, 3)  # type: ignore[arg-type]
    _, weights = layer(q, v, values_mask=mask, return_attention_scores=True)
    weights = np.asarray(weights)
    assert np.all(weights[~mask] == 0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    full = _softmax(np.where(mask, _expected_scores(layer, q, v), -np.inf))
    np.testing.assert_allclose(weights, full, rtol=1e-5, atol=1e-7)


def test_attention_over_a_sequence_of_queries() -> None:
    from suite.blocks.attention import LuongAttention

    rng = np.random.default_rng(3)
    q = rng.normal(size=(2, 3, 4)).astype("float32")
    v = rng.normal(size=(2, 5, 4)).astype("float32")
    context, weights = LuongAttention("dot")(q, v, return_attention_scores=True)
    weights = np.asarray(weights)
    assert weights.shape == (2, 3, 5)
    np.testing.assert_allclose(weights, _softmax(np.einsum("bqd,btd->bqt", q, v)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(context), weights @ v, rtol=1e-5, atol=1e-6)


def test_dot_attention_needs_one_width() -> None:
    from suite.blocks.attention import LuongAttention

    q = np.zeros((1, 3), "float32")
    v = np.zeros((1, 4, 5), "float32")
    with pytest.raises(ValueError, match="one width"):
        LuongAttention("dot")(q, v)


def test_last_step_is_the_last_unmasked_step() -> None:
    from suite.blocks.attention import LastStep

    x = np.arange(2 * 4 * 2, dtype="float32").reshape(2, 4, 2)
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    out = np.asarray(LastStep()(x, mask=mask))
    np.testing.assert_array_equal(out, np.stack([x[0, 1], x[1, 3]]))
    np.testing.assert_array_equal(np.asarray(LastStep()(x)), x[:, -1])


def test_attention_pool_output_width() -> None:
    ctx = _features([{"lstm": {"units": 6}}, {"attention_pool": {"concat_query": False}}], (5, 3))
    both = _features([{"lstm": {"units": 6}}, {"attention_pool": {"concat_query": True}}], (5, 3))
    assert tuple(ctx.output.shape) == (None, 6)
    assert tuple(both.output.shape) == (None, 12)


# --- encoder-decoder -----------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["none", "dot", "general", "additive"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_encoder_decoder_outputs_steps_of_units(attention: str, cell: str) -> None:
    params = {"cell": cell, "units": 5, "steps": 7, "attention": attention}
    model = _features([{"encoder_decoder": params}], (6, 3))
    assert tuple(model.output.shape) == (None, 7, 5)
    out = model.predict(_seq(2, 6), verbose=0)
    assert out.shape == (2, 7, 5) and np.isfinite(out).all()


def test_encoder_decoder_attention_adds_the_attention_layer() -> None:
    plain = _features([{"encoder_decoder": {"units": 4, "steps": 3}}], (6, 3))
    attended = _features(
        [{"encoder_decoder": {"units": 4, "steps": 3, "attention": "additive"}}], (6, 3)
    )
    names = {type(layer).__name__ for layer in attended.layers}
    assert "BahdanauAttention" in names
    assert not {"BahdanauAttention", "LuongAttention"} & {type(x).__name__ for x in plain.layers}


# --- saving --------------------------------------------------------------------------------

SAVED_STACK: list[Any] = [
    "masking",
    {"encoder_decoder": {"units": 4, "steps": 3, "attention": "additive"}},
    {"lstm": {"units": 4}},
    {"attention_pool": {"score": "general"}},
]


def _saved(tmp_path: Path) -> tuple[Any, Path, np.ndarray]:
    import keras

    keras.utils.set_random_seed(0)
    model = _model(SAVED_STACK, (6, 3))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = _seq(4, 6)
    x[0, 4:] = 0.0  # a padded example
    model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    path = tmp_path / "attention.keras"
    model.save(path)
    return model, path, x


def test_attention_model_reloads_in_safe_mode(tmp_path: Path) -> None:
    import keras

    model, path, x = _saved(tmp_path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    kinds = {type(layer).__name__ for layer in loaded.layers}
    assert {"BahdanauAttention", "LuongAttention", "LastStep"} <= kinds
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_attention_model_loads_in_a_fresh_process(tmp_path: Path) -> None:
    """The suite's loader registers the custom layers before Keras reads the file."""
    model, path, x = _saved(tmp_path)
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np; from suite.blocks.saved import load_model; "
        "m = load_model(sys.argv[1]); np.save(sys.argv[2], m.predict(np.load(sys.argv[3]), "
        "verbose=0))"
    )
    out = tmp_path / "y.npy"
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(out), str(tmp_path / "x.npy")],
        check=True,
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    np.testing.assert_allclose(np.load(out), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# --- the frames dataset --------------------------------------------------------------------


def _digit_of_image() -> dict[bytes, int]:
    from suite.data.images import digits

    raw = digits()
    return {img.tobytes(): int(y) for img, y in zip(raw.x_train, raw.y_train, strict=True)}


def _sequence_digits(x: np.ndarray, lookup: dict[bytes, int]) -> np.ndarray:
    return np.array([[lookup[frame.tobytes()] for frame in seq] for seq in x])


def test_frames_test_images_never_occur_in_training_sequences() -> None:
    from suite.data.frames import frames

    raw = frames(frames=3, num_sequences=400, seed=1)
    assert raw.x_test is not None
    train = {f.tobytes() for seq in raw.x_train for f in seq}
    test = {f.tobytes() for seq in raw.x_test for f in seq}
    assert train and test and not train & test


@pytest.mark.parametrize("rule", ["sum", "sum_mod_10", "max", "majority"])
def test_frames_labels_follow_the_rule(rule: str) -> None:
    from suite.data.frames import frames

    lookup = _digit_of_image()
    raw = frames(frames=5, num_sequences=300, rule=rule, seed=2)  # type: ignore[arg-type]
    assert raw.x_train.shape[1:] == (5, 8, 8, 1) and raw.x_train.dtype == np.float32
    assert raw.x_test is not None and raw.y_test is not None
    assert len(raw.y_train) + len(raw.y_test) == 300
    for x, y in ((raw.x_train, raw.y_train), (raw.x_test, raw.y_test)):
        d = _sequence_digits(x, lookup)
        expected = {
            "sum": d.sum(axis=1),
            "sum_mod_10": d.sum(axis=1) % 10,
            "max": d.max(axis=1),
            "majority": np.array([np.bincount(s, minlength=10).argmax() for s in d]),
        }[rule]
        np.testing.assert_array_equal(y, expected)
        if rule == "majority":
            assert all(np.bincount(s).max() > len(s) // 2 for s in d)
    assert len(raw.classes) == (46 if rule == "sum" else 10)


def test_frames_is_seeded_and_uses_the_native_test_split() -> None:
    from suite.data import prepare
    from suite.data.frames import frames

    a, b = frames(num_sequences=200, seed=3), frames(num_sequences=200, seed=3)
    c = frames(num_sequences=200, seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    ds = prepare("frames", {"frames": 2, "num_sequences": 200})
    assert ds.meta["test_split"] == "native" and ds.input_shape == (2, 8, 8, 1)
    assert ds.meta["sizes"]["test"] == 50  # the test pool's share of the sequences
