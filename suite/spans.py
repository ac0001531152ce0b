"""Entity spans of IOB2 tag sequences and their exact-match precision, recall and F1.

Decoding follows conlleval (and seqeval's default mode): an entity starts at `B-X`, or at an
`I-X` that does not continue an entity of type X (after `O`, or after another type), and runs
over the `I-X` tags that follow. An entity counts as found only when the predicted span has
the same type, the same first token and the same last token as a gold one (exact match);
scores are micro-averaged over every entity of every sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Span = tuple[str, int, int]  # (type, first token, last token), both ends inclusive


def split_tag(tag: str) -> tuple[str, str]:
    """('B' | 'I' | 'O', type) of an IOB2 tag; raises ValueError for anything else."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if sep and prefix in ("B", "I") and kind:
        return prefix, kind
    raise ValueError(f"{tag!r} is not an IOB2 tag (expected 'O', 'B-TYPE' or 'I-TYPE')")


def spans(tags: Sequence[str]) -> list[Span]:
    """The entities of one sentence's tags, in order."""
    out: list[Span] = []
    kind, start = "", -1
    for i, tag in enumerate(tags):
        prefix, t = split_tag(tag)
        if prefix == "I" and start >= 0 and t == kind:
            continue
        if start >= 0:
            out.append((kind, start, i - 1))
        kind, start = (t, i) if prefix != "O" else ("", -1)
    if start >= 0:
        out.append((kind, start, len(tags) - 1))
    return out


@dataclass(frozen=True)
class SpanScore:
    """Counts and micro-averaged scores; precision/recall/F1 are 0 where undefined."""

    correct: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """{prefix}entity_precision, _recall and _f1."""
        return {
            f"{prefix}entity_precision": self.precision,
            f"{prefix}entity_recall": self.recall,
            f"{prefix}entity_f1": self.f1,
        }


def score(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> SpanScore:
    """Exact-match entity counts over paired sentences (same number of tags in each pair)."""
    correct = n_pred = n_gold = 0
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        gs, ps = set(spans(g)), set(spans(p))
        correct += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    return SpanScore(correct, n_pred, n_gold)
