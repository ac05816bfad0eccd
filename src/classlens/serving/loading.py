"""Fetch a logged MLflow model: find the store a run id or `models:/` URI refers to (the
`--tracking-uri` given, else `MLFLOW_TRACKING_URI`, else the project's), then download the model's
files into a folder. Only files are fetched: what they are is decided by
`classlens.serving.model_folder`, and nothing in them is loaded or run here (MLflow's
`pyfunc.load_model` would unpickle or run the folder's code)."""

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
            configured = RunRef.read(ref_path).store_uri  # where train logged it
        uri = resolve_tracking_uri(configured)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise InputError(f"{uri}: no MLflow store there; pass --tracking-uri or set "
                         "MLFLOW_TRACKING_URI")
    return activate(uri)


def download_model(reference: str, destination: Path, *, tracking_uri: Optional[str] = None,
                   is_run_id: bool = False) -> tuple[Path, str]:
    """Download the files of an MLflow model (a `runs:/` or `models:/` URI, or the model logged
    in run `reference` when `is_run_id`) into `destination`; returns (its folder, its URI)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    store = _store_for_loading(tracking_uri)
    uri = reference
    if is_run_id:
        try:
            run = mlflow.MlflowClient().get_run(reference)
        except MlflowException:
            raise InputError(f"{reference}: no such MLflow run in {store}") from None
        uri = run.data.tags.get(TAG_MODEL_URI) or f"runs:/{reference}/model"
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination))
    except (MlflowException, OSError) as err:
        message = err.message if isinstance(err, MlflowException) else str(err)
        raise InputError(f"{uri}: cannot download an MLflow model (store {store}): "
                         f"{str(message).splitlines()[0]}") from None
    folder = Path(local)
    if not (folder / "MLmodel").is_file():
        raise InputError(f"{uri}: not an MLflow model (no MLmodel file in what it names); give "
                         "the model's URI, e.g. runs:/<run id>/model or models:/<name>/<version>")
    return folder, uri
