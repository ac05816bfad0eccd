"""Load a logged MLflow model back: find the store a run id or `models:/` URI refers to (the
`--tracking-uri` given, else `MLFLOW_TRACKING_URI`, else the project's), then load the pyfunc."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from classlens import paths
from classlens.errors import InputError
from classlens.tracking.runs import RunRef
from classlens.tracking.store import activate, resolve_tracking_uri, resolve_tracking_uri_explicit

# The run tags `classlens.serving.logged_model` sets to the logged models' URIs.
TAG_MODEL_URI = "classlens.model_uri"
TAG_KERAS_MODEL_URI = "classlens.keras_model_uri"


def _store_for_loading(tracking_uri: Optional[str]) -> str:
    """The store a run id / models:/ URI refers to: `tracking_uri` if given, else
    `MLFLOW_TRACKING_URI`, else the project's (`models/mlflow_run.json`), else the default."""
    if tracking_uri:
        uri = resolve_tracking_uri_explicit(tracking_uri)
    else:
        ref_path = paths.project_root() / paths.RUN_REF
        configured = "sqlite:///mlflow.db"
        if ref_path.is_file():
            configured = RunRef.read(ref_path).tracking_uri
        uri = resolve_tracking_uri(configured)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise InputError(f"{uri}: no MLflow store there; pass --tracking-uri or set "
                         "MLFLOW_TRACKING_URI")
    return activate(uri)


def load_python_model(reference: str, *, tracking_uri: Optional[str] = None,
                      is_run_id: bool = False):
    """Load an MLflow pyfunc model (a local model folder, a `runs:/` or `models:/` URI, or the
    model logged in run `reference` when `is_run_id`) and return its Python model object."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = reference
    store = None
    local = Path(reference).is_dir()
    if not local:
        store = _store_for_loading(tracking_uri)
    if is_run_id:
        try:
            run = mlflow.MlflowClient().get_run(reference)
        except MlflowException:
            raise InputError(f"{reference}: no such MLflow run in {store}") from None
        uri = run.data.tags.get(TAG_MODEL_URI) or f"runs:/{reference}/model"
    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except MlflowException as err:
        where = f" (store {store})" if store else ""
        raise InputError(f"{uri}: cannot load an MLflow model{where}: "
                         f"{str(err.message).splitlines()[0]}") from None
