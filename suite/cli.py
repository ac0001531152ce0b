"""Command line: a thin shell over the Python API. Heavy imports happen inside commands."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from suite import __version__


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


tracking_uri_option = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI."
)
storage_option = click.option(
    "--storage", help="Optuna storage URL (default: SQLite under the results dir)."
)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the suite's user errors into a message and exit code 2, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from suite.registry import RegistryError
        from suite.spec.errors import SpecError

        try:
            return fn(*args, **kwargs)
        except SpecError as e:
            click.echo(str(e), err=True)
            sys.exit(2)
        except RegistryError as e:
            _fail(str(e))
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted: finished trials are saved; rerun the same command to resume",
                err=True,
            )
            sys.exit(130)
        except Exception as e:
            from suite import exits
            from suite.build import BuildError
            from suite.compare.readback import MixedResults, NotFound
            from suite.data import DataError
            from suite.disk import disk_full
            from suite.runner import RunError

            if isinstance(e, DataError | RunError | BuildError | NotFound | MixedResults):
                _fail(str(e))
            full = disk_full(e)
            if full is not None:  # one message, not the chain of tracebacks of every wrapper
                _fail(full.describe(), exits.INCOMPLETE)
            raise

    return wrapper


@contextlib.contextmanager
def _placed_in(spec: Path, overrides: tuple[str, ...]) -> Iterator[None]:
    """Spec problems found after loading (data that cannot load, a model that cannot be
    built) get the file, line and --set of `spec`."""
    from suite.spec.errors import SpecError
    from suite.spec.load import placed

    try:
        yield
    except SpecError as e:
        raise placed(e, spec, overrides) from None


def _console() -> Any:
    """A rich console as wide as the terminal or `COLUMNS`; 160 columns when the output is
    not a terminal and `COLUMNS` is not set (logs, CI)."""
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    return Console(width=160 if piped else None)


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from suite import startup

    startup.configure(loud=value)


verbose_option = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    expose_value=False,
    callback=_verbose,
    help="Show the libraries' own messages too (TensorFlow, MLflow); also SUITE_VERBOSE=1.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="suite")
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False),
    envvar="SUITE_RESULTS_DIR",
    help="Where the tracking store, studies and caches live (default ./results).",
)
@verbose_option
def main(results_dir: str | None) -> None:
    """Declarative head-to-head benchmarks of Keras architectures (Optuna + MLflow)."""
    import os

    if results_dir:
        os.environ["SUITE_RESULTS_DIR"] = results_dir


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a value.")
@user_errors
def validate(specs: tuple[Path, ...], overrides: tuple[str, ...]) -> None:
    """Check spec files (benchmarks or model specs) without importing TensorFlow."""
    from suite.spec.errors import SpecError
    from suite.spec.load import load

    bad = 0
    for path in specs:
        try:
            spec = load(path, overrides)
        except SpecError as e:
            bad += 1
            click.echo(str(e), err=True)
            continue
        from suite.spec.schema import Benchmark

        if isinstance(spec, Benchmark):
            n = len(spec.candidate_models())
            click.echo(f"ok: {path} (benchmark {spec.name!r}, {n} candidate{'s' * (n != 1)})")
        else:
            click.echo(f"ok: {path} (model spec, {len(spec.layers)} layers)")
    if bad:
        sys.exit(2)


@main.command()
@click.option("--kind", type=click.Choice(["benchmark", "model"]), default="benchmark")
def schema(kind: str) -> None:
    """Print the JSON Schema of specs (for editors' YAML language servers)."""
    import json

    from suite.spec.schema import Benchmark, ModelSpec

    model = Benchmark if kind == "benchmark" else ModelSpec
    doc = model.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    click.echo(json.dumps(doc, indent=2))


@main.command("list")
@click.argument(
    "family",
    required=False,
    type=click.Choice(
        [
            "models",
            "datasets",
            "blocks",
            "tasks",
            "tokenizers",
            "optimizers",
            "samplers",
            "pruners",
            "benchmarks",
        ]
    ),
)
@user_errors
def list_(family: str | None) -> None:
    """Show the model library and registered components (or the benchmarks tracked)."""
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    if family in (None, "models"):
        from suite.manage import models

        table = Table(
            "spec", "family", "reference", "description", title="models", title_justify="left"
        )
        for row in models():
            table.add_row(*(escape(c) for c in row))
        console.print(table)
        if family == "models":
            return
    if family == "benchmarks":
        from suite.manage import benchmarks

        table = Table("benchmark", "candidates", "runs", title="benchmarks in the tracking store")
        for name, cands, runs in benchmarks():
            table.add_row(escape(name), str(cands), str(runs))
        console.print(table)
        return
    from suite.manage import registries

    for fam, entries in registries().items():
        if family and fam != family:
            continue
        table = Table("name", "parameters", "description", title=fam, title_justify="left")
        for name, params, doc in entries:
            table.add_row(escape(name), escape(params), escape(doc))
        console.print(table)


def _recycle_setting(every: int | None) -> None:
    """Hand --recycle-every to this process's recycler and to the workers it starts."""
    import os

    if every is not None:
        os.environ["SUITE_RECYCLE_EVERY"] = str(every)


def _recycling(run_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the benchmark in this process; when it is due for recycling, replace the process
    by a fresh run of the same command, which resumes from the stores."""
    import signal

    from suite.workers import Recycle, Recycler, replace_process

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM stops a run as Ctrl-C does: runs ended, writes stored

    signal.signal(signal.SIGTERM, stop)
    # a rerun of failed trials queues them on start: it runs in one process
    recycler = None if kwargs.get("rerun_failed") else Recycler()
    try:
        return run_benchmark(*args, recycle=recycler, **kwargs)
    except Recycle as e:
        replace_process(str(e))


def _exit_incomplete(
    command: str,
    spec: Path,
    summaries: list[Any],
    overrides: tuple[str, ...],
    trials: int | None,
    storage: str | None,
    tracking_uri: str | None,
) -> None:
    """Exit with code 3 and say how to resume when a candidate did not finish its budget."""
    from suite import exits

    missing = exits.incomplete(summaries)
    if not missing:
        return
    options = [a for o in overrides for a in ("--set", o)]
    options += ["--trials", str(trials)] if trials else []
    options += ["--storage", storage] if storage else []
    options += ["--tracking-uri", tracking_uri] if tracking_uri else []
    names = [m.name for m in missing]
    resume = exits.resume_command(command, str(spec), options, names)
    click.echo(exits.report(missing, len(summaries), resume), err=True)
    sys.exit(exits.INCOMPLETE)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a spec value, e.g. --set train.epochs=3 (repeatable).",
)
@click.option("--only", multiple=True, metavar="CANDIDATE", help="Run only these candidates.")
@click.option("--trials", type=click.IntRange(min=1), help="Trials per candidate (budget).")
@storage_option
@tracking_uri_option
@click.option("--dry-run", is_flag=True, help="Show candidates, parameter counts and budget.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes here (one per GPU where there are GPUs), sharing the studies.",
)
@click.option(
    "--rerun-failed",
    is_flag=True,
    help="Retry only the failed trials (their configurations again) and failed seed runs.",
)
@click.option(
    "--recycle-every",
    type=click.IntRange(min=0),
    envvar="SUITE_RECYCLE_EVERY",
    help="Replace the worker process by a fresh one every N trials (0: only when its "
    "memory grew by $SUITE_RECYCLE_MB, default 2.5 % of RAM, at least 150 MB).",
)
@verbose_option
@user_errors
def run(
    spec: Path,
    overrides: tuple[str, ...],
    only: tuple[str, ...],
    trials: int | None,
    storage: str | None,
    tracking_uri: str | None,
    dry_run: bool,
    quiet: bool,
    workers: int,
    recycle_every: int | None,
    rerun_failed: bool,
) -> None:
    """Run a benchmark; rerunning the same command resumes it."""
    _recycle_setting(recycle_every)

    from suite.spec.load import load
    from suite.spec.schema import Benchmark

    bench = load(spec, overrides)
    if not isinstance(bench, Benchmark):
        _fail(f"{spec} is a model spec; `suite run` needs a benchmark spec (with candidates)")
    from suite.startup import import_tensorflow

    console = _console()
    if dry_run:
        from suite.manage import dry_run as show

        import_tensorflow()  # without its start-up notices

        with _placed_in(spec, overrides):
            show(bench, only, trials, console)
        return
    from suite.compare import leaderboard, render

    if workers > 1 and rerun_failed:
        _fail("--rerun-failed runs in one process: leave out --workers")
    if workers > 1:
        from suite import stores, track
        from suite.workers import launch

        try:
            storage = stores.resolve_storage(bench.name, storage, workers)
        except ValueError as e:
            _fail(str(e))
        tracking_uri = tracking_uri or stores.default_tracking_uri()
        stores.make_storage(storage)  # the stores and the experiment, made once
        track.Tracker(bench.name, tracking_uri)
        args = [str(spec), "--storage", storage, "--tracking-uri", tracking_uri]
        args += [a for o in overrides for a in ("--set", o)]
        args += [a for c in only for a in ("--only", c)]
        args += ["--trials", str(trials)] if trials else []
        code = launch(workers, args, quiet=quiet)
        if code:
            click.echo(f"a worker ended with exit code {code}", err=True)
        render(leaderboard(bench.name, tracking_uri, allow_mixed=True), console)
        from suite.exits import worst

        sys.exit(worst([code]))
    import_tensorflow()
    from suite.progress import Reporter, RichReporter
    from suite.runner import run as run_benchmark

    reporter = Reporter() if quiet else RichReporter(bench.search.metric)
    with _placed_in(spec, overrides):
        summaries = _recycling(
            run_benchmark,
            bench,
            only=only,
            trials=trials,
            storage=storage,
            tracking_uri=tracking_uri,
            reporter=reporter,
            source=spec,
            rerun_failed=rerun_failed,
        )
    render(leaderboard(bench.name, tracking_uri, allow_mixed=True), console)
    _exit_incomplete("run", spec, summaries, overrides, trials, storage, tracking_uri)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a value.")
@click.option("--only", multiple=True, metavar="CANDIDATE", help="Work on these candidates only.")
@click.option("--trials", type=click.IntRange(min=1), help="Trials per candidate (budget).")
@click.option(
    "--storage",
    help="The benchmark's shared Optuna storage, e.g. postgresql://host/db "
    "(default: the journal file under the results dir).",
)
@tracking_uri_option
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option(
    "--recycle-every",
    type=click.IntRange(min=0),
    envvar="SUITE_RECYCLE_EVERY",
    help="Replace the worker process by a fresh one every N trials (0: only when its "
    "memory grew by $SUITE_RECYCLE_MB, default 2.5 % of RAM, at least 150 MB).",
)
@verbose_option
@user_errors
def worker(
    spec: Path,
    overrides: tuple[str, ...],
    only: tuple[str, ...],
    trials: int | None,
    storage: str | None,
    tracking_uri: str | None,
    quiet: bool,
    recycle_every: int | None,
) -> None:
    """Join a benchmark as one more worker (from any machine that reaches its storage)."""
    _recycle_setting(recycle_every)
    from suite.workers import name_worker

    name_worker()  # its sampler then proposes points of its own
    from suite import stores
    from suite.progress import Reporter
    from suite.runner import run as run_benchmark
    from suite.spec.load import load
    from suite.spec.schema import Benchmark
    from suite.workers import LineReporter

    bench = load(spec, overrides)
    if not isinstance(bench, Benchmark):
        _fail(f"{spec} is a model spec; `suite worker` needs a benchmark spec (with candidates)")
    from suite.startup import import_tensorflow

    import_tensorflow()  # without its start-up notices
    if storage is None:
        try:
            storage = stores.resolve_storage(bench.name, None, workers=2)
        except ValueError as e:
            _fail(str(e))
    summaries = _recycling(
        run_benchmark,
        bench,
        only=only,
        trials=trials,
        storage=storage,
        tracking_uri=tracking_uri,
        reporter=Reporter() if quiet else LineReporter(bench.search.metric),
        source=spec,
    )
    _exit_incomplete("worker", spec, summaries, overrides, trials, storage, tracking_uri)


@main.command()
@click.argument("benchmarks", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "markdown", "json", "latex"]),
    default="table",
    help="table: rich tables in the terminal; the others as text (latex: a booktabs table).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of the terminal.",
)
@tracking_uri_option
@click.option(
    "--pareto", is_flag=True, help="Each candidate's Pareto front (a multi-objective search)."
)
@click.option(
    "--target",
    type=float,
    help="A value of the search metric to reach (default: the spec's search.target).",
)
@click.option(
    "--baseline",
    metavar="CANDIDATE",
    help="Over several benchmarks: the candidate speedups are measured against.",
)
@click.option(
    "--test",
    type=click.Choice(["wilcoxon", "t"]),
    default="wilcoxon",
    show_default=True,
    help="The paired test over seeds that decides a winner (both are shown).",
)
@click.option(
    "--allow-mixed",
    is_flag=True,
    help="Compare results whose data fingerprints or suite versions differ (with a warning).",
)
@click.option(
    "--cd-diagram",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Over several benchmarks: write the critical-difference diagram (SVG) here.",
)
@click.option(
    "--latex-float",
    type=click.Choice(["table", "table*"]),
    default="table",
    show_default=True,
    help="With --format latex: `table*` spans both columns of a two-column paper.",
)
@click.option(
    "--to-runs",
    is_flag=True,
    help="Also write the leaderboard onto the candidates' parent runs in MLflow (`suite run` "
    "does it when it ends; this refreshes results logged before it did).",
)
@user_errors
def compare(
    benchmarks: tuple[str, ...],
    fmt: str,
    output: Path | None,
    tracking_uri: str | None,
    pareto: bool,
    target: float | None,
    baseline: str | None,
    test: str,
    allow_mixed: bool,
    cd_diagram: Path | None,
    latex_float: str,
    to_runs: bool,
) -> None:
    """Leaderboard of a benchmark read back from MLflow; with several benchmarks (one dataset
    each), the comparison of their shared candidates over the datasets."""

    from suite import compare as cmp

    if len(benchmarks) == 1 and (baseline or cd_diagram):
        _fail("--baseline and --cd-diagram compare several benchmarks (one dataset each)")
    if to_runs and (pareto or len(benchmarks) > 1):
        _fail("--to-runs writes one benchmark's leaderboard (no --pareto, one benchmark)")
    if pareto:
        front = cmp.pareto(benchmarks[0], tracking_uri)
        if fmt == "table" and output is None:
            cmp.render_pareto(front, _console())
            return
        text = cmp.pareto_text(front, "markdown" if fmt in ("table", "latex") else fmt)
    elif len(benchmarks) > 1:
        from suite.compare.across_datasets import render as render_across
        from suite.compare.across_datasets import to_text

        result = cmp.across(
            benchmarks, tracking_uri, baseline=baseline, allow_mixed=allow_mixed, target=target
        )
        if cd_diagram is not None and len(result.complete.columns) >= 2:
            cd_diagram.parent.mkdir(parents=True, exist_ok=True)
            cd_diagram.write_text(result.cd_svg(), encoding="utf-8")
            click.echo(f"wrote {cd_diagram}", err=True)
        if fmt == "table" and output is None:
            render_across(result, _console())
            return
        text = to_text(result, "markdown" if fmt == "table" else fmt)
    else:
        frame = cmp.leaderboard(
            benchmarks[0], tracking_uri, target=target, allow_mixed=allow_mixed, test=test
        )
        if to_runs:
            from suite.parents import publish

            publish(benchmarks[0], tracking_uri, board=frame)
        if fmt == "table" and output is None:
            cmp.render(frame, _console())
            return
        writers = {
            "csv": cmp.to_csv,
            "markdown": cmp.to_markdown,
            "json": cmp.to_json,
            "latex": lambda f: cmp.to_latex(f, env=latex_float),
            "table": cmp.to_markdown,
        }
        text = writers[fmt](frame)
        for w in frame.attrs.get("warnings", []):
            click.echo(f"WARNING: {w}", err=True)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("run_id")
@click.argument("texts", nargs=-1, required=True)
@tracking_uri_option
@user_errors
def predict(run_id: str, texts: tuple[str, ...], tracking_uri: str | None) -> None:
    """Classify TEXTS with the model and tokenizer a text benchmark logged in RUN_ID."""
    from suite.text.predict import PredictError, predict

    try:
        out = predict(run_id, texts, tracking_uri)
    except PredictError as e:
        _fail(str(e))
        return
    for text, label, probs in zip(texts, out.labels(), out.probabilities, strict=True):
        shown = ", ".join(f"{c}={p:.3f}" for c, p in zip(out.classes, probs, strict=True))
        click.echo(f"{label}\t{shown}\t{text}")


@main.command()
@click.argument("run_id")
@tracking_uri_option
@user_errors
def reproduce(run_id: str, tracking_uri: str | None) -> None:
    """Re-run a trial or seed run from what MLflow holds; compare it with the original."""
    from rich.table import Table

    from suite.reproduce import reproduce as again

    out = again(run_id, tracking_uri)
    for w in out.warnings:
        click.echo(f"warning: {w}", err=True)
    table = Table("metric", "original", "reproduced", title=f"{out.kind} run {run_id}")
    for name, old, new in out.rows:
        table.add_row(name, f"{old:.6g}", f"{new:.6g}")
    console = _console()
    console.print(table)
    spread = f" [{out.spread[0]:.4g}, {out.spread[1]:.4g}] of {out.key}" if out.spread else ""
    console.print(f"verdict: {out.verdict}{spread}; new run {out.run_id}", markup=False)


@main.command()
@click.argument("benchmark")
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True
)
@click.option("--curves", is_flag=True, help="One row per run and epoch (learning curves).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: BENCHMARK[-curves].FORMAT here).",
)
@storage_option
@tracking_uri_option
@user_errors
def export(
    benchmark: str,
    fmt: str,
    curves: bool,
    output: Path | None,
    storage: str | None,
    tracking_uri: str | None,
) -> None:
    """Write a benchmark's trial and seed runs as one tidy table (Parquet or CSV)."""
    from suite.export import table, write

    frame = table(benchmark, tracking_uri, storage, curves)
    path = output or Path(f"{benchmark}{'-curves' if curves else ''}.{fmt}")
    write(frame, fmt, path)
    click.echo(f"wrote {path} ({len(frame)} rows, {len(frame.columns)} columns)")


@main.command()
@click.argument("benchmarks", nargs=-1, required=True)
@click.option(
    "--dashboard",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Dashboard definition (default: dashboards/default.yaml).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file (default: <results>/reports/<benchmark>.html).",
)
@tracking_uri_option
@storage_option
@click.option(
    "--no-log",
    is_flag=True,
    help="Do not attach the report to the leading candidate's parent run in MLflow.",
)
@click.option(
    "--allow-mixed",
    is_flag=True,
    help="Show results of other data or suite versions side by side, with a warning.",
)
@user_errors
def report(
    benchmarks: tuple[str, ...],
    dashboard: Path | None,
    output: Path | None,
    tracking_uri: str | None,
    storage: str | None,
    no_log: bool,
    allow_mixed: bool,
) -> None:
    """Write a self-contained HTML dashboard of one or more benchmarks, read from MLflow."""
    from suite.report import build

    done = build(
        benchmarks,
        dashboard,
        output,
        tracking_uri,
        storage,
        log=not no_log,
        allow_mixed=allow_mixed,
    )
    click.echo(
        f"wrote {done.path} ({done.bytes / 1e6:.1f} MB, {len(done.sections)} sections, "
        f"{done.figures} charts)"
        + (f"; attached to the leader's parent run {done.logged_to}" if done.logged_to else "")
    )


@main.command()
@click.argument("benchmark")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@storage_option
@tracking_uri_option
@user_errors
def delete(benchmark: str, yes: bool, storage: str | None, tracking_uri: str | None) -> None:
    """Delete a benchmark's MLflow experiment and Optuna studies."""
    from suite.manage import delete as remove

    if not yes:
        click.confirm(f"delete every run and study of {benchmark!r}?", abort=True)
    studies = remove(benchmark, storage, tracking_uri)
    click.echo(f"deleted {benchmark!r} ({studies} studies)")


@main.command()
@click.argument("benchmark", required=False)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; another than 127.0.0.1 exposes every run to the network.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes (one serves a person's browsing; more cost memory each).",
)
@tracking_uri_option
def ui(benchmark: str | None, port: int, host: str, workers: int, tracking_uri: str | None) -> None:
    """Serve the MLflow UI over the suite's tracking store, opening on runs (127.0.0.1 by
    default); with BENCHMARK, print the link to its runs. Ctrl-C or SIGTERM stops it."""
    from suite import stores, track
    from suite import ui as server
    from suite.compare.readback import NotFound

    uri = tracking_uri or stores.default_tracking_uri()
    track.mark_experiments(uri)
    try:
        exp = server.experiment_id(uri, benchmark) if benchmark else None
    except NotFound as e:
        _fail(str(e))
    click.echo(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl-C stops it)")
    click.echo(f"  runs of the benchmarks: {server.link(host, port)}")
    if benchmark:
        click.echo(f"  runs of {benchmark}: {server.link(host, port, exp)}")
    try:
        server.serve(uri, host, port, workers)
    except server.UIError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
