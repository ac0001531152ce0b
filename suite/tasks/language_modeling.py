"""Task `language_modeling`: a softmax over characters at every step of a window.

The loss is the mean cross-entropy per character in nats; `bpc` is that mean in bits
(loss / ln 2) and `perplexity` is exp(loss), both over every character of the split and both
minimized (`search.metric: val_bpc`). After training, the runner logs a text sample the model
generates (`samples/sample.txt`): `sample_length` characters drawn one at a time at
`temperature` from the prime string, each from the last `window` characters (left-padded with
newlines while the text is shorter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suite.tasks.base import TASKS, Task

if TYPE_CHECKING:
    import numpy as np

    from suite.data.base import Dataset


def own_vocabulary(task: Task, data: Dataset, tokenizer: Any) -> Any:
    """`data` as it is: its ids come from its own character vocabulary. A candidate's
    tokenizer is refused rather than ignored."""
    if tokenizer is not None:
        raise ValueError(
            f"task {task.name!r} trains on dataset {data.name!r}'s own character vocabulary "
            f"({len(data.classes)} ids); remove the candidate's tokenizer "
            f"({getattr(tokenizer, 'kind', tokenizer)!r})"
        )
    return Task.inputs(task, data, None)


def bits_per_character(loss: float) -> float:
    """A mean cross-entropy in nats per character, in bits per character."""
    return loss / math.log(2.0)


def perplexity(loss: float) -> float:
    """exp of a mean cross-entropy in nats per token."""
    return math.exp(loss)


def sample_text(
    model: Any,
    vocab: tuple[str, ...],
    prime: str,
    length: int,
    *,
    window: int,
    temperature: float = 1.0,
    seed: int = 0,
) -> str:
    """`prime` followed by `length` characters sampled from `model` at `temperature`.

    Each character is drawn from the softmax at the last step of a forward pass over the last
    `window` characters; unknown prime characters map to id 0.
    """
    import numpy as np

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    index = {c: i for i, c in enumerate(vocab)}
    pad = index.get("\n", 0)
    ids = [index.get(c, 0) for c in prime]
    rng = np.random.default_rng(seed)
    for _ in range(length):
        context = ids[-window:]
        context = [pad] * (window - len(context)) + context
        probs = np.asarray(model.predict_on_batch(np.array([context], dtype=np.int32)))[0, -1]
        logits = np.log(np.maximum(probs.astype(np.float64), 1e-12)) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return "".join(vocab[i] for i in ids)


@dataclass(frozen=True)
class LanguageModeling(Task):
    """Next-token prediction at every step: per-step softmax head, bpc and perplexity."""

    def inputs(self, data: Dataset, tokenizer: Any) -> Any:
        return own_vocabulary(self, data, tokenizer)

    @property
    def metrics(self) -> list[Any]:
        from suite.blocks.tokens import TokenCrossEntropy

        return [
            TokenCrossEntropy("bits", name="bpc"),
            TokenCrossEntropy("perplexity", name="perplexity"),
        ]

    def head(self, x: Any, num_outputs: int) -> Any:
        from keras import layers

        if len(x.shape) != 3:
            raise ValueError(
                f"task {self.name!r} predicts a token at every step, but the last layer outputs "
                f"shape {tuple(x.shape)}; end the model with a recurrent layer that returns "
                "sequences (return_sequences: true)"
            )
        return layers.Dense(num_outputs, activation="softmax", name="head", dtype="float32")(x)

    def dummy_targets(self, n: int, num_outputs: int, input_shape: tuple[int, ...]) -> np.ndarray:
        import numpy as np

        return (np.arange(n * input_shape[0], dtype=np.int64) % num_outputs).reshape(n, -1)

    def artifacts(self, model: Any, data: Dataset) -> dict[str, str]:
        """The generated sample, as `samples/sample.txt` (settings from the dataset's meta)."""
        meta = data.meta
        prime = str(meta.get("prime") or "\n")
        temperature = float(meta.get("temperature", 1.0))  # type: ignore[arg-type]
        length = int(meta.get("sample_length", 300))  # type: ignore[call-overload]
        window = data.input_shape[0]
        text = sample_text(
            model, data.classes, prime, length, window=window, temperature=temperature
        )
        head = f"# prime {prime!r}, temperature {temperature}, seed 0\n"
        return {"samples/sample.txt": head + text + "\n"}


TASKS.register("language_modeling")(
    LanguageModeling(
        name="language_modeling",
        description="next-character prediction over windows (truncated BPTT): per-step "
        "softmax, bits per character and perplexity, a generated sample",
        loss="sparse_categorical_crossentropy",
        metric_names=("bpc", "perplexity"),
        default_metric="val_bpc",
        lower_is_better=frozenset({"bpc", "perplexity"}),
        target="next_token",  # type: ignore[arg-type]
        split="chronological",
        outputs="classes",
    )
)
