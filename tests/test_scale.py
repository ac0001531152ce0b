"""Search at scale on real tiny runs: workers sharing studies (journal file, PostgreSQL), a
tracking server, dead workers (kill -9, stale heartbeats), budgets in trials and epochs,
pruning on any metric, NaN losses, grid / CMA-ES / NSGA-II samplers, conditional spaces and
Pareto fronts.

The PostgreSQL tests need `$SUITE_TEST_POSTGRES` (a server URL whose user may create
databases, e.g. postgresql://postgres@127.0.0.1:5432/test); each test creates its own
databases (Optuna and MLflow apart: both keep an `alembic_version` table) and drops them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NAME = "scale"
SPEC = """
name: scale
data: {name: digits, max_examples: 200}
candidates:
  mlp:
    model:
      family: mlp
      layers:
        - flatten
        - dense: {units: 8, activation: relu}
      space:
        layers[1].dense.units: {int: [4, 16]}
train: {epochs: 2, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
search:
  trials: 4
  sampler: {random: {}}
  pruner: none
seeds: 0
"""
LR = "train.optimizer.adam.learning_rate"
UNITS = "model.layers[1].dense.units"


def _bench(tmp_path: Path, *overrides: str, text: str = SPEC) -> Any:
    from suite.spec.load import load

    path = tmp_path / "scale.yaml"
    path.write_text(text)
    return load(path, overrides)


def _spec_file(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "scale.yaml"
    path.write_text(text)
    return path


def _suite(results: Path, *args: str) -> subprocess.Popen[str]:
    """`python -m suite.cli ARGS` in the background, results in `results`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS_DIR": str(results)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("SUITE_OPTUNA_STORAGE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "suite.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-20000:]
    return out


def _study(storage: str, name: str = f"{NAME}/mlp") -> Any:
    import optuna

    from suite.stores import make_storage

    return optuna.load_study(study_name=name, storage=make_storage(storage))


def _runs(uri: str, kind: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(NAME)
    return client.search_runs([exp.experiment_id], filter_string=f"tags.`suite.kind` = '{kind}'")


def _sqlite_tracking(results: Path) -> str:
    return f"sqlite:///{results.resolve() / 'mlflow.db'}"


def _real(trials: list[Any]) -> list[Any]:
    """Trials that ran (not the ones a worker handed back unrun)."""
    from suite.search import RELEASED

    return [t for t in trials if not t.system_attrs.get(RELEASED)]


def _states(trials: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in _real(trials):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def _assert_nothing_left_running(uri: str, study: Any) -> None:
    from optuna.trial import TrialState

    assert not study.get_trials(states=(TrialState.RUNNING,))
    for kind in ("trial", "seed", "candidate"):
        assert all(r.info.status != "RUNNING" for r in _runs(uri, kind)), kind


# --- PostgreSQL and an MLflow tracking server --------------------------------------------


@pytest.fixture
def postgres() -> Iterator[Callable[[str], str]]:
    """Makes a fresh database on the test server and returns its URL; drops them after."""
    url = os.environ.get("SUITE_TEST_POSTGRES")
    if not url:
        pytest.skip("set SUITE_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB to run this test")
    psycopg = pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg")
    from sqlalchemy.engine import make_url

    base = make_url(url)
    made: list[str] = []

    def admin(sql: str) -> None:
        with psycopg.connect(
            dbname=base.database,
            user=base.username,
            password=base.password,
            host=base.host,
            port=base.port,
            autocommit=True,
        ) as conn:
            conn.execute(sql)

    def make(kind: str) -> str:
        name = f"suite_{kind}_{uuid.uuid4().hex[:10]}"
        admin(f'CREATE DATABASE "{name}"')
        made.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    yield make
    for name in made:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tracking_server(postgres: Callable[[str], str], tmp_path: Path) -> Iterator[str]:
    """An `mlflow server` on a free local port, its runs in PostgreSQL, artifacts in tmp."""
    port = _free_port()
    log = (tmp_path / "mlflow-server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            postgres("mlflow"),
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(
                "mlflow server did not start: " + (tmp_path / "mlflow-server.log").read_text()
            )
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_two_workers_finish_one_budget_exactly_on_postgres_with_a_tracking_server(
    postgres: Callable[[str], str], tracking_server: str, tmp_path: Path
) -> None:
    from suite.compare import leaderboard

    storage = postgres("optuna")
    spec = _spec_file(tmp_path, SPEC.replace("seeds: 0", "seeds: 2"))
    args = ("worker", str(spec), "--storage", storage, "--tracking-uri", tracking_server)
    workers = [_suite(tmp_path / "results", *args) for _ in range(2)]
    logs = [_finish(w) for w in workers]

    study = _study(storage)
    assert _states(study.trials) == {"COMPLETE": 4}  # the budget exactly: none lost, none extra
    _assert_nothing_left_running(tracking_server, study)
    parents = _runs(tracking_server, "candidate")
    assert len(parents) == 1  # both workers found the same parent run
    trials = _runs(tracking_server, "trial")
    numbers = sorted(int(r.data.tags["suite.trial"]) for r in trials)
    assert numbers == sorted(t.number for t in _real(study.trials))  # one run per trial
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parents[0].info.run_id}
    ran_by = {r.data.tags["suite.worker"] for r in trials}
    assert len(ran_by) == 2, logs  # both workers trained
    seeds = _runs(tracking_server, "seed")
    assert sorted(r.data.tags["suite.seed"] for r in seeds) == ["0", "1"]  # each seed once
    row = leaderboard(NAME, tracking_server).iloc[0]
    assert (row["trials_complete"], row["trials_pruned"], row["trials_failed"]) == (4, 0, 0)
    assert row["epochs_total"] == 8 and row["wall_s"] > 0


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_stale_heartbeat_fails_the_trial_and_it_is_retried_but_live_ones_are_left(
    postgres: Callable[[str], str], results: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    from optuna.trial import TrialState

    from suite.runner import run
    from suite.search import OWNER
    from suite.spec.candidates import candidates
    from suite.spec.space import suggest_all
    from suite.stores import make_storage
    from suite.track import Tracker

    monkeypatch.setenv("SUITE_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("SUITE_HEARTBEAT_GRACE", "2")
    storage = postgres("optuna")
    bench = _bench(tmp_path)
    run(bench, storage=storage, trials=1)
    study = _study(storage)
    store = make_storage(storage)
    space = candidates(bench)[0].space
    tracker = Tracker(NAME)
    parent = _runs(tracker.uri, "candidate")[0].info.run_id

    def remote_trial(host: str) -> tuple[Any, dict[str, Any], str]:
        """A trial a worker on another machine runs: params, heartbeat, owner, MLflow run."""
        trial = study.ask()
        params = suggest_all(trial, space)
        store.record_heartbeat(trial._trial_id)
        store.set_trial_system_attr(trial._trial_id, OWNER, {"host": host, "pid": 1})
        run_id = tracker.child_run(
            parent,
            f"mlp/trial-{trial.number}",
            {"suite.kind": "trial", "suite.trial": str(trial.number)},
        )
        return trial, params, run_id

    dead, dead_params, dead_run = remote_trial("a-machine-that-died")
    live, _, live_run = remote_trial("a-machine-still-working")
    stop = threading.Event()

    def keep_working() -> None:  # beats until the worker has retried the dead trial, then ends
        while not stop.wait(0.5):
            store.record_heartbeat(live._trial_id)
            retried = [
                t for t in study.get_trials() if t.system_attrs.get("failed_trial") == dead.number
            ]
            if retried and retried[0].state.is_finished():
                break
        tracker.end(live_run)
        study.tell(live, 0.5)

    worker = threading.Thread(target=keep_working)
    worker.start()
    time.sleep(2.5)  # the dead trial's heartbeat is now older than the grace period
    try:
        summary = run(bench, storage=storage, trials=3)
    finally:
        stop.set()
        worker.join()

    assert summary[0].stale_trials == (dead.number,)
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    assert trials[live.number].state == TrialState.COMPLETE  # never failed while it beat
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == dead_params  # the same configuration, run again
    assert _states(trials) == {"COMPLETE": 3, "FAIL": 1}  # trial 0, the retry, the live one
    client = tracker.client
    assert client.get_run(dead_run).info.status == "KILLED"
    assert client.get_run(live_run).info.status == "FINISHED"  # not ended by the worker
    _assert_nothing_left_running(tracker.uri, study)


# --- one machine: journal file, --workers, kill -9 ---------------------------------------


def test_kill_9_mid_trial_then_two_workers_finish_the_budget(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    results = tmp_path / "results"
    # trainings long enough (about a second) for the poll below to catch one under way
    text = SPEC.replace("epochs: 2,", "epochs: 60,").replace("seeds: 0", "seeds: 1")
    text = text.replace("trials: 4", "trials: 3")
    spec = _spec_file(tmp_path, text)
    first = _suite(results, "worker", str(spec), "--quiet")
    journal = str(results / "optuna.journal")
    deadline = time.monotonic() + 240
    victim = None
    while victim is None:
        assert first.poll() is None, first.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "no trial got under way"
        time.sleep(0.5)
        try:
            study = _study(journal)
        except Exception:
            continue
        done = study.get_trials(states=(TrialState.COMPLETE,))
        running = study.get_trials(states=(TrialState.RUNNING,))
        if done and running and running[0].user_attrs.get("epochs", 0) >= 1:
            victim = running[0]
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    out = _finish(_suite(results, "run", str(spec), "--workers", "2", "--quiet"))
    assert "mlp" in out  # the leaderboard
    from suite.startup import is_runtime_log

    assert not [line for line in out.splitlines() if is_runtime_log(line)]  # TF's C++ log
    study = _study(journal)
    trials = study.get_trials()
    assert trials[victim.number].state == TrialState.FAIL
    assert "interrupted" in trials[victim.number].system_attrs["fail_reason"]
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == victim.params
    assert _states(trials) == {"COMPLETE": 3, "FAIL": 1}
    uri = _sqlite_tracking(results)
    runs = _runs(uri, "trial")
    by_trial: dict[int, list[Any]] = {}
    for r in runs:
        by_trial.setdefault(int(r.data.tags["suite.trial"]), []).append(r)
    assert all(len(v) == 1 for v in by_trial.values())  # every trial once
    assert by_trial[victim.number][0].info.status == "KILLED"
    complete = {t.number for t in trials if t.state == TrialState.COMPLETE}
    assert {n for n, v in by_trial.items() if v[0].info.status == "FINISHED"} == complete
    assert len(_runs(uri, "seed")) == 1
    _assert_nothing_left_running(uri, study)


# --- budgets, pruning, NaN --------------------------------------------------------------


def test_epoch_budget_stops_new_trials_and_the_leaderboard_shows_what_was_used(
    results: Path, tmp_path: Path
) -> None:
    from suite.compare import leaderboard
    from suite.runner import run
    from suite.search import tally
    from suite.stores import default_storage

    bench = _bench(
        tmp_path,
        "search.trials=10",
        "search.epochs_budget=5",
        "search.sampler={cmaes: {n_startup_trials: 1}}",
        f"search.space={{{LR}: {{float: [1.0e-3, 3.0e-2], log: true}}}}",
    )
    run(bench)
    study = _study(default_storage())
    assert any(k.startswith("cma") for t in study.trials for k in t.system_attrs)  # CMA-ES ran
    assert _states(study.trials) == {"COMPLETE": 3}  # 2 + 2 < 5 epochs: a third starts, no fourth
    assert tally(study).epochs == 6
    row = leaderboard(NAME).iloc[0]
    assert row["trials_complete"] == 3 and row["epochs_total"] == 6 and row["wall_s"] > 0
    parent = _runs(_sqlite_tracking(results), "candidate")[0]
    assert parent.data.metrics["epochs_used"] == 6
    assert json.loads(parent.data.tags["suite.budget"])["epochs"] == 5


def test_pruning_on_another_metric_saves_epochs_and_a_nan_loss_fails_at_once(
    results: Path, tmp_path: Path
) -> None:
    import optuna
    from optuna.trial import TrialState

    from suite.runner import run
    from suite.stores import default_storage

    sgd = "train.optimizer.sgd.learning_rate"
    bench = _bench(
        tmp_path,
        "train.epochs=4",
        "train.batch_size=8",
        "train.optimizer={sgd: {learning_rate: 0.1}}",
        "train.weight_penalty={l2: 0.5}",  # SGD at rate 10 overshoots it and diverges
        "search.trials=2",
        "search.prune_on=val_loss",  # the search ranks by val_accuracy, prunes on val_loss
        "search.pruner={median: {n_startup_trials: 1, n_warmup_steps: 0}}",
        f"search.space={{{sgd}: {{choice: [0.1, 10.0, 1.0e-7]}}}}",
    )
    study = optuna.create_study(
        study_name=f"{NAME}/mlp", storage=default_storage(), direction="maximize"
    )
    for lr in (0.1, 10.0, 1e-7):  # learns; explodes; cannot learn
        study.enqueue_trial({sgd: lr, UNITS: 8})
    run(bench)
    trials = _study(default_storage()).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED]
    assert "NaN" in trials[1].system_attrs["fail_reason"]
    uri = _sqlite_tracking(results)
    runs = {int(r.data.tags["suite.trial"]): r for r in _runs(uri, "trial")}
    assert runs[1].info.status == "FAILED" and "NaN" in runs[1].data.tags["suite.error"]
    assert runs[1].data.metrics["epochs"] == 1  # stopped in its first epoch
    # the pruner was told val_loss (negated: the study maximizes) of each epoch
    history = _runs_history(uri, runs[0].info.run_id, "val_loss")
    assert [-trials[0].intermediate_values[i] for i in range(4)] == pytest.approx(history)
    pruned = runs[2].data.metrics["epochs"]
    assert pruned < 4 and runs[2].data.tags["suite.state"] == "PRUNED"
    parent = _runs(uri, "candidate")[0]
    assert parent.data.metrics["epochs_used"] == 4 + 1 + pruned < 3 * 4  # epochs saved


def _runs_history(uri: str, run_id: str, metric: str) -> list[float]:
    from mlflow.tracking import MlflowClient

    return [
        m.value
        for m in sorted(MlflowClient(uri).get_metric_history(run_id, metric), key=lambda m: m.step)
    ]


# --- samplers and spaces ----------------------------------------------------------------


def test_grid_search_tries_each_point_once_and_refuses_a_continuous_float(
    results: Path, tmp_path: Path
) -> None:
    from suite.runner import run
    from suite.spec.errors import SpecError
    from suite.stores import default_storage

    lr = f"search.space={{{LR}: {{float: [1.0e-3, 1.0e-2], values: [1.0e-3, 1.0e-2]}}}}"
    units = "candidates.mlp.model.space.layers[1].dense.units={int: [4, 8], step: 4}"
    bench = _bench(tmp_path, "search.trials=10", "search.sampler=grid", lr, units)
    run(bench)
    trials = _study(default_storage()).trials
    points = sorted((t.params[LR], t.params[UNITS]) for t in trials)
    assert points == [(1e-3, 4), (1e-3, 8), (1e-2, 4), (1e-2, 8)]  # the grid, once: 4 < 10
    continuous = f"search.space={{{LR}: {{float: [1.0e-3, 1.0e-2]}}}}"
    with pytest.raises(SpecError, match="needs the points of a continuous float"):
        _bench(tmp_path, "search.sampler=grid", continuous)


CONDITIONAL = """
name: scale
data: {name: digits, max_examples: 200}
candidates:
  rnn:
    model:
      family: rnn
      layers:
        - reshape: {shape: [8, 8]}
        - lstm: {units: 8}
      space:
        layers[1]:
          choice:
            lstm: {units: {int: [4, 8]}}
            gru: {units: {int: [4, 8]}, reset_after: {choice: [true, false]}, dropout: 0.0}
train: {epochs: 1, batch_size: 32, optimizer: {adam: {learning_rate: 1.0e-2}}}
search: {trials: 3, sampler: {random: {seed: 1}}, pruner: none}
"""


def test_conditional_space_searches_only_the_chosen_branch(results: Path, tmp_path: Path) -> None:
    import optuna

    from suite.runner import run
    from suite.spec.candidates import candidates
    from suite.spec.space import suggest_all
    from suite.stores import default_storage

    bench = _bench(tmp_path, text=CONDITIONAL)
    cand = candidates(bench)[0]
    p = "model.layers[1]"
    gru = {p: "gru", f"{p}.gru.units": 5, f"{p}.gru.reset_after": False}
    assert suggest_all(optuna.trial.FixedTrial(gru), cand.space) == gru  # define-by-run
    layer = cand.concrete(gru).model_dump(mode="json")["model"]["layers"][1]
    assert layer["gru"]["units"] == 5 and layer["gru"]["reset_after"] is False

    run(bench)
    trials = _study(default_storage(), f"{NAME}/rnn").trials
    assert trials[0].params == {p: "lstm", f"{p}.lstm.units": 8}  # the spec's own values first
    branches = set()
    for t in trials:
        branch = t.params[p]
        branches.add(branch)
        assert {k.split(".")[2] for k in t.params if k != p} == {branch}  # only its own
        assert (f"{p}.gru.reset_after" in t.params) == (branch == "gru")
    assert branches == {"lstm", "gru"}
    runs = _runs(_sqlite_tracking(results), "trial")
    for r in runs:  # the trained model had the chosen layer
        branch = json.loads(r.data.tags["suite.params"])[p]
        assert any(k.startswith(f"model.layers.1.{branch}.") for k in r.data.params)
        hp = {k for k in r.data.params if k.startswith("hp.")}  # stable names of the branch
        want = {"hp.layers.1", f"hp.{branch}.units"}
        assert hp == (want | {"hp.gru.reset_after"} if branch == "gru" else want)


def test_multi_objective_search_logs_its_pareto_front(results: Path, tmp_path: Path) -> None:
    from suite.compare import pareto, pareto_text
    from suite.runner import run
    from suite.stores import default_storage

    bench = _bench(
        tmp_path,
        "search.trials=4",
        "search.sampler={nsga2: {population_size: 2}}",
        "search.objectives=[{metric: val_accuracy}, {metric: params}, {metric: latency_ms}]",
        "seeds=1",
    )
    run(bench)
    study = _study(default_storage())
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    front = {t.number for t in study.best_trials}
    uri = _sqlite_tracking(results)
    trials = _runs(uri, "trial")
    tagged = {
        int(r.data.tags["suite.trial"]) for r in trials if r.data.tags["suite.pareto"] == "true"
    }
    assert tagged == front
    by_number = {int(r.data.tags["suite.trial"]): r for r in trials}
    for t in study.trials:  # MLflow holds the values Optuna ranked
        metrics = by_number[t.number].data.metrics
        assert metrics["objective.params"] == t.values[1] == metrics["params"]
        assert metrics["objective.latency_ms"] == t.values[2] > 0
    # no trial on the front is dominated by another trial
    signs = (1, -1, -1)
    scored = [[s * v for s, v in zip(signs, t.values, strict=True)] for t in study.trials]
    for n in front:
        assert not any(
            all(o >= m for o, m in zip(other, scored[n], strict=True)) and other != scored[n]
            for other in scored
        )
    from mlflow.tracking import MlflowClient

    parent = _runs(uri, "candidate")[0].info.run_id
    local = MlflowClient(uri).download_artifacts(parent, "pareto/front.json", str(tmp_path))
    logged = json.loads(Path(local).read_text())
    assert sorted(r["trial"] for r in logged["front"]) == sorted(front)
    for r in logged["front"]:  # the `params` objective, and the configuration beside it
        assert r["params"] == study.trials[r["trial"]].values[1]
        assert r["hyperparameters"] == study.trials[r["trial"]].params
    table = pareto(NAME)
    assert sorted(table["trial"]) == sorted(front)
    assert "val_accuracy" in pareto_text(table, "markdown")
    shown = pareto_text(table, "csv").splitlines()[1:]  # displayed trials count from 1
    assert sorted(int(line.split(",")[1]) for line in shown) == sorted(n + 1 for n in front)
    rows = json.loads(pareto_text(table, "json"))["rows"]
    assert {r["trial"] for r in rows} == {n + 1 for n in front}
    assert all(r["params"] == study.trials[r["trial"] - 1].values[1] for r in rows)
    assert len(_runs(uri, "seed")) == 1  # the front's best on the first objective


def test_trials_past_the_budget_are_handed_back_and_seed_work_is_done_once(
    tmp_path: Path,
) -> None:
    """What two workers asking at the same moment do, played out in one process."""
    import optuna
    from optuna.trial import TrialState

    from suite.search import RELEASED, claim_waiting, over_budget, release, tally
    from suite.search.seeds import queue_seeds, run_queued
    from suite.stores import make_storage

    storage = make_storage(str(tmp_path / "optuna.journal"))
    study = optuna.create_study(study_name="s", storage=storage)
    study.tell(study.ask(), 1.0)
    study.enqueue_trial({"x": 1.0})  # a queued configuration (e.g. a retry)
    a, b = study.ask(), study.ask()  # two workers, one place left in a budget of 2
    assert "fixed_params" in study.trials[a.number].system_attrs  # a took the queued one
    assert not over_budget(study, a._trial_id, 2)
    assert over_budget(study, b._trial_id, 2)
    release(study, b._trial_id)
    assert study.trials[b.number].system_attrs[RELEASED]
    assert tally(study).failed == 0 and tally(study).running == 1
    # a queued configuration handed back is queued again, not lost
    study.tell(a, state=TrialState.FAIL)
    study.enqueue_trial({"x": 2.0})
    c = study.ask()
    assert over_budget(study, c._trial_id, 1)
    release(study, c._trial_id)
    again = study.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in again] == [{"x": 2.0}]

    queue = optuna.create_study(study_name="s:seeds", storage=storage)
    best = study.trials[0]
    queue_seeds(queue, [0, 1], [best])
    queue_seeds(queue, [0, 1], [best])  # a second worker queues the same work
    queue.enqueue_trial({"trial": best.number, "seed": 0, "rank": 1})  # at the same moment
    done: list[tuple[int, int]] = []
    run_queued(queue, lambda p, n: done.append((p["trial"], p["seed"])) or 0.0)
    assert sorted(done) == [(0, 0), (0, 1)]  # each seed run once
    assert claim_waiting(queue) is None
