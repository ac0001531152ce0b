"""Expanded candidates and the concrete specs of their trials."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suite.registry import Registry
from suite.spec.base import Strict
from suite.spec.errors import Loc
from suite.spec.schema import Benchmark, MatrixCandidates, ModelSpec, Train
from suite.spec.space import Dim, assign, default_params, parse_path, set_path
from suite.text.spec import TokenizerSpec


class Concrete(Strict):
    """What one trial trains: a model and a training recipe, every value fixed."""

    model: ModelSpec
    train: Train
    tokenizer: TokenizerSpec | None = None  # type: ignore[valid-type]


@dataclass(frozen=True)
class CandidateSpec:
    """One candidate of a benchmark with its whole search space (paths from the candidate)."""

    name: str
    model: ModelSpec
    train: Train
    space: dict[str, Dim]
    loc: Loc  # where the candidate's model stands in the spec
    tokenizer: Any = None  # a TokenizerSpec (text tasks), else None
    tokenizer_name: str | None = None

    def document(self) -> dict[str, Any]:
        doc = {
            "model": self.model.model_dump(mode="json", by_alias=True),
            "train": self.train.model_dump(mode="json", by_alias=True),
        }
        if self.tokenizer is not None:
            doc["tokenizer"] = self.tokenizer.model_dump(mode="json", by_alias=True)
        return doc

    def concrete(self, params: Mapping[str, Any]) -> Concrete:
        """The concrete spec with a trial's `params` applied (branches expanded); validated."""
        doc = self.document()
        for path, value in assign(self.space, params).items():
            set_path(doc, parse_path(path), copy.deepcopy(value))
        return Concrete.model_validate(doc)

    def defaults(self) -> dict[str, Any]:
        """The spec's own value at each searched path, where it lies inside the dimension."""
        return default_params(self.space, self.document())


def candidates(bench: Benchmark) -> list[CandidateSpec]:
    """The benchmark's candidates, in spec order, each with its merged search space."""
    matrix = isinstance(bench.candidates, MatrixCandidates)
    out = []
    for name, (model, tok) in bench.candidate_setups().items():
        model_name, _, tok_name = name.partition("+") if matrix else (name, "", "")
        loc: Loc = (
            ("candidates", "matrix", "model", model_name)
            if matrix
            else ("candidates", name, "model")
        )
        space: dict[str, Dim] = {f"model.{p}": d for p, d in model.space.items()}
        space.update(bench.search.space)
        out.append(CandidateSpec(name, model, bench.train, space, loc, tok, tok_name or None))
    return out


def select(bench: Benchmark, only: Sequence[str] = ()) -> list[CandidateSpec]:
    """The candidates named in `only` (all when empty); a `RegistryError` (a KeyError)
    names an unknown one and the nearest match."""
    all_ = candidates(bench)
    if not only:
        return all_
    names: Registry[CandidateSpec] = Registry("candidate")
    for c in all_:
        names.register(c.name)(c)
    return [names.get(n) for n in only]
