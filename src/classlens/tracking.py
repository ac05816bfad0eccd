"""The only module that talks to MLflow: one run per experiment, shared by every stage.

The train stage creates the run and writes a reference to it (`models/mlflow_run.json`, a DVC
output). Every later stage opens that run and logs into it. Each run is tagged with the digest of
the whole `params.yaml` it was made under; when a later stage runs under different params than the
training run (an experiment that changes only, say, `evaluate.top_k`, so DVC reuses the cached
model), the stage does not write into the other experiment's run: it logs into a copy of it
(params re-logged, metrics and artifacts copied, tag `classlens.forked_from`), found again by the
next stage of the same experiment. A stage that DVC re-runs under the same params replaces its
own artifact folder in the run instead of starting a stray run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from classlens import paths
from classlens.atomic import write_json
from classlens.config import Config, TrackingConfig, flatten
from classlens.errors import InputError

TAG_DIGEST = "classlens.params_digest"
TAG_TRAINED_IN = "classlens.trained_in_run"
TAG_FORKED_FROM = "classlens.forked_from"
TAG_MODEL_URI = "classlens.model_uri"
TAG_KERAS_MODEL_URI = "classlens.keras_model_uri"
ARTIFACTS_DIR = "mlartifacts"


# ---------------------------------------------------------------- where the store is


def project_root() -> Path:
    """The DVC project root: `DVC_ROOT` (DVC sets it for every stage, and points it at the main
    repository inside `--temp` and queued experiment folders), else the nearest folder above the
    working directory holding `dvc.yaml`, else the working directory."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists() or (folder / ".dvc").is_dir():
            return folder
    return here


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


# Bounded waiting on a remote tracking server: MLflow's defaults (120 s timeout, 7 retries with
# backoff) can hang a stage for many minutes on a dead server. Users may still override these.
HTTP_TIMEOUT_S = "15"
HTTP_MAX_RETRIES = "2"
HEALTH_TIMEOUT_S = 5.0


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


def _use_store(configured: str) -> str:
    """Resolve `configured` (see resolve_tracking_uri) and make it the active store."""
    return _activate(resolve_tracking_uri(configured))


def _activate(uri: str) -> str:
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


def _experiment_id(name: str) -> str:
    """Get or create the experiment, its artifacts in `<root>/mlartifacts` for local stores."""
    import mlflow
    from mlflow.exceptions import MlflowException

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if not mlflow.get_tracking_uri().startswith(("http://", "https://", "databricks")):
        location = (project_root() / ARTIFACTS_DIR).as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except MlflowException:  # created meanwhile by a parallel experiment
        return mlflow.get_experiment_by_name(name).experiment_id


# ---------------------------------------------------------------- the run reference


@dataclass(frozen=True)
class RunRef:
    """What later stages need to find the training run (`models/mlflow_run.json`)."""

    run_id: str
    experiment_id: str
    tracking_uri: str  # as configured (relative paths stay relative, so the repo can move)
    params_digest: str

    def write(self, path: Path) -> None:
        write_json(path, dataclasses.asdict(self))

    @classmethod
    def read(cls, path: Path) -> "RunRef":
        if not path.exists():
            raise InputError(f"{path}: not found; run the train stage first (`dvc repro train`)")
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as err:
            raise InputError(f"{path}: not a run reference written by the train stage ({err})")


def params_digest(cfg: Config) -> str:
    """A short content hash of the whole validated config."""
    canonical = json.dumps(dataclasses.asdict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _run_tags() -> dict[str, str]:
    """Git commit and DVC experiment tags (set by DVC in `dvc exp run`)."""
    import subprocess

    tags = {}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        tags["git_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if os.environ.get(var):
            tags[var.lower()] = os.environ[var]
    return tags


def _loggable_params(cfg: Config) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, list) else str(v)
            for k, v in flatten(dataclasses.asdict(cfg)).items()}


# ---------------------------------------------------------------- opening runs


@contextmanager
def training_run(cfg: Config, *, data_fingerprint: dict) -> Iterator[RunRef]:
    """Start the experiment's run: tags, every param, the dataset digest. Yields its `RunRef`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    _use_store(cfg.tracking.uri)  # an unreachable server fails here, before training starts
    digest = params_digest(cfg)
    try:
        experiment_id = _experiment_id(cfg.tracking.experiment)
        with mlflow.start_run(experiment_id=experiment_id,
                              run_name=os.environ.get("DVC_EXP_NAME") or None) as run:
            run_id = run.info.run_id
            mlflow.set_tags({**_run_tags(), TAG_DIGEST: digest, TAG_TRAINED_IN: run_id,
                             "data_fingerprint": data_fingerprint["digest"]})
            mlflow.log_params(_loggable_params(cfg))
            yield RunRef(run_id=run_id, experiment_id=experiment_id,
                         tracking_uri=cfg.tracking.uri, params_digest=digest)
    except MlflowException as err:
        raise InputError(f"MLflow logging failed ({str(err).splitlines()[0][:200]}); output "
                         "files already written are kept; re-run once the store is back") from None


@contextmanager
def stage_run(run_ref_path: Path, cfg: Config) -> Iterator[str]:
    """Open the experiment's run for a stage after train; yields the run id.

    The run is the training run when it was made under the same params, else this experiment's
    fork of it (created on first use).
    """
    import mlflow

    from mlflow.exceptions import MlflowException

    ref = RunRef.read(run_ref_path)
    try:
        _use_store(ref.tracking_uri)
    except InputError as err:
        raise InputError(f"{err}; this stage's output files are written, only logging failed "
                         "(re-run the stage once the store is back)") from None
    try:
        run_id = _find_or_fork(ref, cfg)
        with mlflow.start_run(run_id=run_id):
            yield run_id
    except MlflowException as err:
        raise InputError(f"MLflow logging failed ({str(err).splitlines()[0][:200]}); this "
                         "stage's output files are written; re-run it once the store is "
                         "back") from None


def _find_or_fork(ref: RunRef, cfg: Config) -> str:
    from mlflow import MlflowClient

    digest = params_digest(cfg)
    client = MlflowClient()
    if digest == ref.params_digest:
        return ref.run_id
    found = client.search_runs(
        [ref.experiment_id],
        filter_string=f"tags.`{TAG_TRAINED_IN}` = '{ref.run_id}' and tags.`{TAG_DIGEST}` = '{digest}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    return _fork(client, ref, cfg, digest)


def _fork(client, ref: RunRef, cfg: Config, digest: str) -> str:
    """Copy the training run (tags, metric histories, artifacts) into a new run for `cfg`."""
    from mlflow.entities import Metric, Param, RunTag

    source = client.get_run(ref.run_id)
    keep = {k: v for k, v in source.data.tags.items() if not k.startswith("mlflow.")}
    keep.update(_run_tags())
    keep.update({TAG_DIGEST: digest, TAG_FORKED_FROM: ref.run_id, TAG_TRAINED_IN: ref.run_id})
    run = client.create_run(ref.experiment_id, run_name=os.environ.get("DVC_EXP_NAME") or None)
    new_id = run.info.run_id
    client.log_batch(new_id, params=[Param(k, v) for k, v in _loggable_params(cfg).items()],
                     tags=[RunTag(k, v) for k, v in keep.items()])
    for key in source.data.metrics:
        history = client.get_metric_history(ref.run_id, key)
        metrics = [Metric(m.key, m.value, m.timestamp, m.step) for m in history]
        for start in range(0, len(metrics), 1000):
            client.log_batch(new_id, metrics=metrics[start:start + 1000])
    with tempfile.TemporaryDirectory(prefix="classlens-fork-") as tmp:
        local = client.download_artifacts(ref.run_id, "", tmp)
        if any(Path(local).iterdir()):
            client.log_artifacts(new_id, local)
    client.set_terminated(new_id)
    return new_id


# ---------------------------------------------------------------- reading runs back


def find_run(ref: str, *, tracking: TrackingConfig) -> str:
    """A run id from an MLflow run id or a DVC experiment name (tag `dvc_exp_name`, newest)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    _use_store(tracking.uri)
    client = MlflowClient()
    if len(ref) == 32 and all(c in "0123456789abcdef" for c in ref):
        try:
            return client.get_run(ref).info.run_id
        except MlflowException:
            pass
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is not None:
        found = client.search_runs([experiment.experiment_id],
                                   filter_string=f"tags.dvc_exp_name = '{ref}'",
                                   order_by=["attributes.start_time DESC"], max_results=1)
        if found:
            return found[0].info.run_id
    raise InputError(f"{ref!r} is neither an MLflow run id nor a DVC experiment name with a run "
                     f"in experiment {tracking.experiment!r} at {resolve_tracking_uri(tracking.uri)}")


def run_data(run_id: str) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """(params, latest metrics, tags) of a run."""
    from mlflow import MlflowClient

    run = MlflowClient().get_run(run_id)
    return dict(run.data.params), dict(run.data.metrics), dict(run.data.tags)


def download_artifact(run_id: str, artifact_path: str, dst: Path) -> Path:
    """Download one artifact of a run into folder `dst`; a clear error when it is absent."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return Path(MlflowClient().download_artifacts(run_id, artifact_path, str(dst)))
    except (MlflowException, OSError) as err:
        raise InputError(f"run {run_id}: artifact {artifact_path!r} not found ({err})") from None


# ---------------------------------------------------------------- logging (inside a run)


def log_metrics(metrics: dict[str, float], *, step: Optional[int] = None) -> None:
    """Log finite numbers; None (undefined) values are skipped, as MLflow has no null metric."""
    import mlflow

    clean = {k: float(v) for k, v in metrics.items() if v is not None}
    mlflow.log_metrics(clean, step=step)


def replace_artifacts(files: list[Path], artifact_dir: str) -> None:
    """Log `files` (and folders, kept whole) under `artifact_dir`, first deleting what an earlier
    run of the stage left there, including the images of its MLflow tables (`log_table` keeps
    them under `table_images/<artifact_dir>/`), so a re-run replaces, never mixes, its
    artifacts. Log the stage's tables after this call."""
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    run = mlflow.active_run()
    repo = get_artifact_repository(run.info.artifact_uri)
    for folder in (artifact_dir, f"table_images/{artifact_dir}"):
        try:
            repo.delete_artifacts(folder)
        except (NotImplementedError, OSError):  # stores that cannot delete: overwrite in place
            pass
    for path in files:
        if Path(path).is_dir():
            mlflow.log_artifacts(str(path), artifact_path=f"{artifact_dir}/{Path(path).name}")
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_dir)


def log_files(files: list[Path], artifact_dir: str) -> None:
    """Log `files` under `artifact_dir`, next to what is there (see `replace_artifacts`)."""
    import mlflow

    for path in files:
        mlflow.log_artifact(str(path), artifact_path=artifact_dir)


def log_table(frame, artifact_file: str) -> None:
    """A pandas DataFrame as an MLflow table (shown in the UI's artifact and evaluation views).
    MLflow appends to an existing table file, so log after `replace_artifacts` cleared it."""
    import mlflow

    mlflow.log_table(data=frame, artifact_file=artifact_file)


def log_image_table(frame, artifact_file: str, *, image_column: str = "image") -> None:
    """A table whose `image_column` holds uint8 images (H, W, C): MLflow stores each as a PNG
    (under `table_images/`) and the UI shows them inline in the table (`mlflow.Image` cells)."""
    import mlflow
    import numpy as np

    frame = frame.copy()
    frame[image_column] = [mlflow.Image(np.asarray(img)[..., 0] if np.asarray(img).shape[-1] == 1
                                        else np.asarray(img)) for img in frame[image_column]]
    mlflow.log_table(data=frame, artifact_file=artifact_file)


def set_tags(tags: dict[str, Any]) -> None:
    import mlflow

    mlflow.set_tags({k: str(v) for k, v in tags.items()})


def log_dataset(images, labels, *, name: str, digest: str, source: str, context: str) -> None:
    """Record the training data as an MLflow dataset input (name, digest, source, shapes)."""
    import mlflow

    dataset = mlflow.data.from_numpy(images, targets=labels, name=name, digest=digest,
                                     source=source)
    mlflow.log_input(dataset, context=context)


def epoch_metrics_callback():
    """A Keras callback logging every epoch's metrics (MLflow's own `MlflowCallback`, without
    its extra step-less `validation_*` copies of the `val_*` numbers)."""
    from mlflow.keras import MlflowCallback

    class _EpochMetrics(MlflowCallback):
        def on_train_begin(self, logs=None):  # params are logged from params.yaml instead
            pass

        def on_test_end(self, logs=None):
            pass

    return _EpochMetrics(log_every_epoch=True)


def log_image_model(model_path: Path, record_path: Path, example_images: list[bytes]) -> str:
    """Log the trained model as an MLflow pyfunc that takes image files and names classes
    (`classlens.serving.pyfunc`: signature, request format); returns its URI (tag
    `classlens.model_uri`).

    The `.keras` file and the preprocessing record travel inside it as artifacts;
    `example_images` (encoded image files) become its input example, which MLflow also checks
    by running the model once. Loading it needs the classlens package installed
    (`--env-manager local` in the project's environment).
    """
    import base64

    import mlflow
    import pandas as pd

    from classlens.serving import pyfunc

    example = pd.DataFrame({pyfunc.INPUT_COLUMN: [base64.b64encode(b).decode("ascii")
                                                  for b in example_images]})
    info = mlflow.pyfunc.log_model(
        name="model", python_model=pyfunc.MODEL_CODE,
        artifacts={pyfunc.KERAS_ARTIFACT: str(model_path),
                   pyfunc.RECORD_ARTIFACT: str(record_path)},
        signature=pyfunc.signature(), input_example=example,
        pip_requirements=_model_requirements())
    mlflow.set_tag(TAG_MODEL_URI, info.model_uri)
    return info.model_uri


def log_keras_model(model, example_images) -> str:
    """Log the trained Keras model itself with MLflow's Keras flavour, its signature inferred
    from `example_images` (uint8 model input) and the model's probabilities on them; returns its
    URI (tag `classlens.keras_model_uri`). `mlflow.keras.load_model(uri)` gives the
    `keras.Model` back, for fine-tuning or export; the image-file pyfunc of `log_image_model`
    is the one to serve."""
    import mlflow
    import mlflow.keras
    import numpy as np
    from mlflow.models import infer_signature

    examples = np.asarray(example_images)
    signature = infer_signature(examples, model.predict(examples, verbose=0))
    info = mlflow.keras.log_model(model, name="keras_model", signature=signature,
                                  pip_requirements=_model_requirements())
    mlflow.set_tag(TAG_KERAS_MODEL_URI, info.model_uri)
    return info.model_uri


def _model_requirements() -> list[str]:
    """Pinned requirements of the logged models: the versions this run used."""
    import keras
    import mlflow
    import numpy as np
    import pandas as pd
    import PIL
    import tensorflow as tf

    return [f"tensorflow=={tf.__version__}", f"keras=={keras.__version__}",
            f"numpy=={np.__version__}", f"pandas=={pd.__version__}",
            f"pillow=={PIL.__version__}", f"mlflow=={mlflow.__version__}"]


def _store_for_loading(tracking_uri: Optional[str]) -> str:
    """The store a run id / models:/ URI refers to: `tracking_uri` if given, else
    `MLFLOW_TRACKING_URI`, else the project's (`models/mlflow_run.json`), else the default."""
    import mlflow

    if tracking_uri:
        uri = resolve_tracking_uri_explicit(tracking_uri)
    else:
        ref_path = project_root() / paths.RUN_REF
        configured = "sqlite:///mlflow.db"
        if ref_path.is_file():
            configured = RunRef.read(ref_path).tracking_uri
        uri = resolve_tracking_uri(configured)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise InputError(f"{uri}: no MLflow store there; pass --tracking-uri or set "
                         "MLFLOW_TRACKING_URI")
    return _activate(uri)


def resolve_tracking_uri_explicit(uri: str) -> str:
    """Like `resolve_tracking_uri`, for a URI the user named (the environment does not win)."""
    if uri.startswith("sqlite:///") and not uri[len("sqlite:///"):].startswith("/"):
        return f"sqlite:///{Path.cwd().resolve() / uri[len('sqlite:///'):]}"
    return uri


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


def log_data_report(report_dir: Path, fingerprint: dict, class_names: list[str], *,
                    artifact_dir: str = "data") -> None:
    """The prepared data's class counts per split (a table in class order and per-split totals
    as metrics) and the prepare stage's data report folder, logged under `artifact_dir`."""
    import mlflow
    import pandas as pd

    counts = fingerprint["counts"]
    splits = [s for s in ("train", "val", "test") if s in counts]
    table = pd.DataFrame({"class": list(class_names),
                          **{s: [counts[s].get(c, 0) for c in class_names] for s in splits}})
    log_table(table, f"{artifact_dir}/class_counts.json")
    totals = {f"images_{split}": sum(counts[split].values()) for split in splits}
    log_metrics({**totals, "images_skipped": fingerprint.get("skipped", 0)})
    if Path(report_dir).is_dir():
        mlflow.log_artifacts(str(report_dir), artifact_path=f"{artifact_dir}/report")
