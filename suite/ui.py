"""`suite ui`: MLflow's own server app (its REST API and front-end), served in this process by
uvicorn, opening every page on runs.

MLflow 3's front-end chooses between its GenAI view (traces) and its model-training view (runs)
from the page address's `workflowType` parameter, else from the browser's localStorage entry
`mlflow.workflowType_v1`, else GenAI; the experiment tag `mlflow.experimentKind` does not decide
it. The index page served here stores the model-training view before MLflow's script runs
(unless the address asks for GenAI), so the printed link, the experiment list, an experiment and
a run page all open on runs; the sidebar's switch still works until the next page load. It also
keeps MLflow's assistant panel from opening by itself over the runs the first time.

One process with `--workers 1` (uvicorn's own worker processes otherwise), no job runner: SIGINT
or SIGTERM stops the server, its workers and its listening socket.
"""

from __future__ import annotations

import json
import os
from typing import Any

from suite import settings

WORKFLOW_KEY = "mlflow.workflowType_v1"  # MLflow's useLocalStorage key "mlflow.workflowType", v1
RUNS_VIEW = "machine_learning"  # the front-end's WorkflowType.MACHINE_LEARNING
ASSISTANT_KEY = "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1"  # true: no chat panel over runs
PROMO_KEY = (
    "_mlflow_model_registry_promo_modal_dismissed_v1"  # true: no promotion over the registry
)
LANDING = (
    "<script>/* suite ui: open MLflow on runs (model training), not on GenAI traces */"
    "(function(){try{var s=window.localStorage;"
    "if(!/[?&]workflowType=genai(&|$)/.test(location.hash+location.search))"
    f"s.setItem({json.dumps(WORKFLOW_KEY)},{json.dumps(json.dumps(RUNS_VIEW))});"
    f"if(s.getItem({json.dumps(ASSISTANT_KEY)})===null)s.setItem({json.dumps(ASSISTANT_KEY)},"
    '"true");'
    f"if(s.getItem({json.dumps(PROMO_KEY)})===null)s.setItem({json.dumps(PROMO_KEY)},"
    '"true")}catch(e){}})()</script>'
)
LOOPBACK = "127.0.0.1"


class UIError(RuntimeError):
    """The UI cannot serve this tracking store."""


def link(host: str, port: int, experiment_id: str | None = None) -> str:
    """The address of the experiment list, or of one experiment's runs, in the runs view."""
    if host in ("0.0.0.0", "::", ""):
        host = LOOPBACK
    if ":" in host:
        host = f"[{host}]"
    page = f"experiments/{experiment_id}/runs" if experiment_id else "experiments"
    return f"http://{host}:{port}/#/{page}?workflowType={RUNS_VIEW}"


def experiment_id(uri: str, benchmark: str) -> str:
    """The id of a benchmark's experiment in the tracking store, or NotFound naming the known."""
    from mlflow.tracking import MlflowClient

    from suite.compare.readback import NotFound

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(benchmark)
    if exp is None or exp.lifecycle_stage == "deleted":
        names = sorted(e.name for e in client.search_experiments() if e.name != "Default")
        raise NotFound(f"no benchmark {benchmark!r} in {uri}. Known: {', '.join(names) or 'none'}")
    return str(exp.experiment_id)


def configure(uri: str) -> None:
    """Point MLflow's server code at the store through the environment (its workers inherit
    it): SQL store and registry `uri`, artifacts proxied to the results directory, job runner
    off. Opens (and if needed migrates) the store, so a bad URI fails here."""
    if not uri.startswith(("sqlite:", "postgresql", "mysql", "mssql", "file:", "/")):
        raise UIError(f"the UI serves a database or file store, not {uri!r}")
    import uvicorn  # noqa: F401  (before mlflow.server: it then sets up its security middleware)
    from mlflow.server import constants
    from mlflow.server.handlers import initialize_backend_stores

    destination = (settings.results_dir().resolve() / "artifacts").as_uri()
    os.environ.update(
        {
            constants.BACKEND_STORE_URI_ENV_VAR: uri,
            constants.REGISTRY_STORE_URI_ENV_VAR: uri,
            constants.ARTIFACT_ROOT_ENV_VAR: "mlflow-artifacts:/",
            constants.SERVE_ARTIFACTS_ENV_VAR: "true",
            constants.ARTIFACTS_DESTINATION_ENV_VAR: destination,
        }
    )
    # no huey consumers beside the server (GenAI jobs: judges, scorers); the user's value wins
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    initialize_backend_stores(uri, uri, "mlflow-artifacts:/")


def app() -> Any:
    """MLflow's server app with the index page opening on runs (uvicorn's factory, called once
    in each worker process)."""
    import warnings

    import uvicorn  # noqa: F401
    from flask import Response, request
    from mlflow.server import app as flask_app

    with warnings.catch_warnings():  # MLflow's import of starlette.middleware.wsgi
        warnings.filterwarnings("ignore", message=".*middleware.wsgi is deprecated")
        from mlflow.server.fastapi_app import app as server
    from mlflow.server.handlers import STATIC_PREFIX_ENV_VAR

    index = os.path.join(str(flask_app.static_folder), "index.html")
    with open(index, encoding="utf-8") as f:
        page = f.read().replace("<head>", "<head>" + LANDING, 1)
    root = os.environ.get(STATIC_PREFIX_ENV_VAR, "").rstrip("/") + "/"

    def landing() -> Response | None:
        if request.method == "GET" and request.path == root:
            return Response(page, mimetype="text/html", headers={"Cache-Control": "no-cache"})
        return None

    flask_app.before_request(landing)  # after MLflow's own checks (host, CORS)
    return server


def serve(uri: str, host: str = LOOPBACK, port: int = 5000, workers: int = 1) -> None:
    """Serve the UI over `uri` until SIGINT or SIGTERM (KeyboardInterrupt on SIGINT)."""
    import uvicorn

    configure(uri)
    uvicorn.run(
        "suite.ui:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
