"""Bad parameter values are spec errors, never tracebacks.

Every registered dataset, block and tokenizer is walked: each parameter gets a value of the
wrong type and, where its declaration has a bound, a value just outside it (and the bound
itself, which must pass). The bulk goes through `suite.spec.load.load`, the function
`suite validate` calls; a few real `python -m suite.cli` runs check the exit code and that no
traceback is printed, including errors that only show once the data is loaded or a model
built (the dry run). Validation needs no data files, so nothing here needs ../shared.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import pytest
from pydantic.fields import FieldInfo

from suite.blocks import BLOCKS, One, Stack
from suite.blocks.base import EXAMPLES
from suite.data import DATASETS
from suite.spec.errors import Loc, SpecError
from suite.spec.load import load
from suite.spec.schema import DataCommon
from suite.spec.signature import params_model, relations, tag_of
from suite.text.spec import TOKENIZERS, TokenizerCommon

ROOT = Path(__file__).resolve().parents[1]

# --- what a declaration says ---------------------------------------------------------------------


def _meta(items: Any) -> list[Any]:
    out: list[Any] = []
    for m in items:
        out.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return out


def _core(ann: Any) -> tuple[Any, list[Any]]:
    """(the annotation without Annotated/None, its bounds): `Pos | None` -> (int, [Ge(1)])."""
    if get_origin(ann) is Annotated:
        base, *meta = get_args(ann)
        inner, more = _core(base)
        return inner, _meta(meta) + more
    if get_origin(ann) in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return _core(args[0])
    return ann, []


def _wrong_type(ann: Any) -> Any:
    """A value of another type than `ann` accepts (a YAML-able one)."""
    core, _ = _core(ann)
    if core in (int, float, bool) or get_origin(core) in (list, tuple) or core is Stack:
        return "not-a-number-or-list"
    if core is str:
        return [1, 2]
    if get_origin(core) is Literal:
        return "no-such-option"
    if core is One:
        return 5
    if core is Any:
        raise AssertionError(f"an untyped parameter ({ann}): declare its type")
    return {"wrong": [1]}  # unions: no member takes a mapping


def _outside(ann: Any, extra: list[Any]) -> Iterator[tuple[Any, Any]]:
    """(a value just outside each declared bound, the bound's own value if inside)."""
    core, meta = _core(ann)
    meta = meta + extra
    integral = core is int
    step = 1 if integral else 1e-6
    for m in meta:
        if isinstance(m, at.Ge):
            yield m.ge - step, m.ge
        elif isinstance(m, at.Gt):
            yield m.gt, m.gt + step
        elif isinstance(m, at.Le):
            yield m.le + step, m.le
        elif isinstance(m, at.Lt):
            yield m.lt, m.lt - step
        elif isinstance(m, at.MinLen) and core is str and m.min_length == 1:
            yield "", "x"


# --- the components and their specs -------------------------------------------------------------


def _params(fn: Callable[..., Any], family: str) -> dict[str, tuple[Any, list[Any]]]:
    """name -> (annotation with its bounds, no further bounds) of `fn`'s parameters."""
    model = params_model(fn, f"test.{family}")  # the parameters the schema has
    hints = typing.get_type_hints(fn, include_extras=True)
    return {k: (hints.get(k, Any), []) for k in model.model_fields}


def _block_base(name: str) -> dict[str, Any]:
    """The block's parameters in its registered example (its required ones are there)."""
    for layer in EXAMPLES[name][1]:
        if tag_of(layer) == name:
            return dict(layer[name] or {}) if isinstance(layer, dict) else {}
    return {}


REQUIRED_DATA = {"path": "data.csv"}  # validation does not open the file


def _cases() -> list[tuple[str, str, str, Any, Any]]:
    """(family, component, parameter, annotation, field bounds) for every parameter."""
    out = []
    for family, reg in (("data", DATASETS), ("block", BLOCKS), ("tokenizer", TOKENIZERS)):
        for name, fn in reg.items():
            for param, (ann, extra) in _params(fn, family).items():
                out.append((family, name, param, ann, extra))
    for param, field in DataCommon.model_fields.items():
        out.append(("data", "mnist1d", param, field.annotation, list(field.metadata)))
    for param, field in TokenizerCommon.model_fields.items():
        if param != "reserved":
            out.append(("tokenizer", "char", param, field.annotation, list(field.metadata)))
    return out


CASES = _cases()


def _spec(tmp: Path, family: str, name: str) -> tuple[Path, Loc]:
    """A valid spec using component `name`, and where its parameters stand."""
    if family == "block":
        file = tmp / f"block-{name}.yaml"
        doc: dict[str, Any] = {"layers": [{name: _block_base(name)}, "flatten"]}
        if "layers" in doc["layers"][0][name] or name == "time_distributed":
            doc["layers"] = [doc["layers"][0]]
        loc: Loc = ("layers", 0, name)
    elif family == "data":
        file = tmp / f"data-{name}.yaml"
        params = {
            k: v
            for k, v in REQUIRED_DATA.items()
            if k in inspect.signature(DATASETS.get(name)).parameters
        }
        doc = {
            "name": "t",
            "data": {"name": name, **params},
            "candidates": {"m": {"model": {"layers": ["flatten"]}}},
        }
        loc = ("data",)
    else:
        file = tmp / f"tok-{name}.yaml"
        doc = {
            "name": "t",
            "task": "text_classification",
            "data": {"name": "sst2"},
            "candidates": {"m": {"model": {"layers": ["flatten"]}, "tokenizer": {"kind": name}}},
        }
        loc = ("candidates", "m", "tokenizer")
    if not file.exists():
        file.write_text(json.dumps(doc), encoding="utf-8")
    return file, loc


def _path(loc: Loc) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _problems(file: Path, override: str) -> list[tuple[Loc, str]]:
    try:
        load(file, [override])
    except SpecError as e:
        return [(p.loc, str(p)) for p in e.problems]
    return []


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad-values")


def test_every_component_has_parameters_to_walk() -> None:
    families = {f for f, *_ in CASES}
    assert families == {"data", "block", "tokenizer"}
    walked = {(f, n) for f, n, *_ in CASES}
    assert len({n for f, n in walked if f == "data"}) >= len(DATASETS) - 12  # some have none
    assert sum(1 for f, *_ in CASES if f == "block") > 150


@pytest.mark.parametrize(
    ("family", "name", "param", "ann", "extra"),
    CASES,
    ids=[f"{f}-{n}-{p}" for f, n, p, *_ in CASES],
)
def test_wrong_type_and_out_of_bounds_values_name_the_parameter(
    specs: Path, family: str, name: str, param: str, ann: Any, extra: list[Any]
) -> None:
    file, loc = _spec(specs, family, name)
    where = (*loc, param)
    bad = [_wrong_type(ann), *(out for out, _ in _outside(ann, extra))]
    for value in bad:
        override = f"{_path(where)}={json.dumps(value)}"
        found = _problems(file, override)
        assert any(p[: len(where)] == where for p, _ in found), (override, found)
        assert all("Traceback" not in text for _, text in found)
    for _, inside in _outside(ann, extra):
        override = f"{_path(where)}={json.dumps(inside)}"
        refused = [t for p, t in _problems(file, override) if p[: len(where)] == where]
        # the bound itself is allowed; only a declared relation may refuse it with the defaults
        assert all("greater" not in t and "less" not in t for t in refused), (override, refused)


# --- the bodies trust their declarations --------------------------------------------------------


def _own_checks(fn: Callable[..., Any]) -> list[str]:
    """`if <only fn's parameters>: raise ...` in fn's own body (nested functions excluded)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn))))
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    params = {a.arg for a in func.args.args + func.args.kwonlyargs}
    found = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.If) and any(isinstance(s, ast.Raise) for s in child.body):
                names = {n.id for n in ast.walk(child.test) if isinstance(n, ast.Name)}
                if names and names <= params:
                    found.append(ast.unparse(child.test))
            visit(child)

    visit(func)
    return found


def test_no_loader_block_or_tokenizer_body_checks_its_own_arguments() -> None:
    offenders = {
        f"{name}: if {test}"
        for reg in (DATASETS, BLOCKS, TOKENIZERS)
        for name, fn in reg.items()
        for test in _own_checks(fn)
    }
    assert not offenders, (
        "declare these in the signature (Field bounds or relation):\n"
        + "\n".join(sorted(offenders))
    )


def test_the_scan_finds_a_body_check() -> None:
    def loader(num_samples: int = 5000) -> None:
        if num_samples < 20:
            raise ValueError("too few")

    assert _own_checks(loader) == ["num_samples < 20"]


def test_relations_run_with_defaults_and_name_their_parameter(specs: Path) -> None:
    file = specs / "fcn-defaults.yaml"
    file.write_text("layers: [{fcn: {}}]\n", encoding="utf-8")
    found = _problems(file, "layers[0].fcn.stages=2")  # skips=2 by default
    assert [p for p, _ in found] == [("layers", 0, "fcn", "skips")]
    assert "skips must be less than stages (2)" in found[0][1]
    assert _problems(file, "layers[0].fcn.stages=3") == []
    for name, fn in [*BLOCKS.items(), *DATASETS.items()]:  # each relation names a parameter
        assert {p for p, _ in relations(fn)} <= set(inspect.signature(fn).parameters), name


# --- as a user runs it --------------------------------------------------------------------------


def _cli(*args: str, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(tmp / "results"), **env}
    full.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "suite.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full,
        timeout=300,
    )


def _refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def test_quickstart_with_a_negative_sample_count_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    proc = _cli(
        "run", "specs/quickstart.yaml", "--set", "data.num_samples=-7", "--dry-run", tmp=tmp_path
    )
    _refused(proc, "data.num_samples", "greater than or equal to 20", "received -7")
    assert len(proc.stderr.strip().splitlines()) <= 3
    proc = _cli("validate", "specs/quickstart.yaml", "--set", "data.num_samples=-7", tmp=tmp_path)
    _refused(proc, "data.num_samples")


def test_validate_names_a_bad_block_parameter_and_a_broken_relation(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "layers:\n  - fcn: {stages: 2}\n  - conv1d: {filters: many}\n", encoding="utf-8"
    )
    proc = _cli("validate", str(spec), tmp=tmp_path)
    _refused(proc, f"{spec}:2:", "layers[0].fcn.skips", f"{spec}:3:", "layers[1].conv1d.filters")


def test_data_that_fails_to_load_is_reported_at_its_parameter(tmp_path: Path) -> None:
    spec = tmp_path / "u.yaml"
    spec.write_text(
        "name: u\ndata: {name: ucr, problem: NoSuchProblem}\n"
        "candidates:\n  m:\n    model:\n      layers: [flatten]\n",
        encoding="utf-8",
    )
    assert _cli("validate", str(spec), tmp=tmp_path).returncode == 0  # only loading tells
    proc = _cli("run", str(spec), "--dry-run", tmp=tmp_path, SUITE_DATA_DIR=str(tmp_path))
    _refused(proc, f"{spec}:2:", "data.problem", "no problem 'NoSuchProblem'")


def test_a_model_that_cannot_be_built_is_reported_at_its_layer(tmp_path: Path) -> None:
    spec = tmp_path / "b.yaml"
    spec.write_text(
        "name: b\ndata: {name: digits}\ncandidates:\n  m:\n    model:\n"
        "      layers:\n        - flatten\n        - conv2d: {filters: 4}\n",
        encoding="utf-8",
    )
    proc = _cli("run", str(spec), "--dry-run", tmp=tmp_path)
    _refused(proc, f"{spec}:8:", "candidates.m.model.layers[1].conv2d", "on input of shape")


def test_errors_while_loading_become_spec_problems_at_the_named_parameter() -> None:
    from suite.spec.errors import reported_at

    with pytest.raises(SpecError) as err, reported_at(("data",), ["window", "horizon"]):
        raise ValueError("window=500 is longer than the series")
    assert [p.loc for p in err.value.problems] == [("data", "window")]
    with pytest.raises(SpecError) as err, reported_at(("data",), ["window"]):
        raise ZeroDivisionError("division by zero")
    assert str(err.value.problems[0]) == "data: ZeroDivisionError: division by zero"
