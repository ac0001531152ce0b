"""The command line as a user runs it: exit codes, messages without tracebacks, speed.

Every test runs `python -m suite.cli` in a subprocess from the repository root, with the
results directory in tmp_path. Nothing here trains a model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"tensorflow", "keras", "optuna", "mlflow"}

Run = Callable[..., subprocess.CompletedProcess[str]]


def _spec_files() -> list[Path]:
    found = {p for pattern in ("**/*.yaml", "**/*.json") for p in (ROOT / "specs").glob(pattern)}
    # JSON Schema files for editors may live next to the specs: they are not specs
    return sorted(
        p for p in found if not p.name.endswith(".schema.json") and "schema" not in p.parent.parts
    )


SPEC_FILES = _spec_files()


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    """Run the CLI with the results directory in tmp_path; returns the finished process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(tmp_path / "results")}
    env.pop("MLFLOW_TRACKING_URI", None)

    def run(
        *args: str, timeout: float = 120, python_args: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *python_args, "-m", "suite.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def assert_user_error(proc: subprocess.CompletedProcess[str]) -> None:
    """Exit code 2, a message on stderr, and no Python traceback anywhere."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.strip()
    assert "Traceback" not in proc.stderr + proc.stdout


def line_of(path: Path, needle: str) -> int:
    lines = [i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln]
    assert len(lines) == 1, lines
    return lines[0]


GOOD = """\
name: t
data: {name: digits}
candidates:
  cnn:
    model:
      layers:
        - conv1d: {filters: 16, kernel_size: 3}
        - global_avg_pool
train:
  epochs: 2
search:
  trials: 2
"""


# --------------------------------------------------------------------------- validate


def test_the_repository_has_specs() -> None:
    assert ROOT / "specs" / "quickstart.yaml" in SPEC_FILES


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_validate_every_shipped_spec(cli: Run, spec: Path) -> None:
    proc = cli("validate", str(spec.relative_to(ROOT)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ok: {spec.relative_to(ROOT)} (")
    assert proc.stderr == ""


def test_validate_a_good_spec(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    proc = cli("validate", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ok: {path} (benchmark 't', 1 candidate)"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("search:", "serach:", "serach:", "unknown key 'serach'; did you mean 'search'?"),
        ("epochs: 2", "epochs: many", "epochs", "expected a valid integer"),
        ("conv1d:", "conv1x:", "conv1x", "unknown block 'conv1x'. Did you mean 'conv1d'?"),
        ("epochs: 2", "epochs: 2: 3", "epochs", "YAML error: mapping values are not allowed"),
        (
            "epochs: 2",
            "epochs: !!python/object/apply:os.makedirs ['{tmp}/made']",
            "epochs",
            "tags are not allowed in specs",
        ),
        (
            "model:\n",
            "model:\n      extends: nope.yaml\n",
            "extends",
            "file not found: 'nope.yaml'",
        ),
    ],
    ids=["unknown-key", "wrong-type", "unknown-block", "yaml-syntax", "unsafe-tag", "extends"],
)
def test_validate_broken_spec_exits_2_with_location(
    cli: Run, tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    assert GOOD.count(old) == 1
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace(old, new.format(tmp=tmp_path)))
    proc = cli("validate", str(path))
    assert_user_error(proc)
    assert f"{path}:{line_of(path, needle)}:" in proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "made").exists()
    assert proc.stdout == ""


def test_validate_circular_extends(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("family: a\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    proc = cli("validate", str(tmp_path / "a.yaml"))
    assert_user_error(proc)
    assert f"{tmp_path / 'a.yaml'}:2:" in proc.stderr
    assert "circular extends" in proc.stderr


def test_validate_reports_every_file(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("epochs: 2", "epochs: 0"))
    proc = cli("validate", "specs/quickstart.yaml", str(bad))
    assert_user_error(proc)
    assert "ok: specs/quickstart.yaml" in proc.stdout
    assert f"{bad}:{line_of(bad, 'epochs')}:3: train.epochs:" in proc.stderr
    assert "received 0" in proc.stderr


def test_validate_set_overrides(cli: Run) -> None:
    ok = cli("validate", "--set", "train.epochs=3", "specs/quickstart.yaml")
    assert ok.returncode == 0, ok.stderr
    bad = cli("validate", "--set", "train.epochs=abc", "specs/quickstart.yaml")
    assert_user_error(bad)
    assert "train.epochs:" in bad.stderr
    assert "(from --set train.epochs=abc)" in bad.stderr
    malformed = cli("validate", "--set", "train.epochs", "specs/quickstart.yaml")
    assert_user_error(malformed)
    assert "expected path=value, received 'train.epochs'" in malformed.stderr


def test_validate_missing_file(cli: Run, tmp_path: Path) -> None:
    proc = cli("validate", str(tmp_path / "nope.yaml"))
    assert_user_error(proc)
    assert f"{tmp_path / 'nope.yaml'}: file not found" in proc.stderr


def test_validate_does_not_import_heavy_modules(cli: Run) -> None:
    proc = cli("validate", "specs/quickstart.yaml", python_args=("-X", "importtime"))
    assert proc.returncode == 0, proc.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "suite.spec.load" in imported  # the import log was read
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == [], f"`suite validate` imported {heavy[:10]}"


# ------------------------------------------------------------------------ help, schema


def test_help_lists_commands(cli: Run) -> None:
    # how fast it is: benchmarks/startup.py (no timings in tests)
    out = cli("--help").stdout
    for command in ("validate", "run", "compare", "schema", "list", "delete"):
        assert f"  {command} " in out


@pytest.fixture(scope="module")
def benchmark_schema() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "suite.cli", "schema"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _quickstart() -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(ROOT / "specs" / "quickstart.yaml")


def test_schema_is_json_schema(benchmark_schema: dict) -> None:
    assert benchmark_schema["$schema"].startswith("https://json-schema.org/")
    assert benchmark_schema["$defs"]
    assert "candidates" in benchmark_schema["properties"]
    assert benchmark_schema["additionalProperties"] is False
    assert {"name", "data", "candidates"} <= set(benchmark_schema["required"])


def test_schema_describes_quickstart_loosely(benchmark_schema: dict) -> None:
    spec, defs = _quickstart(), benchmark_schema["$defs"]
    props = benchmark_schema["properties"]
    assert set(spec) <= set(props)
    assert set(benchmark_schema["required"]) <= set(spec)
    data_def = defs[f"data_{spec['data']['name']}"]
    assert data_def["properties"]["name"]["const"] == spec["data"]["name"]
    assert set(spec["data"]) <= set(data_def["properties"])
    assert set(spec["train"]) <= set(defs["Train"]["properties"])
    assert set(spec["search"]) <= set(defs["Search"]["properties"])
    assert "conv1d" in defs and "lstm" in defs and "tpe" in defs


def conforms(value: Any, schema: dict, defs: dict) -> bool:
    """A loose JSON Schema check: $ref, anyOf/oneOf (as anyOf), const, enum, type,
    properties, required, additionalProperties, items, prefixItems; bounds are ignored."""
    if "$ref" in schema:
        return conforms(value, defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", [])
    if alternatives and not any(conforms(value, s, defs) for s in alternatives):
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, k) for k in kinds):
            return False
    if isinstance(value, dict):
        if not set(schema.get("required", [])) <= set(value):
            return False
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = props.get(key, extra)
            if sub is False or (isinstance(sub, dict) and not conforms(item, sub, defs)):
                return False
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", {})
            if isinstance(sub, dict) and not conforms(item, sub, defs):
                return False
    return True


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    return isinstance(value, types[kind])


def test_schema_accepts_an_inline_benchmark(benchmark_schema: dict) -> None:
    from ruamel.yaml import YAML

    spec = YAML(typ="safe").load(GOOD.replace("- global_avg_pool", "- {global_avg_pool: {}}"))
    defs = benchmark_schema["$defs"]
    assert conforms(spec, benchmark_schema, defs)
    # the check is not vacuous: typos and wrong types are refused
    assert not conforms({**spec, "serach": {}}, benchmark_schema, defs)
    assert not conforms({**spec, "train": {"epochs": "many"}}, benchmark_schema, defs)
    assert not conforms({**spec, "data": {"name": "digts"}}, benchmark_schema, defs)
    layers = spec["candidates"]["cnn"]["model"]["layers"]
    layers[0] = {"conv1d": {"filtres": 3}}
    assert not conforms(spec, benchmark_schema, defs)


def test_schema_accepts_quickstart(benchmark_schema: dict) -> None:
    assert conforms(_quickstart(), benchmark_schema, benchmark_schema["$defs"])


def test_model_schema_accepts_bare_block_names(cli: Run) -> None:
    doc = json.loads(cli("schema", "--kind", "model").stdout)
    model = {"layers": [{"conv1d": {"filters": 8}}, "global_avg_pool"]}
    assert conforms({"layers": [{"conv1d": {"filters": 8}}]}, doc, doc["$defs"])
    assert conforms(model, doc, doc["$defs"])


def test_quickstart_validates_against_schema_with_jsonschema(benchmark_schema: dict) -> None:
    jsonschema = pytest.importorskip(
        "jsonschema", reason="the jsonschema package is not installed in this environment"
    )
    jsonschema.validate(_quickstart(), benchmark_schema)


def test_model_schema(cli: Run) -> None:
    proc = cli("schema", "--kind", "model")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["title"] == "ModelSpec"
    assert {"layers", "space", "extends", "family"} <= set(doc["properties"])
    assert "required" not in doc or "layers" not in doc["required"]  # may come from extends
    assert "block_conv1d" in doc["$defs"]


# --------------------------------------------------------------------------------- list


def test_list_shows_every_registry(cli: Run) -> None:
    proc = cli("list")
    assert proc.returncode == 0, proc.stderr
    for word in (
        "datasets",
        "blocks",
        "tasks",
        "samplers",
        "pruners",
        "mnist1d",
        "digits",
        "conv1d",
        "lstm",
        "classification",
        "tpe",
        "median",
        "adam",
    ):
        assert word in proc.stdout, word


def test_list_one_family(cli: Run) -> None:
    proc = cli("list", "samplers")
    assert proc.returncode == 0, proc.stderr
    assert "tpe" in proc.stdout and "random" in proc.stdout
    assert "conv1d" not in proc.stdout and "mnist1d" not in proc.stdout


def test_list_models_shows_the_library_by_family(cli: Run) -> None:
    from suite.manage import models

    proc = cli("list", "models")
    assert proc.returncode == 0, proc.stderr
    rows = models()
    assert {r[1] for r in rows} >= {"cnn", "rnn", "hybrid"}
    for spec, _, _, description in rows:
        assert spec in proc.stdout
        assert description, f"{spec} has no description"
    assert "parameters" not in proc.stdout  # the registry tables are not shown


def test_list_unknown_family(cli: Run) -> None:
    proc = cli("list", "blokcs")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "blokcs" in proc.stderr and "blocks" in proc.stderr


# ---------------------------------------------------------------------- run and compare


def test_run_missing_file(cli: Run, tmp_path: Path) -> None:
    proc = cli("run", str(tmp_path / "nope.yaml"))
    assert_user_error(proc)
    assert f"{tmp_path / 'nope.yaml'}: file not found" in proc.stderr


def test_run_broken_spec(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace("search:", "serach:"))
    proc = cli("run", str(path))
    assert_user_error(proc)
    assert f"{path}:{line_of(path, 'serach')}:1: serach:" in proc.stderr


def test_run_model_spec_refused(cli: Run) -> None:
    proc = cli("run", "specs/models/gru.yaml")
    assert_user_error(proc)
    assert "is a model spec" in proc.stderr


@pytest.mark.parametrize(
    ("only", "hint"),
    [("nosuch", ""), ("cnn_gur", "Did you mean 'cnn_gru'?")],
    ids=["unknown", "typo"],
)
def test_run_only_unknown_candidate(cli: Run, only: str, hint: str) -> None:
    proc = cli("run", "--only", only, "specs/quickstart.yaml", timeout=300)
    assert_user_error(proc)
    assert f"unknown candidate {only!r}." in proc.stderr
    assert hint in proc.stderr
    assert "Expected one of: cnn, cnn_gru, gru" in proc.stderr


@pytest.mark.slow  # two MLflow start-ups: about 10 s
def test_compare_unknown_benchmark_lists_known(cli: Run, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(tmp_path / "results")}
    env.pop("MLFLOW_TRACKING_URI", None)
    make = (
        "from mlflow.tracking import MlflowClient; from suite import stores; "
        "MlflowClient(stores.default_tracking_uri()).create_experiment('known_bench')"
    )
    subprocess.run([sys.executable, "-c", make], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = cli("compare", "nosuchbench", timeout=300)
    assert_user_error(proc)
    assert "no benchmark 'nosuchbench'" in proc.stderr
    assert "Known: known_bench" in proc.stderr
