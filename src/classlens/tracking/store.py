"""Where the MLflow store is: resolving the configured URI against the project root, making it
MLflow's active store (bounded HTTP waits, a reachability check first), the experiment id (a
model-training experiment whose artifacts stay in this checkout), and its UI address."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse
from urllib.request import url2pathname

from classlens.errors import InputError
from classlens.paths import project_root

ARTIFACTS_DIR = "mlartifacts"

# MLflow 3's UI opens an experiment on its GenAI pages (traces, sessions) unless it knows the
# experiment is a model-training one. Earlier 3.x UIs read that from the experiment tag below (the
# value their "Machine learning" choice writes: ExperimentKind.CUSTOM_MODEL_DEVELOPMENT); newer
# ones (3.17: that code sits behind a switched-on flag in mlflow/server/js) follow a browser-wide
# "GenAI | Model training" switch, GenAI until the user flips it, which a link presets with
# `?workflowType=machine_learning` (see `ui_url`). The tag is set for the former.
TAG_KIND = "mlflow.experimentKind"
KIND_TRAINING = "custom_model_development"
UI_WORKFLOW = "workflowType=machine_learning"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store

# The runs table shows no metric column until one is picked. MLflow's UI opens a "shared view"
# (`viewStateShareKey=<key>` in the link) from the experiment tag `mlflow.sharedViewState.<key>`
# (plain JSON of the table's state; mlflow/server/js: EXPERIMENT_PAGE_VIEW_STATE_SHARE_TAG_PREFIX),
# so the experiment carries one whose columns are the option names and the test numbers, and
# `ui_url` links to it. Column ids are "<params|metrics>.`<key>`", as the UI writes them.
HEADLINE_VIEW = "classlens-headline"
TAG_VIEW = f"mlflow.sharedViewState.{HEADLINE_VIEW}"
HEADLINE_COLUMNS = (
    *(f"params.`{key}`" for key in ("model.name", "data.name", "train.name")),
    *(f"metrics.`test/{key}`" for key in ("accuracy", "accuracy_low", "accuracy_high",
                                          "f1_macro", "log_loss", "ece")),
)
HEADLINE_VIEW_STATE = json.dumps({"selectedColumns": list(HEADLINE_COLUMNS)})

# Bounded waiting on a remote tracking server: MLflow's defaults (120 s timeout, 7 retries with
# backoff) can hang a stage for many minutes on a dead server. Users may still override these.
HTTP_TIMEOUT_S = "15"
HTTP_MAX_RETRIES = "2"
HEALTH_TIMEOUT_S = 5.0


def resolve_tracking_uri(configured: str) -> str:
    """`MLFLOW_TRACKING_URI` if set, else `configured`; a relative SQLite path or plain folder is
    anchored at `project_root()` so every experiment folder logs to the same store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri.startswith("sqlite:///"):
        db = uri[len("sqlite:///"):]
        if not db.startswith("/"):
            return f"sqlite:///{project_root() / db}"
        return uri
    if "://" not in uri and not Path(uri).is_absolute():
        return str(project_root() / uri)
    return uri


def resolve_tracking_uri_explicit(uri: str) -> str:
    """Like `resolve_tracking_uri`, for a URI the user named (the environment does not win)."""
    if uri.startswith("sqlite:///") and not uri[len("sqlite:///"):].startswith("/"):
        return f"sqlite:///{Path.cwd().resolve() / uri[len('sqlite:///'):]}"
    return uri


def check_reachable(uri: str) -> None:
    """For an http(s) store, ask the server's /health within a few seconds; a clear one-line
    error otherwise (before any training work is spent)."""
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S)
        response.raise_for_status()
    except requests.RequestException as err:
        reason = type(err).__name__
        raise InputError(
            f"MLflow tracking server {uri} is unreachable ({reason}); start it, or point "
            "tracking.uri / MLFLOW_TRACKING_URI at a reachable store") from None


def use_store(configured: str) -> str:
    """Resolve `configured` (see resolve_tracking_uri) and make it the active store."""
    return activate(resolve_tracking_uri(configured))


def activate(uri: str) -> str:
    """Make an already-resolved `uri` MLflow's store: bounded HTTP, reachability checked, and
    the user's MLFLOW_TRACKING_URI left as it was."""
    import mlflow

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", HTTP_TIMEOUT_S)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_MAX_RETRIES)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in DVC logs
    user_setting = os.environ.get("MLFLOW_TRACKING_URI")
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    # MLflow also exports the URI as MLFLOW_TRACKING_URI (for child processes). Put the user's
    # own setting back, so a later stage run in this same process still resolves config vs
    # environment as documented instead of inheriting this run's store.
    if user_setting is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = user_setting
    return uri


def experiment_id(name: str) -> str:
    """Get or create the experiment as a model-training one (see `TAG_KIND`), its artifacts in
    `<root>/mlartifacts` for local stores; an existing one whose artifacts lie in another checkout
    stops the run (see `check_artifact_location`)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    found = mlflow.get_experiment_by_name(name)
    if found is None:
        location = None
        if not mlflow.get_tracking_uri().startswith(("http://", "https://", "databricks")):
            location = (project_root() / ARTIFACTS_DIR).as_uri()
        try:
            return mlflow.create_experiment(name, artifact_location=location,
                                            tags={TAG_KIND: KIND_TRAINING,
                                                  TAG_VIEW: HEADLINE_VIEW_STATE})
        except MlflowException:  # created meanwhile by a parallel experiment
            found = mlflow.get_experiment_by_name(name)
    _check_location(found)
    # made before classlens set these tags (or this view's columns), or by hand
    wanted = {TAG_KIND: found.tags.get(TAG_KIND, KIND_TRAINING), TAG_VIEW: HEADLINE_VIEW_STATE}
    for key, value in wanted.items():
        if found.tags.get(key) != value:
            mlflow.MlflowClient().set_experiment_tag(found.experiment_id, key, value)
    return found.experiment_id


def ui_url(uri: str, experiment: str, run_id: Optional[str] = None) -> str:
    """The MLflow UI page of an experiment's runs table, opening on the training runs with the
    headline columns (`HEADLINE_VIEW`), or of one run: on the server of an http(s) store, else
    where `mlflow ui` serves a local one."""
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI
    if run_id:
        return f"{base}/#/experiments/{experiment}/runs/{run_id}?{UI_WORKFLOW}"
    return (f"{base}/#/experiments/{experiment}/runs?{UI_WORKFLOW}"
            f"&viewStateShareKey={HEADLINE_VIEW}")


def check_artifact_location(experiment: str) -> None:
    """Stop (one line) when the active store lives inside this checkout but experiment
    `experiment` (an id) keeps its artifacts in another checkout's `mlartifacts/`.

    MLflow stores artifact locations as absolute paths (a relative one is made absolute when the
    experiment is created, and each run keeps its own absolute copy), so a copied checkout's
    `mlflow.db` still points at the original folder: its runs would silently write there, and a
    moved checkout's would recreate the old folder."""
    import mlflow

    _check_location(mlflow.MlflowClient().get_experiment(experiment))


def _check_location(experiment) -> None:
    import mlflow

    uri = mlflow.get_tracking_uri()
    store, artifacts = _local_path(uri), _local_path(experiment.artifact_location)
    root = project_root()
    if (store is None or artifacts is None or not _inside(store, root)
            or _inside(artifacts, root) or artifacts.name != ARTIFACTS_DIR):
        return  # a remote or shared store, or artifacts placed elsewhere on purpose
    old_root = artifacts.parent
    fresh = (f"start a fresh store here (remove {store} and {root / ARTIFACTS_DIR}, then "
             "`dvc repro -f`)")
    if old_root.exists():
        original = old_root / Path(os.path.realpath(store)).relative_to(root)
        original_uri = f"sqlite:///{original}" if uri.startswith("sqlite:") else str(original)
        how = (f"the store was copied from there. To log here, {fresh}; to log into the "
               f"original on purpose, set MLFLOW_TRACKING_URI={original_uri}")
    else:
        how = f"the checkout was moved from there. Move it back, or {fresh}"
    raise InputError(f"{uri}: experiment {experiment.name!r} keeps its artifacts in {artifacts}, "
                     f"outside this checkout {root}: {how}")


def _local_path(uri: str) -> Optional[Path]:
    """The file or folder a local store URI or artifact location names (None if remote)."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    if uri.startswith("file:"):
        return Path(url2pathname(urlparse(uri).path))
    if "://" not in uri and not uri.startswith("databricks"):
        return Path(uri)
    return None


def _inside(path: Path, root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(root)
