"""Task `seq2seq`: token sequences to token sequences, trained with teacher forcing and scored
by exact match under greedy decoding.

Ids: 0 padding, 1 unknown, 2 start, 3 end, then the vocabulary. An example's input stacks
the source and the decoder input, (2, steps); its target is the output followed by the end
token, and the decoder input is that target shifted right behind the start token, so padding
(masked out of the loss and the token accuracy) is where the decoder input is 0.

Greedy decoding runs outside the graph on the same model: starting from the start token, each
step's most likely token is fed back as the next decoder input, until every example has
produced the end token (or padding) or `steps` tokens. `val_exact_match` is computed so at
the end of every epoch (a callback placed before early stopping and the loggers), and
`test_exact_match` (and `test_exact_match_unseen`, on test sources that training never has)
after the seed runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suite.data.pairs import END, PAD, START
from suite.tasks.base import TASKS, Task

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: validating a spec needs no NumPy
    from suite.lazy import numpy as np

if TYPE_CHECKING:
    from suite.data.base import Dataset

DECODE_BATCH = 1024


def trim(ids: np.ndarray) -> tuple[int, ...]:
    """The tokens before the first end token or padding."""
    out = []
    for i in ids.tolist():
        if i in (END, PAD):
            break
        out.append(i)
    return tuple(out)


def greedy_decode(model: Any, sources: np.ndarray, batch_size: int = DECODE_BATCH) -> np.ndarray:
    """Greedy outputs (n, steps) for source ids (n, steps): argmax fed back step by step."""
    n, steps = sources.shape
    dec = np.zeros((n, steps), np.int32)
    dec[:, 0] = START
    out = np.zeros((n, steps), np.int64)
    done = np.zeros(n, bool)
    for t in range(steps):
        # whole chunks every step (finished rows too): one input shape, one traced function
        for a in range(0, n, batch_size):
            rows = slice(a, a + batch_size)
            probs = np.asarray(model.predict_on_batch(np.stack([sources[rows], dec[rows]], 1)))
            nxt = np.where(done[rows], PAD, probs[:, t].argmax(axis=-1))
            out[rows, t] = nxt
            if t + 1 < steps:
                dec[rows, t + 1] = nxt
            done[rows] |= (nxt == END) | (nxt == PAD)
        if done.all():
            break
    return out


def exact_match(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per example: whether the predicted tokens equal the target's up to the end token."""
    return np.array([trim(p) == trim(t) for p, t in zip(pred, target, strict=True)], dtype=bool)


def scores(model: Any, x: np.ndarray, y: np.ndarray, unseen: Any = None) -> dict[str, float]:
    """exact_match of greedy decoding on (x, y), and exact_match_unseen on the rows `unseen`
    marks (sources training never has), when it marks any."""
    hits = exact_match(greedy_decode(model, x[:, 0]), y)
    out = {"exact_match": float(hits.mean()) if len(hits) else float("nan")}
    if isinstance(unseen, np.ndarray) and unseen.any():
        out["exact_match_unseen"] = float(hits[unseen].mean())
    return out


def exact_match_callback(x: np.ndarray, y: np.ndarray, unseen: Any = None) -> Any:
    """A Keras callback adding val_exact_match (and val_exact_match_unseen) to epoch logs."""
    import keras

    class ExactMatch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None:
                logs.update({f"val_{k}": v for k, v in scores(self.model, x, y, unseen).items()})

    return ExactMatch()


def _text(ids: Sequence[int], vocab: tuple[str, ...]) -> str:
    return "".join(vocab[i] for i in ids)


@dataclass(frozen=True)
class Seq2Seq(Task):
    """Encoder-decoder over token ids: per-step softmax head, token accuracy, exact match."""

    def inputs(self, data: Dataset, tokenizer: Any) -> Any:
        from suite.tasks.language_modeling import own_vocabulary

        return own_vocabulary(self, data, tokenizer)

    @property
    def metrics(self) -> list[Any]:
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")]

    def head(self, x: Any, num_outputs: int) -> Any:
        from keras import layers

        if len(x.shape) != 3:
            raise ValueError(
                f"task {self.name!r} predicts a token at every decoder step, but the last layer "
                f"outputs shape {tuple(x.shape)}; end the model with a decoder such as 'seq2seq'"
            )
        return layers.Dense(num_outputs, activation="softmax", name="head", dtype="float32")(x)

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        return (np.arange(n * input_shape[-1], dtype=np.int64) % num_outputs).reshape(n, -1)

    def callbacks(self, data: Dataset) -> list[Any]:
        x, y = np.asarray(data.val.x), np.asarray(data.val.y)
        return [exact_match_callback(x, y, data.meta.get("unseen_val"))]

    def extra_test_metrics(self, model: Any, data: Dataset, batch_size: int) -> dict[str, float]:
        """exact_match on test, and on the test examples whose source training never has."""
        x, y = np.asarray(data.test.x), np.asarray(data.test.y)
        return scores(model, x, y, data.meta.get("unseen_test"))

    def artifacts(self, model: Any, data: Dataset) -> dict[str, str]:
        """Greedy outputs for the first 40 validation examples, `samples/decoded.tsv`."""
        x, y = np.asarray(data.val.x), np.asarray(data.val.y)
        pred = greedy_decode(model, x[:, 0])[:40]  # the whole split: a shape already traced
        x, y = x[:40], y[:40]
        lines = ["source\ttarget\tgreedy\tmatch"]
        for s, t, p in zip(x[:, 0], y, pred, strict=True):
            words = [_text(trim(v), data.classes) for v in (s, t, p)]
            lines.append("\t".join([*words, str(trim(p) == trim(t))]))
        return {"samples/decoded.tsv": "\n".join(lines) + "\n"}


TASKS.register("seq2seq")(
    Seq2Seq(
        name="seq2seq",
        description="sequence to sequence (e.g. lemmatization): teacher-forced encoder-decoder, "
        "per-step softmax, token accuracy, exact match under greedy decoding",
        loss="sparse_categorical_crossentropy",
        metric_names=("token_accuracy", "exact_match", "exact_match_unseen"),
        default_metric="val_exact_match",
        lower_is_better=frozenset(),
        target="text",
        split="random",
        outputs="classes",
    )
)
