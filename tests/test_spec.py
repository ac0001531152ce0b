"""Spec loading through the Python API: every user error names file, line, path and fix.

Each test writes a small spec into tmp_path (the valid `BASE` benchmark, edited) and
asserts where the problem is reported (exact line, computed from the written text) and
what the message says. No TensorFlow, no training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from suite.registry import Registry, RegistryError
from suite.spec.candidates import candidates
from suite.spec.errors import Problem, SpecError
from suite.spec.load import load, spec_hash
from suite.spec.schema import Benchmark, ModelSpec
from suite.spec.space import PathError, format_path, parse_path

# A valid benchmark (like specs/quickstart.yaml, on the small `digits` dataset, models inline).
BASE = """\
name: t
description: a small benchmark for the tests
task: classification
data: {name: digits, val_fraction: 0.2}
candidates:
  cnn:
    model:
      family: cnn
      layers:
        - conv1d: {filters: 16, kernel_size: 3}
        - global_avg_pool
        - dense: {units: 32}
      space:
        layers[0].conv1d.filters: {int: [8, 32]}
  rnn:
    model:
      family: rnn
      layers:
        - lstm: {units: 16}
train:
  epochs: 2
  batch_size: 32
  optimizer: {adam: {learning_rate: 1.0e-3}}
search:
  trials: 2
  sampler: {tpe: {n_startup_trials: 1}}
  pruner: {median: {n_startup_trials: 1}}
  metric: val_accuracy
  space:
    train.optimizer.adam.learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
"""

MODEL = """\
family: cnn
description: from a model file
layers:
  - conv1d: {filters: 16, kernel_size: 3}
  - global_avg_pool
space:
  layers[0].conv1d.filters: {int: [8, 32]}
"""


def edit(text: str, *edits: tuple[str, str]) -> str:
    """Replace each `old` (which must occur exactly once) with `new`."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the template"
        text = text.replace(old, new)
    return text


def write(
    folder: Path, *edits: tuple[str, str], name: str = "bench.yaml", text: str = BASE
) -> Path:
    """Write `text` (default: the base benchmark) with `edits` applied into `folder/name`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(edit(text, *edits), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the only line of `path` that contains `needle`."""
    lines = [i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln]
    assert len(lines) == 1, f"{needle!r} is on lines {lines} of {path}"
    return lines[0]


def problems(path: Path, overrides: tuple[str, ...] = ()) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        load(path, overrides)
    assert info.value.problems, "a SpecError must carry at least one problem"
    return info.value.problems


def one_problem(path: Path, overrides: tuple[str, ...] = ()) -> Problem:
    found = problems(path, overrides)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


# ---------------------------------------------------------------------------- the base


def test_base_spec_is_valid(tmp_path: Path) -> None:
    bench = load(write(tmp_path))
    assert isinstance(bench, Benchmark)
    assert [c.name for c in candidates(bench)] == ["cnn", "rnn"]
    assert bench.data.name == "digits"
    assert bench.train.epochs == 2
    assert bench.search.resolved_direction == "maximize"


def test_problem_str_is_file_line_col_path_message() -> None:
    p = Problem(("a", 0, "b"), "expected x, received y", Path("f.yaml"), 3, 4)
    assert str(p) == "f.yaml:3:4: a[0].b: expected x, received y"
    assert str(Problem(("a",), "m", Path("f.yaml"))) == "f.yaml: a: m"
    assert str(Problem((), "m", Path("f.yaml"), 2)) == "f.yaml:2:1: m"
    assert str(Problem((), "m")) == "m"
    err = SpecError([p, Problem((), "m")])
    assert str(err).splitlines() == ["2 problems in the spec:", f"  {p}", "  m"]


# ---------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, ("search:", "serach:"))
    p = one_problem(path)
    assert p.loc == ("serach",)
    assert (p.file, p.line, p.col) == (path, line_of(path, "serach:"), 1)
    assert "unknown key 'serach'" in p.message
    assert "did you mean 'search'?" in p.message
    assert "Expected one of: candidates, data, description" in p.message
    assert str(p).startswith(f"{path}:{p.line}:1: serach: unknown key")


def test_unknown_key_in_block_params_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, ("{filters: 16,", "{filtres: 16,"))
    p = one_problem(path)
    assert p.file == path
    assert p.line == line_of(path, "filtres")
    assert p.col == path.read_text().splitlines()[p.line - 1].index("filtres") + 1
    assert p.loc[-1] == "filtres"
    assert "cnn" in p.loc
    assert "unknown key 'filtres'; did you mean 'filters'?" in p.message
    assert "kernel_size" in p.message  # the valid keys are listed


def test_unknown_key_in_block_params_path_is_the_spec_path(tmp_path: Path) -> None:
    p = one_problem(write(tmp_path, ("{filters: 16,", "{filtres: 16,")))
    assert format_path(p.loc) == "candidates.cnn.model.layers[0].conv1d.filtres"


def test_dataset_option_path_is_the_spec_path(tmp_path: Path) -> None:
    p = one_problem(write(tmp_path, ("val_fraction: 0.2", "val_fraction: 1.5")))
    assert p.loc == ("data", "val_fraction")


def test_unknown_key_in_nested_record(tmp_path: Path) -> None:
    path = write(tmp_path, ("  batch_size: 32", "  early_stopping: {patiense: 2}"))
    p = one_problem(path)
    assert p.loc == ("train", "early_stopping", "patiense")
    assert p.line == line_of(path, "patiense")
    assert "did you mean 'patience'?" in p.message


# ------------------------------------------------------------------ types and ranges


def test_wrong_type_shows_expected_and_received(tmp_path: Path) -> None:
    path = write(tmp_path, ("epochs: 2", "epochs: many"))
    p = one_problem(path)
    assert p.loc == ("train", "epochs")
    assert (p.line, p.col) == (line_of(path, "epochs: many"), 3)
    assert "expected a valid integer" in p.message
    assert "received 'many'" in p.message


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected", "received"),
    [
        ("{filters: 16,", "{filters: 0,", "filters: 0", "greater than or equal to 1", "0"),
        ("val_fraction: 0.2", "val_fraction: 1.5", "val_fraction", "less than 1", "1.5"),
        ("batch_size: 32", "batch_size: -4", "batch_size", "greater than or equal to 1", "-4"),
    ],
    ids=["filters=0", "val_fraction=1.5", "batch_size=-4"],
)
def test_out_of_range(
    tmp_path: Path, old: str, new: str, needle: str, expected: str, received: str
) -> None:
    path = write(tmp_path, (old, new))
    p = one_problem(path)
    assert p.file == path
    assert p.line == line_of(path, needle)
    assert p.loc[-1] == new.strip("{").split(":")[0]
    assert f"expected {expected}" in p.message
    assert p.message.endswith(f"received {received}")


def test_negative_seeds_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ("name: t\n", "name: t\nseeds: -1\n"))
    p = one_problem(path)
    assert p.loc == ("seeds",)
    assert p.line == line_of(path, "seeds:")
    assert "seeds must be >= 0" in p.message


# --------------------------------------------------------------- unknown components


def test_unknown_block_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, ("- conv1d:", "- conv1x:"))
    p = one_problem(path)
    assert p.line == line_of(path, "conv1x")
    assert p.loc[-1] == 0 and "cnn" in p.loc
    assert "unknown block 'conv1x'. Did you mean 'conv1d'?" in p.message
    assert "lstm" in p.message  # the known blocks are listed


def test_layer_with_two_block_keys(tmp_path: Path) -> None:
    path = write(tmp_path, ("- lstm: {units: 16}", "- {lstm: {units: 16}, gru: {units: 8}}"))
    p = one_problem(path)
    assert p.line == line_of(path, "gru: {units: 8}")
    assert "rnn" in p.loc
    assert "expected exactly one block name as the key" in p.message
    assert "received keys: lstm, gru" in p.message


def test_unknown_dataset_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, ("name: digits", "name: digts"))
    p = one_problem(path)
    assert p.loc == ("data", "name")
    assert (p.line, p.col) == (line_of(path, "digts"), 8)
    assert "'digts'" in p.message
    assert "Did you mean 'digits'?" in p.message
    assert "mnist1d" in p.message


def test_unknown_task_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, ("task: classification", "task: clasification"))
    p = one_problem(path)
    assert p.loc == ("task",)
    assert p.line == line_of(path, "clasification")
    assert "unknown task 'clasification'. Did you mean 'classification'?" in p.message


@pytest.mark.parametrize(
    ("old", "new", "loc", "family", "typo", "right"),
    [
        ("sampler: {tpe:", "sampler: {tpee:", ("search", "sampler"), "sampler", "tpee", "tpe"),
        (
            "pruner: {median:",
            "pruner: {medain:",
            ("search", "pruner"),
            "pruner",
            "medain",
            "median",
        ),
        (
            "optimizer: {adam:",
            "optimizer: {adma:",
            ("train", "optimizer"),
            "optimizer",
            "adma",
            "adam",
        ),
    ],
    ids=["sampler", "pruner", "optimizer"],
)
def test_unknown_component_did_you_mean(
    tmp_path: Path, old: str, new: str, loc: tuple[str, ...], family: str, typo: str, right: str
) -> None:
    path = write(tmp_path, (old, new))
    found = problems(path)
    # the unknown optimizer also makes the shared search path unreachable: no extra noise
    assert len(found) == 1, "\n".join(map(str, found))
    p = found[0]
    assert p.loc == loc
    assert p.line == line_of(path, typo)
    assert f"unknown {family} '{typo}'. Did you mean '{right}'?" in p.message


def test_bare_component_name_is_accepted(tmp_path: Path) -> None:
    bench = load(write(tmp_path, ("pruner: {median: {n_startup_trials: 1}}", "pruner: none")))
    assert type(bench.search.pruner).model_fields.keys() == {"none"}


# -------------------------------------------------------------------- search spaces


def test_search_path_missing_in_candidate(tmp_path: Path) -> None:
    path = write(tmp_path, ("layers[0].conv1d.filters:", "layers[0].conv1d.filterz:"))
    p = one_problem(path)
    assert p.loc == ("candidates", "cnn", "model", "space", "layers[0].conv1d.filterz")
    assert p.line == line_of(path, "filterz")
    assert "candidate 'cnn'" in p.message
    assert "'filterz' is not in model.layers[0].conv1d" in p.message
    assert "filters" in p.message  # what is there


def test_shared_search_path_checked_in_every_candidate(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        (
            "train.optimizer.adam.learning_rate: {float: [1.0e-4, 1.0e-2], log: true}",
            "model.layers[0].lstm.units: {int: [4, 8]}",
        ),
    )
    p = one_problem(path)  # valid for 'rnn', not for 'cnn'
    assert p.loc == ("search", "space", "model.layers[0].lstm.units")
    assert p.line == line_of(path, "lstm.units")
    assert "candidate 'cnn'" in p.message and "'lstm'" in p.message


def test_shared_search_path_missing_everywhere_names_each_candidate(tmp_path: Path) -> None:
    path = write(tmp_path, ("adam.learning_rate: {float", "adam.lr: {float"))
    found = problems(path)
    assert {p.line for p in found} == {line_of(path, "adam.lr")}
    assert sorted(p.message.split("'")[1] for p in found) == ["cnn", "rnn"]
    assert all("'lr' is not in train.optimizer.adam" in p.message for p in found)


def test_dimension_with_invalid_edge_value(tmp_path: Path) -> None:
    path = write(tmp_path, ("{int: [8, 32]}", "{int: [0, 8]}"))
    p = one_problem(path)
    assert p.loc == ("candidates", "cnn", "model", "space", "layers[0].conv1d.filters")
    assert p.line == line_of(path, "{int: [0, 8]}")
    assert "candidate 'cnn': the value 0 of this dimension is invalid" in p.message
    assert "filters" in p.message and "greater than or equal to 1" in p.message


def test_dimension_low_greater_than_high(tmp_path: Path) -> None:
    path = write(tmp_path, ("{int: [8, 32]}", "{int: [5, 1]}"))
    p = one_problem(path)
    assert p.line == line_of(path, "{int: [5, 1]}")
    assert "layers[0].conv1d.filters" in p.loc
    assert "low must be <= high, received [5, 1]" in p.message


def test_log_dimension_needs_positive_low(tmp_path: Path) -> None:
    path = write(tmp_path, ("[1.0e-4, 1.0e-2], log: true", "[0.0, 1.0e-2], log: true"))
    p = one_problem(path)
    assert p.line == line_of(path, "log: true")
    assert p.loc[:3] == ("search", "space", "train.optimizer.adam.learning_rate")
    assert "log scale needs low > 0, received low=0.0" in p.message


def test_malformed_dimension(tmp_path: Path) -> None:
    path = write(tmp_path, ("{int: [8, 32]}", "{between: [1, 2]}"))
    p = one_problem(path)
    assert p.line == line_of(path, "between")
    assert p.loc[-1] == "layers[0].conv1d.filters"
    assert "a search dimension is {int: [low, high]}, {float: [low, high]}" in p.message
    assert "{choice: [a, b, ...]}" in p.message


def test_unknown_key_in_dimension(tmp_path: Path) -> None:
    path = write(tmp_path, ("{int: [8, 32]}", "{int: [8, 32], lgo: true}"))
    p = one_problem(path)
    assert p.line == line_of(path, "lgo")
    assert "did you mean 'log'?" in p.message


def test_non_val_metric_hints_val_metric(tmp_path: Path) -> None:
    path = write(tmp_path, ("metric: val_accuracy", "metric: accuracy"))
    p = one_problem(path)
    assert p.loc == ("search", "metric")
    assert (p.file, p.line) == (path, line_of(path, "metric: accuracy"))
    assert "expected a val_ metric, received 'accuracy'" in p.message
    assert "(use 'val_accuracy')" in p.message


def test_unknown_metric_lists_val_metrics(tmp_path: Path) -> None:
    path = write(tmp_path, ("metric: val_accuracy", "metric: val_acc"))
    p = one_problem(path)
    assert p.line == line_of(path, "val_acc")
    assert "unknown metric 'val_acc'; expected one of: val_loss, val_accuracy" in p.message


# ----------------------------------------------------------------------------- YAML


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, ("epochs: 2", "epochs: 2: 3"))
    p = one_problem(path)
    assert (p.file, p.line, p.col) == (path, line_of(path, "epochs: 2: 3"), 12)
    assert p.message.startswith("YAML error:")
    assert "mapping values are not allowed here" in p.message


def test_duplicate_key_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ("  batch_size: 32\n", "  batch_size: 32\n  batch_size: 16\n"))
    p = one_problem(path)
    assert p.file == path
    assert p.line == line_of(path, "batch_size: 16")
    assert 'duplicate key "batch_size"' in p.message


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.makedirs ['{target}']",
        "!!python/object/apply:os.system ['mkdir {target}']",
        "!!python/object/new:pathlib.Path ['{target}']",
        "!!python/name:os.system",
        "!!python/object/apply:subprocess.check_call [[mkdir, '{target}']]",
    ],
    ids=["makedirs", "os.system", "object/new", "name", "subprocess"],
)
def test_python_tags_are_refused_and_never_run(tmp_path: Path, value: str) -> None:
    target = tmp_path / "created_by_yaml"
    path = write(tmp_path, ("epochs: 2", "epochs: " + value.format(target=target)))
    p = one_problem(path)
    assert not target.exists(), "a YAML tag ran code"
    assert (p.file, p.line) == (path, line_of(path, "epochs: !!python"))
    assert "tags are not allowed in specs" in p.message


def test_custom_tag_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ("epochs: 2", "epochs: !foo 2"))
    p = one_problem(path)
    assert p.line == line_of(path, "!foo")
    assert "tags are not allowed in specs" in p.message and "'!foo'" in p.message


@pytest.mark.parametrize("text", ["- a\n- b\n", "", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    p = one_problem(path)
    assert p.file == path
    assert "expected a mapping at the top level" in p.message


def test_missing_file(tmp_path: Path) -> None:
    p = one_problem(tmp_path / "nope.yaml")
    assert p.file == tmp_path / "nope.yaml"
    assert p.message == "file not found"


# ----------------------------------------------------------------------------- JSON


def test_json_spec_loads_like_the_yaml(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    yaml_path = write(tmp_path)
    data = YAML(typ="safe").load(yaml_path)
    json_path = tmp_path / "bench.json"
    json_path.write_text(json.dumps(data, indent=2))
    from_yaml, from_json = load(yaml_path), load(json_path)
    assert from_json.model_dump() == from_yaml.model_dump()
    assert spec_hash(from_json) == spec_hash(from_yaml)


def test_json_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text('{\n  "name": "t",\n  "train": {"epochs": 3,}\n}\n')
    p = one_problem(path)
    assert (p.file, p.line) == (path, 3)
    assert p.col is not None and p.col > 1
    assert p.message.startswith("JSON syntax error:")


def test_json_schema_error_has_line(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(write(tmp_path))
    data["train"]["epochs"] = "many"
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data, indent=2))
    p = one_problem(path)
    assert p.loc == ("train", "epochs")
    assert (p.file, p.line) == (path, line_of(path, '"epochs": "many"'))
    assert "received 'many'" in p.message


# -------------------------------------------------------------------------- extends


def model_bench(folder: Path, model_ref: str, extra: str = "") -> Path:
    """A benchmark whose single candidate `cnn` extends `model_ref`."""
    text = edit(
        BASE,
        (
            "      family: cnn\n"
            "      layers:\n"
            "        - conv1d: {filters: 16, kernel_size: 3}\n"
            "        - global_avg_pool\n"
            "        - dense: {units: 32}\n"
            "      space:\n"
            "        layers[0].conv1d.filters: {int: [8, 32]}\n",
            f"      extends: {model_ref}\n{extra}",
        ),
    )
    return write(folder, text=text)


def test_extends_merges_model_file(tmp_path: Path) -> None:
    write(tmp_path, name="models/cnn.yaml", text=MODEL)
    path = model_bench(tmp_path, "models/cnn.yaml", "      family: mine\n")
    bench = load(path)
    model = bench.candidate_models()["cnn"]
    assert model.family == "mine"  # the benchmark's key wins
    assert model.description == "from a model file"  # the file's keys stay
    assert len(model.layers) == 2
    assert list(model.space) == ["layers[0].conv1d.filters"]
    assert model.extends == "models/cnn.yaml"
    assert bench.candidate_models()["rnn"].family == "rnn"


def test_extends_merges_nested_mappings(tmp_path: Path) -> None:
    write(tmp_path, name="models/cnn.yaml", text=MODEL)
    path = model_bench(
        tmp_path,
        "models/cnn.yaml",
        "      space:\n        layers[0].conv1d.kernel_size: {int: [3, 7]}\n",
    )
    model = load(path).candidate_models()["cnn"]
    assert list(model.space) == ["layers[0].conv1d.filters", "layers[0].conv1d.kernel_size"]


def test_model_spec_file_loads_as_model_spec(tmp_path: Path) -> None:
    spec = load(write(tmp_path, name="cnn.yaml", text=MODEL))
    assert isinstance(spec, ModelSpec)
    assert spec.family == "cnn"
    assert len(spec.layers) == 2


def test_model_spec_file_error_has_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, ("{filters: 16,", "{filters: 16, strides: 0,"), name="m.yaml", text=MODEL
    )
    p = one_problem(path)
    assert (p.file, p.line) == (path, line_of(path, "strides"))
    assert p.loc[0] == "layers" and p.loc[-1] == "strides"
    assert "greater than or equal to 1" in p.message


def test_missing_extends_file(tmp_path: Path) -> None:
    path = model_bench(tmp_path, "models/nope.yaml")
    p = one_problem(path)
    assert p.loc == ("candidates", "cnn", "model", "extends")
    assert (p.file, p.line) == (path, line_of(path, "extends:"))
    assert "file not found: 'models/nope.yaml'" in p.message
    assert str(tmp_path / "models" / "nope.yaml") in p.message


def test_extends_falls_back_to_the_suite_library(tmp_path: Path) -> None:
    """A spec outside the repository can extend the suite's own model specs."""
    from suite.spec.load import LIBRARY

    path = model_bench(tmp_path, "models/gru.yaml")
    bench = load(path)
    model = bench.candidate_models()["cnn"]
    assert model == load(LIBRARY / "models" / "gru.yaml").model_copy(
        update={"extends": "models/gru.yaml"}
    )


def test_circular_extends(tmp_path: Path) -> None:
    write(tmp_path, name="a.yaml", text="extends: b.yaml\nfamily: a\n")
    write(tmp_path, name="b.yaml", text="family: b\nextends: a.yaml\n")
    path = model_bench(tmp_path, "a.yaml")
    p = one_problem(path)
    assert p.file == path
    assert p.line == line_of(path, "extends: a.yaml")
    assert "circular extends" in p.message
    assert p.message.count("a.yaml") == 2 and "b.yaml" in p.message


def test_circular_extends_of_the_loaded_file(tmp_path: Path) -> None:
    a = write(tmp_path, name="a.yaml", text="family: a\nextends: b.yaml\n")
    write(tmp_path, name="b.yaml", text="extends: a.yaml\n")
    p = one_problem(a)
    assert (p.file, p.line) == (a, 2)
    assert f"circular extends: {a.resolve()} -> " in p.message


def test_extended_file_syntax_error_names_that_file(tmp_path: Path) -> None:
    model = write(tmp_path, ("family: cnn", "family: cnn: x"), name="models/cnn.yaml", text=MODEL)
    p = one_problem(model_bench(tmp_path, "models/cnn.yaml"))
    assert (p.file, p.line) == (model, 1)
    assert "YAML error" in p.message


def test_extended_file_check_error_names_that_file(tmp_path: Path) -> None:
    model = write(tmp_path, ("filters: {int", "filterz: {int"), name="models/cnn.yaml", text=MODEL)
    p = one_problem(model_bench(tmp_path, "models/cnn.yaml"))
    assert p.file == model.resolve()
    assert p.line == line_of(model, "filterz")
    assert "'filterz' is not in" in p.message


def test_extended_file_schema_error_names_that_file(tmp_path: Path) -> None:
    model = write(tmp_path, ("{filters: 16,", "{filtres: 16,"), name="models/cnn.yaml", text=MODEL)
    p = one_problem(model_bench(tmp_path, "models/cnn.yaml"))
    assert "did you mean 'filters'?" in p.message
    assert (p.file, p.line) == (model.resolve(), line_of(model, "filtres"))


# ------------------------------------------------------------------- --set overrides


def test_set_int(tmp_path: Path) -> None:
    bench = load(write(tmp_path), ["train.epochs=3"])
    assert bench.train.epochs == 3 and isinstance(bench.train.epochs, int)


def test_set_nested_component_param(tmp_path: Path) -> None:
    bench = load(write(tmp_path), ["train.optimizer.adam.learning_rate=0.01"])
    assert bench.train.optimizer.adam.learning_rate == pytest.approx(0.01)


def test_set_creates_missing_key(tmp_path: Path) -> None:
    bench = load(write(tmp_path), ["train.clipnorm=1.5", "search.timeout=60"])
    assert bench.train.clipnorm == 1.5
    assert bench.search.timeout == 60


def test_set_list_index_path(tmp_path: Path) -> None:
    bench = load(write(tmp_path), ["candidates.cnn.model.layers[0].conv1d.filters=8"])
    models = bench.candidate_models()
    assert models["cnn"].layers[0].conv1d.filters == 8
    assert models["cnn"].layers[0].conv1d.kernel_size == 3


def test_set_flow_value(tmp_path: Path) -> None:
    bench = load(write(tmp_path), ["search.sampler={random: {seed: 3}}"])
    assert bench.search.sampler.random.seed == 3


def test_set_search_space_dimension(tmp_path: Path) -> None:
    override = "search.space.train.optimizer.adam.learning_rate={float: [1.0e-3, 2.0e-3]}"
    bench = load(write(tmp_path), [override])
    assert bench.search.space["train.optimizer.adam.learning_rate"].bounds == (1e-3, 2e-3)


def test_set_bad_value_names_the_override(tmp_path: Path) -> None:
    path = write(tmp_path)
    p = one_problem(path, ("train.epochs=abc",))
    assert p.loc == ("train", "epochs")
    assert p.file == path and p.line is None
    assert "received 'abc'" in p.message
    assert p.message.endswith("(from --set train.epochs=abc)")


def test_set_bad_value_under_union_names_the_override(tmp_path: Path) -> None:
    p = one_problem(write(tmp_path), ("data.val_fraction=1.5",))
    assert p.message.endswith("(from --set data.val_fraction=1.5)")
    assert p.line is None


@pytest.mark.parametrize("text", ["train.epochs", "=3", "a..b=1", "train[x]=1"])
def test_set_malformed(tmp_path: Path, text: str) -> None:
    p = one_problem(write(tmp_path), (text,))
    assert p.loc == ("--set",)
    assert "expected path=value" in p.message or "malformed path" in p.message


def test_set_index_out_of_range_is_a_spec_error(tmp_path: Path) -> None:
    p = one_problem(write(tmp_path), ("candidates.cnn.model.layers[9].conv1d.filters=8",))
    assert p.loc == ("--set",)
    assert "9" in p.message and "3 items" in p.message


def test_set_index_out_of_range_names_the_list(tmp_path: Path) -> None:
    p = one_problem(write(tmp_path), ("candidates.cnn.model.layers[9].conv1d.filters=8",))
    assert "candidates.cnn.model.layers" in p.message
    assert "top level" not in p.message


# ----------------------------------------------------------------------- candidates


def test_matrix_candidates_expand_in_spec_order(tmp_path: Path) -> None:
    write(tmp_path, name="models/cnn.yaml", text=MODEL)
    path = tmp_path / "matrix.yaml"
    path.write_text(
        "name: m\ndata: {name: digits}\ncandidates:\n  matrix:\n    model:\n"
        "      zeta: {extends: models/cnn.yaml}\n"
        "      alpha: {layers: [{gru: {units: 8}}]}\n"
        "      mid: {extends: models/cnn.yaml, family: other}\n"
    )
    cands = candidates(load(path))
    assert [c.name for c in cands] == ["zeta", "alpha", "mid"]
    assert cands[0].loc == ("candidates", "matrix", "model", "zeta")
    assert list(cands[0].space) == ["model.layers[0].conv1d.filters"]
    assert list(cands[1].space) == []
    assert cands[2].model.family == "other"


def test_candidate_space_merges_model_and_shared(tmp_path: Path) -> None:
    cnn, rnn = candidates(load(write(tmp_path)))
    assert cnn.loc == ("candidates", "cnn", "model")
    assert list(cnn.space) == [
        "model.layers[0].conv1d.filters",
        "train.optimizer.adam.learning_rate",
    ]
    assert list(rnn.space) == ["train.optimizer.adam.learning_rate"]


def test_concrete_applies_params_and_revalidates(tmp_path: Path) -> None:
    cnn = candidates(load(write(tmp_path)))[0]
    concrete = cnn.concrete(
        {"model.layers[0].conv1d.filters": 24, "train.optimizer.adam.learning_rate": 5e-3}
    )
    assert concrete.model.layers[0].conv1d.filters == 24
    assert concrete.train.optimizer.adam.learning_rate == 5e-3
    assert cnn.model.layers[0].conv1d.filters == 16  # the candidate is unchanged
    with pytest.raises(ValidationError):
        cnn.concrete({"model.layers[0].conv1d.filters": 0})
    with pytest.raises(PathError, match=r"'nope' is not in model\.layers\[0\]\.conv1d"):
        cnn.concrete({"model.layers[0].conv1d.nope": 1})


def test_defaults_are_spec_values_inside_the_space(tmp_path: Path) -> None:
    cnn, rnn = candidates(load(write(tmp_path)))
    assert cnn.defaults() == {
        "model.layers[0].conv1d.filters": 16,
        "train.optimizer.adam.learning_rate": 1e-3,
    }
    assert rnn.defaults() == {"train.optimizer.adam.learning_rate": 1e-3}
    outside = candidates(load(write(tmp_path, ("{int: [8, 32]}", "{int: [20, 32]}"))))[0]
    assert outside.defaults() == {"train.optimizer.adam.learning_rate": 1e-3}
    choice = candidates(load(write(tmp_path, ("{int: [8, 32]}", "{choice: [8, 16]}"))))[0]
    assert choice.defaults()["model.layers[0].conv1d.filters"] == 16


def test_spec_hash_ignores_budget_not_recipe(tmp_path: Path) -> None:
    path = write(tmp_path)
    base = spec_hash(load(path))
    assert len(base) == 16 and int(base, 16) >= 0
    assert spec_hash(load(path)) == base
    assert spec_hash(load(path, ["search.trials=50"])) == base
    assert spec_hash(load(path, ["search.timeout=30"])) == base
    assert spec_hash(load(path, ["description=other words"])) == base
    assert spec_hash(load(path, ["train.epochs=3"])) != base
    assert spec_hash(load(path, ["data.split_seed=1"])) != base


# ------------------------------------------------------------------------------ paths


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a", ("a",)),
        ("train.epochs", ("train", "epochs")),
        ("layers[0].conv1d.filters", ("layers", 0, "conv1d", "filters")),
        ("a.b[2].c", ("a", "b", 2, "c")),
        ("a[0][12]", ("a", 0, 12)),
        ("[3].x", (3, "x")),
    ],
)
def test_parse_and_format_path_round_trip(text: str, parts: tuple[str | int, ...]) -> None:
    assert parse_path(text) == parts
    assert format_path(parts) == text
    assert format_path(list(parts)) == text


@pytest.mark.parametrize(
    "text", ["", "a..b", ".a", "a.", "a[x]", "a[1", "a]", "a[-1]", "a.b.", "a[0"]
)
def test_parse_path_errors(text: str) -> None:
    with pytest.raises(PathError, match="malformed path"):
        parse_path(text)


# --------------------------------------------------------------------------- registry


def test_registry_registers_and_refuses_duplicates() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register()
    def alpha() -> None: ...

    @reg.register("beta")
    def _b() -> None: ...

    assert reg.get("alpha") is alpha and reg.get("beta") is _b
    assert "alpha" in reg and "gamma" not in reg
    assert list(reg) == ["alpha", "beta"] and len(reg) == 2
    assert [n for n, _ in reg.items()] == ["alpha", "beta"]
    with pytest.raises(ValueError, match="widget 'alpha' is already registered"):
        reg.register("alpha")(lambda: None)
    with pytest.raises(ValueError, match="a name is needed"):
        reg.register()(3)
    assert reg.get("alpha") is alpha  # the refused duplicate did not replace it


def test_registry_miss_lists_names_with_did_you_mean() -> None:
    reg: Registry[int] = Registry("widget")
    for i, name in enumerate(["gamma", "alpha", "beta"]):
        reg.register(name)(i)
    with pytest.raises(RegistryError) as info:
        reg.get("alpah")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == (
        "unknown widget 'alpah'. Did you mean 'alpha'? Expected one of: alpha, beta, gamma"
    )
    assert reg.unknown("zzz") == "unknown widget 'zzz'. Expected one of: alpha, beta, gamma"


@pytest.mark.parametrize("kind", ["benchmark", "model"])
def test_committed_editor_schemas_are_current(kind: str) -> None:
    """specs/schema/*.schema.json must be what `suite schema` prints today."""
    import json

    from suite.spec.schema import Benchmark, ModelSpec

    model = Benchmark if kind == "benchmark" else ModelSpec
    expected = {
        **model.model_json_schema(),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
    }
    path = Path(__file__).resolve().parents[1] / "specs" / "schema" / f"{kind}.schema.json"
    assert json.loads(path.read_text()) == expected, (
        f"regenerate with: suite schema --kind {kind} > {path.relative_to(path.parents[2])}"
    )
