"""Load a spec: parse, resolve `extends`, apply `--set` overrides, validate, cross-check."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from suite.spec.document import Document, read
from suite.spec.errors import Loc, Problem, SpecError, describe, doc_loc
from suite.spec.limits import check_total
from suite.spec.space import PathError, format_path, parse_path, set_path


@dataclass
class _Sources:
    """Which file each part of the merged document came from."""

    main: Document
    extended: list[tuple[Loc, Document]] = field(default_factory=list)
    overrides: list[tuple[Loc, str]] = field(default_factory=list)
    merged: Any = None
    nodes: int = 0  # the values of every file read, aliases expanded

    def place(self, problem: Problem) -> Problem:
        loc = doc_loc(self.merged, problem.loc)
        for prefix, text in self.overrides:
            if loc[: len(prefix)] == prefix:
                return Problem(loc, f"{problem.message} (from --set {text})", file=self.main.path)
        found = self.main.mark(loc)
        if found and found[2]:
            return Problem(loc, problem.message, self.main.path, found[0], found[1])
        for prefix, doc in sorted(self.extended, key=lambda e: -len(e[0])):
            if loc[: len(prefix)] == prefix:
                inner = doc.mark(loc[len(prefix) :])
                if inner:
                    return Problem(loc, problem.message, doc.path, inner[0], inner[1])
        line, col = (found[0], found[1]) if found else (None, None)
        return Problem(loc, problem.message, self.main.path, line, col)


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return over


# The specs shipped with the suite: `extends: models/resnet18.yaml` finds them from anywhere.
LIBRARY = Path(__file__).resolve().parents[2] / "specs"


def _extends(node: Any, here: Path, loc: Loc, sources: _Sources, chain: tuple[Path, ...]) -> Any:
    if isinstance(node, list):
        return [_extends(v, here, (*loc, i), sources, chain) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    node = {k: _extends(v, here, (*loc, k), sources, chain) for k, v in node.items()}
    ref = node.get("extends")
    if not isinstance(ref, str):
        return node
    candidates = [(here.parent / ref).resolve(), (LIBRARY / ref).resolve()]
    target = next((c for c in candidates if c.exists()), candidates[0])
    if target in chain:
        cycle = " -> ".join(str(p) for p in (*chain, target))
        raise SpecError([sources.place(Problem((*loc, "extends"), f"circular extends: {cycle}"))])
    if not target.exists():
        raise SpecError(
            [
                sources.place(
                    Problem(
                        (*loc, "extends"),
                        f"file not found: {ref!r} (looked at {candidates[0]} and in the "
                        f"suite's spec library {LIBRARY})",
                    )
                )
            ]
        )
    doc = read(target)
    sources.nodes += doc.nodes
    check_total(sources.main.path, sources.nodes)
    if not isinstance(doc.data, dict):
        raise SpecError([Problem((), "expected a mapping at the top level", file=target)])
    sources.extended.append((loc, doc))
    base = _extends(doc.data, target, loc, sources, (*chain, target))
    merged = _merge(base, {k: v for k, v in node.items() if k != "extends"})
    merged["extends"] = ref
    return merged


def parse_override(text: str) -> tuple[tuple[str | int, ...], Any]:
    """`path=value` with the value read as YAML (numbers, booleans, lists, ...)."""
    import io

    from ruamel.yaml import YAML

    path, sep, raw = text.partition("=")
    if not sep or not path.strip():
        raise SpecError([Problem(("--set",), f"expected path=value, received {text!r}")])
    try:
        path = path.strip()
        head, sep, key = f".{path}".partition(".space.")
        prefix = parse_path(head[1:]) if head else ()
        parts = (*prefix, "space", key) if sep and key else parse_path(path)
        value = YAML(typ="safe", pure=True).load(io.StringIO(raw)) if raw.strip() else ""
    except PathError as e:
        raise SpecError([Problem(("--set",), str(e))]) from None
    except Exception as e:
        raise SpecError([Problem(("--set",), f"cannot read the value of {text!r}: {e}")]) from None
    return parts, value


def _validate(model: Any, data: Any, sources: _Sources) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc, msg = describe(err)  # type: ignore[arg-type]
            problems.append(sources.place(Problem(loc, msg)))
        raise SpecError(problems) from None


def validate_document(model: Any, doc: Document) -> Any:
    """`doc` (one file, no `extends`) validated as `model`; problems name file and line."""
    sources = _Sources(doc)
    sources.merged = doc.data
    return _validate(model, doc.data, sources)


def load_raw(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Any, _Sources]:
    """The merged document of `path` (extends resolved, overrides applied) and its sources."""
    path = Path(path)
    doc = read(path)
    sources = _Sources(doc, nodes=doc.nodes)
    if not isinstance(doc.data, dict):
        raise SpecError([Problem((), "expected a mapping at the top level", file=path, line=1)])
    data = _extends(copy.deepcopy(doc.data), path.resolve(), (), sources, (path.resolve(),))
    for text in overrides:
        parts, value = parse_override(text)
        try:
            set_path(data, parts, value, create=True)
        except PathError as e:
            raise SpecError([Problem(("--set",), str(e))]) from None
        sources.overrides.append((parts, text))
    sources.merged = data
    return data, sources


def _own_name(sources: _Sources) -> None:
    """A benchmark that extends another needs a name of its own: the parent's would put its
    runs into the parent's experiment, mixed with results of another spec."""
    own = sources.main.data
    if "extends" not in own or "name" in own or any(p == ("name",) for p, _ in sources.overrides):
        return
    parent = sources.merged.get("name")
    line = sources.main.mark(("extends",))
    raise SpecError(
        [
            Problem(
                ("name",),
                f"required: a benchmark that extends another needs a name of its own "
                f"(received none, so it would take {parent!r} from {own['extends']!r} and "
                "mix its runs with that benchmark's); add e.g. `name: "
                f"{sources.main.path.stem}`",
                file=sources.main.path,
                line=line[0] if line else None,
                col=line[1] if line else None,
            )
        ]
    )


def is_model_spec(data: Any) -> bool:
    return isinstance(data, dict) and "layers" in data and "candidates" not in data


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Load and fully check a benchmark spec, or a model spec (a file with `layers`)."""
    from suite.spec.checks import check
    from suite.spec.schema import Benchmark, ModelSpec

    data, sources = load_raw(path, overrides)
    if is_model_spec(data):
        return _validate(ModelSpec, data, sources)
    _own_name(sources)
    bench = _validate(Benchmark, data, sources)
    problems = [sources.place(p) for p in check(bench)]
    if problems:
        raise SpecError(problems)
    return bench


def placed(
    error: SpecError, path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> SpecError:
    """`error` with each problem that lacks a file placed in the spec `path` (its file, line
    and the --set it came from): for problems found after loading (suite.spec.errors)."""
    _, sources = load_raw(path, overrides)
    return SpecError([p if p.file is not None else sources.place(p) for p in error.problems])


BUDGET = ("trials", "timeout", "epochs_budget")
# left out of the hash: the budget, and the target metric value (it changes no result)
UNHASHED = (*BUDGET, "target")


def given(value: Any) -> Any:
    """A spec record as JSON with every field equal to its default left out (recursively), so
    a field added later with a default leaves the documents of older specs unchanged.

    A component's name is kept even when all its parameters are defaults (`{flatten: {}}`).
    """
    from pydantic import BaseModel
    from pydantic_core import to_jsonable_python

    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        out = {}
        for name, f in fields.items():
            v = getattr(value, name)
            if len(fields) > 1 and not f.is_required():
                try:
                    if v == f.get_default(call_default_factory=True):
                        continue
                except Exception:  # a default that cannot be built or compared: keep the value
                    pass
            out[f.alias or name] = given(v)
        return out
    if isinstance(value, dict):
        return {str(k): given(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [given(v) for v in value]
    return to_jsonable_python(value)


def _digest(doc: Any) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spec_hash(bench: Any) -> str:
    """Hash of everything that changes results (budget and description excluded), 16 hex
    digits, over the values that differ from their defaults."""
    fields = type(bench.search).model_fields
    unhashed = {k: fields[k].get_default(call_default_factory=True) for k in UNHASHED}
    doc = given(bench.model_copy(update={"search": bench.search.model_copy(update=unhashed)}))
    doc.pop("description", None)
    return _digest(doc)


def legacy_spec_hash(bench: Any) -> str:
    """The hash earlier releases recorded (defaults included, `seeds` then defaulting to 0), to
    recognise their studies."""
    if "seeds" not in bench.model_fields_set:
        bench = bench.model_copy(update={"seeds": 0})
    doc = bench.model_dump(mode="json", by_alias=True)
    for key in UNHASHED:
        doc["search"].pop(key, None)
    doc.pop("description", None)
    return _digest(doc)


__all__ = [
    "SpecError",
    "format_path",
    "legacy_spec_hash",
    "load",
    "load_raw",
    "placed",
    "spec_hash",
]
