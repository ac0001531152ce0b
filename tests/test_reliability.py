"""Hostile input, honest exit codes, offline and quiet: the suite as a new user and as an
attacker meet it.

Spec limits run `suite validate` under a memory and time limit; the runs are tiny real
benchmarks in subprocesses (each one costs a TensorFlow import).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 200 << 20  # bytes of address space for a refusal
Ran = tuple[Path, subprocess.CompletedProcess[str]]


def _billion_laughs(path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines.append("name: bomb\ndata: {name: digits}\ncandidates: {x: {model: {extends: [*a9]}}}")
    path.write_text("\n".join(lines) + "\n")


def _many_keys(path: Path) -> None:
    with path.open("w") as f:
        f.writelines(f"k{i}: {i}\n" for i in range(1_500_000))


def _comments(path: Path) -> None:
    with path.open("w") as f:
        f.write("name: c\n")
        f.writelines("# " + "x" * 98 + "\n" for _ in range(200_000))


def _deep(path: Path) -> None:
    path.write_text("name: " + "[" * 100_000 + "]" * 100_000 + "\n")


def _deep_json(path: Path) -> None:
    path.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}\n")


HOSTILE: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # case: (writer, file name, the limit named in the message)
    "billion-laughs": (_billion_laughs, "bomb.yaml", "SUITE_SPEC_MAX_NODES"),
    "1.5M-keys": (_many_keys, "keys.yaml", "SUITE_SPEC_MAX_BYTES"),
    "20MB-comments": (_comments, "comments.yaml", "SUITE_SPEC_MAX_BYTES"),
    "deep-nesting": (_deep, "deep.yaml", "SUITE_SPEC_MAX_DEPTH"),
    "deep-json": (_deep_json, "deep.json", "SUITE_SPEC_MAX_DEPTH"),
}


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _validate(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "suite.cli", "validate", str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
    )


# ------------------------------------------------------------------ limits on spec input


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_spec_is_refused_under_a_memory_limit(tmp_path: Path, case: str) -> None:
    write, name, limit = HOSTILE[case]
    path = tmp_path / name
    write(path)
    proc = _validate(path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr
    assert limit in proc.stderr  # how to raise it
    assert "a spec may hold at most" in proc.stderr


def test_the_memory_limit_lets_a_good_spec_through() -> None:
    """The limit of the test above leaves room for an ordinary spec (it is not what refuses)."""
    proc = _validate(ROOT / "specs" / "quickstart.yaml")
    assert proc.returncode == 0, proc.stderr


TIMED = """
import sys, time
from suite.spec.errors import SpecError
from suite.spec.load import load
try:  # imports the parser first: that is not what is timed
    load(sys.argv[2], ["name=1=2"])
except SpecError:
    pass
start = time.process_time()
try:
    load(sys.argv[1])
except SpecError as e:
    print(time.process_time() - start)
    print(e)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_spec_is_refused_within_a_second(tmp_path: Path, case: str) -> None:
    write, name, limit = HOSTILE[case]
    path = tmp_path / name
    write(path)
    proc = subprocess.run(
        [sys.executable, "-c", TIMED, str(path), str(ROOT / "specs" / "quickstart.yaml")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seconds, message = proc.stdout.split("\n", 1)
    assert float(seconds) < 1.0  # CPU seconds of the refusal
    assert limit in message


def test_limits_are_raised_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load_raw

    path = tmp_path / "nested.yaml"
    path.write_text("name: " + "[" * 70 + "1" + "]" * 70 + "\n")
    with pytest.raises(SpecError, match="nested more than 64 levels deep"):
        load_raw(path)
    monkeypatch.setenv("SUITE_SPEC_MAX_DEPTH", "100")
    data, _ = load_raw(path)
    depth, node = 0, data["name"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0]
    assert (depth, node) == (70, 1)


def test_aliases_within_the_limits_still_work(tmp_path: Path) -> None:
    from suite.spec.load import load

    path = tmp_path / "anchors.yaml"
    path.write_text(
        "name: anchors\ndata: {name: digits}\ncandidates:\n"
        "  a: {model: {layers: &layers [flatten, {dense: {units: 4}}]}}\n"
        "  b: {model: {layers: *layers}}\n"
        "search: {trials: 1}\n"
    )
    models = load(path).candidate_models()
    assert len(models) == 2
    assert models["a"].layers == models["b"].layers


def test_many_aliases_are_refused(tmp_path: Path) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load_raw

    path = tmp_path / "aliases.yaml"
    path.write_text("a: &a 1\nb: [" + ", ".join(["*a"] * 1001) + "]\n")
    with pytest.raises(SpecError, match="SUITE_SPEC_MAX_ALIASES"):
        load_raw(path)


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load_raw

    path = tmp_path / "loop.yaml"
    path.write_text("name: loop\na: &x [1, *x]\n")
    with pytest.raises(SpecError, match=r"alias \*x stands inside its own anchor") as err:
        load_raw(path)
    assert err.value.problems[0].line == 2


def test_the_files_a_spec_extends_count_towards_the_limit(tmp_path: Path) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load_raw

    (tmp_path / "big.yaml").write_text(
        "layers:\n" + "".join(f"  - {{dense: {{units: {i}}}}}\n" for i in range(1000))
    )  # 1000 layers: 5001 values
    cands = "".join(f"  c{i}: {{model: {{extends: big.yaml}}}}\n" for i in range(25))
    path = tmp_path / "many.yaml"
    path.write_text(f"name: many\ndata: {{name: digits}}\ncandidates:\n{cands}")
    with pytest.raises(SpecError, match="with the files it extends") as err:
        load_raw(path)
    assert err.value.problems[0].file == path


# ------------------------------------------------- a benchmark that extends has its own name


def test_extending_benchmark_without_a_name_is_refused(tmp_path: Path) -> None:
    from suite.spec.errors import SpecError
    from suite.spec.load import load

    parent = ROOT / "specs" / "fashion_mnist.yaml"
    child = tmp_path / "more.yaml"
    child.write_text(f"description: more\nextends: {parent}\n")
    with pytest.raises(SpecError) as err:
        load(child)
    (p,) = err.value.problems
    assert (p.file, p.line, p.loc) == (child, 2, ("name",))
    assert "needs a name of its own" in p.message and "'fashion_mnist'" in p.message
    child.write_text(f"name: more\nextends: {parent}\n")
    assert load(child).name == "more"
    child.write_text(f"extends: {parent}\n")
    assert load(child, ["name=other"]).name == "other"


# ---------------------------------------- tiny runs as a user sees them: exit code, network, noise

TINY = """\
name: {name}
data: {{name: digits, max_examples: 200}}
candidates:
  {cand}:
    model:
      layers:
{layers}
train: {{epochs: 1, batch_size: 32}}
search: {{trials: 1}}
seeds: 0
"""
GOOD_LAYERS = "        - conv2d: {filters: 4}\n        - flatten\n"
# a deterministic failure of every trial: a `pretrained` run that does not exist
BAD_LAYERS = "        - pretrained: {run: 0123456789abcdef0123456789abcdef}\n        - flatten\n"

# MLflow turns its telemetry off by itself where one of these is set (CI, tests), and the
# test process sets others: a user's shell has none of them.
MLFLOW_AUTO_OFF = (
    "PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI", "CIRCLECI", "GITLAB_CI", "JENKINS_URL",
    "TRAVIS", "TF_BUILD", "BITBUCKET_BUILD_NUMBER", "CODEBUILD_BUILD_ARN", "BUILDKITE",
    "TEAMCITY_VERSION", "CLOUD_RUN_EXECUTION", "RUNBOT_HOST_URL", "RUNBOT_BUILD_NAME",
    "RUNBOT_WORKER_ID", "DATABRICKS_RUNTIME_VERSION", "MLFLOW_ENABLE_TELEMETRY", "DO_NOT_TRACK",
    "MLFLOW_DISABLE_TELEMETRY", "SUITE_TELEMETRY", "TF_CPP_MIN_LOG_LEVEL", "MLFLOW_LOGGING_LEVEL",
    "SUITE_VERBOSE", "MLFLOW_TRACKING_URI", "SUITE_OPTUNA_STORAGE",
)  # fmt: skip

# Records every host this process and its children look up or connect to (TCP/UDP).
SITECUSTOMIZE = """\
import os, socket, sys

def _hosts(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        host = args[1][0]
    else:
        return
    with open(os.environ["SUITE_TEST_HOSTS"], "a") as f:
        f.write(f"{event} {host!r}\\n")

sys.addaudithook(_hosts)
"""
LOCAL = {"localhost", "127.0.0.1", "::1", "", "None", "b''", "b'localhost'", "b'127.0.0.1'"}
# what the libraries print that a user did not ask for
NOISE = (
    "absl::InitializeLog", "oneDNN", "cuda", "cuInit", "NodeDef", "jit_compile", "INFO",
    "I0000", "W0000", "E0000", "alembic", "Warning",
)  # fmt: skip


def _run_user(tmp: Path, name: str, layers: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`suite run` a tiny benchmark as a user's shell would: no CI or test variables."""
    spec = tmp / f"{name}.yaml"
    spec.write_text(TINY.format(name=name, cand="only", layers=layers))
    hook = tmp / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_AUTO_OFF}
    env |= {
        "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}",
        "SUITE_RESULTS_DIR": str(tmp / "results"),
        "SUITE_TEST_HOSTS": str(tmp / f"{name}.hosts"),
    }
    return subprocess.run(
        [sys.executable, "-m", "suite.cli", "run", str(spec), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    tmp = tmp_path_factory.mktemp("good")
    return tmp, _run_user(tmp, "good", GOOD_LAYERS, "--quiet")


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    tmp = tmp_path_factory.mktemp("bad")
    return tmp, _run_user(tmp, "bad", BAD_LAYERS, "--quiet", "--verbose")


@pytest.mark.slow
def test_a_run_that_finished_its_budget_exits_0(good_run: Ran) -> None:
    _, proc = good_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "good (digits)" in proc.stdout  # the leaderboard


@pytest.mark.slow
def test_a_run_whose_trials_all_fail_exits_3_and_says_how_to_resume(
    bad_run: Ran,
) -> None:
    tmp, proc = bad_run
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    assert "incomplete: 1 of 1 candidate did not finish its budget (exit code 3)" in proc.stderr
    assert "  only: 3 trials in a row failed" in proc.stderr
    assert f"resume with:\n  suite run {tmp / 'bad.yaml'} --only only\n" in proc.stderr


@pytest.mark.slow
def test_a_run_looks_up_no_host_but_local_ones(good_run: Ran) -> None:
    tmp, proc = good_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = tmp / "good.hosts"
    lines = log.read_text().splitlines() if log.exists() else []
    hosts = {line.split(" ", 1)[1].strip("'\"") for line in lines}
    assert hosts <= {h.strip("'\"") for h in LOCAL}, lines


@pytest.mark.slow
def test_a_quiet_run_prints_nothing_on_stderr(good_run: Ran) -> None:
    _, proc = good_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert lines == [], "\n".join(line[:200] for line in lines)


@pytest.mark.slow
def test_verbose_brings_the_libraries_messages_back(bad_run: Ran) -> None:
    _, proc = bad_run
    shown = [n for n in NOISE if n in proc.stderr]
    assert "absl::InitializeLog" in shown and "INFO" in shown, proc.stderr[-3000:]


# ------------------------------------------------------------------ the parts, in process


def test_the_exit_code_of_several_workers_is_the_worst() -> None:
    from suite.exits import worst

    assert worst([0, 0]) == 0
    assert worst([0, 2]) == 2
    assert worst([2, 3, 0]) == 3
    assert worst([3, -9]) == 1  # killed by a signal: not a clean finish
    assert worst([1, 130]) == 130


def test_the_resume_command_is_quoted_for_a_shell() -> None:
    from suite.exits import resume_command

    cmd = resume_command("run", "my specs/a b.yaml", ["--set", "train.epochs=3"], ["x y", "z"])
    assert cmd == "suite run 'my specs/a b.yaml' --set train.epochs=3 --only 'x y' --only z"


def test_telemetry_is_off_unless_the_user_opts_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from suite.startup import offline

    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    monkeypatch.delenv("SUITE_TELEMETRY", raising=False)
    offline()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY")
    monkeypatch.setenv("SUITE_TELEMETRY", "1")
    offline()
    assert "MLFLOW_DISABLE_TELEMETRY" not in os.environ
    monkeypatch.delenv("SUITE_TELEMETRY")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")  # the user's own choice
    offline()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"


def test_verbose_takes_back_only_what_quiet_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from suite.startup import configure

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "ERROR")  # the user's
    monkeypatch.delenv("SUITE_VERBOSE", raising=False)
    import logging

    tf_warnings = logging.getLogger("tensorflow")  # e.g. "... triggered tf.function retracing"
    configure()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "ERROR"
    assert not tf_warnings.isEnabledFor(logging.WARNING)
    configure(loud=True)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert tf_warnings.isEnabledFor(logging.WARNING)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "ERROR"
    assert os.environ["SUITE_VERBOSE"] == "1"  # workers it starts are verbose too


def test_tensorflows_runtime_log_lines_are_told_apart() -> None:
    from suite.startup import is_runtime_log

    assert is_runtime_log(
        "E0000 00:00:1796634086.317080   11320 cuda_platform.cc:52] failed call to cuInit: "
        "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
    )
    assert is_runtime_log(
        "E0000 00:00:1796634087.463010   11321 node_def_util.cc:682] NodeDef mentions "
        "attribute use_unbounded_threadpool which is not in the op definition"
    )
    assert not is_runtime_log("F0000 00:00:1796634087.463010   11321 check.cc:12] Check failed")
    assert not is_runtime_log("Traceback (most recent call last):")
    assert not is_runtime_log("incomplete: 1 of 1 candidate did not finish its budget")


def test_only_tensorflows_load_notices_are_left_out() -> None:
    from suite.startup import is_load_notice

    dropped = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796624304.729430   20266 port.cc:153] oneDNN custom operations are on.",
        "I0000 00:00:1796624304.730268   20266 cudart_stub.cc:31] Could not find cuda drivers",
    ]
    kept = [
        "E0000 00:00:1796624311.088648   20266 cuda_platform.cc:52] failed call to cuInit",
        "Traceback (most recent call last):",
        "UserWarning: something the user should see",
    ]
    assert all(is_load_notice(line) for line in dropped)
    assert not any(is_load_notice(line) for line in kept)


def test_workers_writing_the_same_runs_at_once_do_not_fail(tmp_path: Path) -> None:
    """Workers that find the same runs left RUNNING by a killed worker all end them without
    an error (SQLite refuses the second insert of a tag), and all write the shared parent's
    tags and metrics at once."""
    import threading

    from suite.track import ERROR, Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker("dead", uri)
    parent = tracker.client.create_run(tracker.experiment_id).info.run_id
    runs = [tracker.child_run(parent, f"trial {i}", {}) for i in range(6)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    ended: list[int] = []

    def worker() -> None:
        mine = Tracker("dead", uri)
        barrier.wait()
        try:
            ended.append(sum(mine.end_stale(r) for r in runs))
            mine.set_tags(parent, {"suite.best_run": runs[0]})
            mine.log_metrics(parent, {"trials_complete": 3.0})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for r in runs:
        run = tracker.client.get_run(r)
        assert run.info.status == "KILLED"
        assert "interrupted" in run.data.tags[ERROR]
    assert sum(ended) >= len(runs)  # each run ended by at least one worker
    shared = tracker.client.get_run(parent).data
    assert shared.tags["suite.best_run"] == runs[0] and shared.metrics["trials_complete"] == 3
