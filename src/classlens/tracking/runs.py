"""The experiment's MLflow run, shared by every stage, and reading runs back.

The train stage creates the run and writes a reference to it (`models/mlflow_run.json`, a DVC
output). Every later stage opens that run and logs into it. Each run is tagged with the digest of
the whole `params.yaml` it was made under; when a later stage runs under different params than the
training run (an experiment that changes only, say, `evaluate.top_k`, so DVC reuses the cached
model), the stage does not write into the other experiment's run: it logs into a copy of it
(params re-logged, metrics and artifacts copied, tag `classlens.forked_from`), found again by the
next stage of the same experiment. A stage that DVC re-runs under the same params replaces its
own artifact folder in the run instead of starting a stray run.

`params` below is the whole validated config as a plain nested dict (`dataclasses.asdict(cfg)`);
the stage passes it, so tracking needs no knowledge of the config schema.
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
from typing import Any, Iterator, Mapping, Optional

from classlens.atomic import write_json
from classlens.errors import InputError
from classlens.tracking.naming import param_values
from classlens.tracking.options import TrackingConfig
from classlens.tracking.store import (check_artifact_location, experiment_id,
                                      resolve_tracking_uri, use_store)

TAG_DIGEST = "classlens.params_digest"
TAG_TRAINED_IN = "classlens.trained_in_run"
TAG_FORKED_FROM = "classlens.forked_from"

Params = Mapping[str, Any]  # the whole validated config as a plain nested dict


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


def params_digest(params: Params) -> str:
    """A short content hash of the whole validated config (`params` as a plain nested dict)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _git(*args: str) -> str:
    """`git <args>` in the current folder, its output stripped; "" when git or the repo is not
    there (a project folder need not be a git checkout)."""
    import subprocess

    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _run_tags() -> dict[str, str]:
    """Git commit and branch, and the DVC experiment tags (set by DVC in `dvc exp run`)."""
    tags = {}
    commit = _git("rev-parse", "HEAD")
    if commit:
        tags["git_commit"] = commit
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags["git_branch"] = branch
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if os.environ.get(var):
            tags[var.lower()] = os.environ[var]
    return tags


def run_name(tags: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """What the run is called, so that `classlens compare` and the MLflow UI find it by a name
    people know: the DVC experiment's name under `dvc exp run`, else the git branch (`main`),
    else the short commit of a detached checkout; None outside git (MLflow picks a name).
    Drawn from `tags` (`_run_tags()`, asked for when not given)."""
    tags = _run_tags() if tags is None else tags
    name = tags.get("dvc_exp_name") or tags.get("git_branch")
    if name or "git_commit" not in tags:
        return name or None
    return _git("rev-parse", "--short", "HEAD") or None  # detached: only then one more call



# ---------------------------------------------------------------- opening runs


@contextmanager
def training_run(store: TrackingConfig, params: Params, *, data_fingerprint: dict
                 ) -> Iterator[RunRef]:
    """Start the experiment's run in `store`: tags, every param, the dataset digest. Yields its
    `RunRef`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    use_store(store.uri)  # an unreachable server fails here, before training starts
    digest = params_digest(params)
    try:
        experiment = experiment_id(store.experiment)
        tags = _run_tags()
        with mlflow.start_run(experiment_id=experiment, run_name=run_name(tags)) as run:
            run_id = run.info.run_id
            mlflow.set_tags({**tags, TAG_DIGEST: digest, TAG_TRAINED_IN: run_id,
                             "data_fingerprint": data_fingerprint["digest"]})
            mlflow.log_params(param_values(params))
            yield RunRef(run_id=run_id, experiment_id=experiment,
                         tracking_uri=store.uri, params_digest=digest)
    except MlflowException as err:
        raise InputError(f"MLflow logging failed ({str(err).splitlines()[0][:200]}); output "
                         "files already written are kept; re-run once the store is back") from None


@contextmanager
def stage_run(run_ref_path: Path, params: Params) -> Iterator[str]:
    """Open the experiment's run for a stage after train; yields the run id.

    The run is the training run when it was made under the same params, else this experiment's
    fork of it (created on first use) for `params`.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    ref = RunRef.read(run_ref_path)
    try:
        use_store(ref.tracking_uri)
    except InputError as err:
        raise InputError(f"{err}; this stage's output files are written, only logging failed "
                         "(re-run the stage once the store is back)") from None
    try:
        check_artifact_location(ref.experiment_id)  # a copied checkout must not log elsewhere
        run_id = _find_or_fork(ref, params)
        with mlflow.start_run(run_id=run_id):
            yield run_id
    except MlflowException as err:
        raise InputError(f"MLflow logging failed ({str(err).splitlines()[0][:200]}); this "
                         "stage's output files are written; re-run it once the store is "
                         "back") from None


def _find_or_fork(ref: RunRef, params: Params) -> str:
    from mlflow import MlflowClient

    digest = params_digest(params)
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
    return _fork(client, ref, params, digest)


def _fork(client, ref: RunRef, params: Params, digest: str) -> str:
    """Copy the training run (tags, metric histories, artifacts) into a new run for `params`."""
    from mlflow.entities import Metric, Param, RunTag

    source = client.get_run(ref.run_id)
    keep = {k: v for k, v in source.data.tags.items() if not k.startswith("mlflow.")}
    tags = _run_tags()
    keep.update(tags)
    keep.update({TAG_DIGEST: digest, TAG_FORKED_FROM: ref.run_id, TAG_TRAINED_IN: ref.run_id})
    run = client.create_run(ref.experiment_id, run_name=run_name(tags))
    new_id = run.info.run_id
    client.log_batch(new_id, params=[Param(k, v) for k, v in param_values(params).items()],
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
    """The run `ref` names, tried in this order: an MLflow run id; a DVC experiment name (tag
    `dvc_exp_name`); a run name (a plain `dvc repro` is named after its git branch, e.g. `main`);
    a git revision (branch, tag, commit: the run of a plain `dvc repro` at that commit, not an
    experiment based on it). The newest run wins where several match."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    use_store(tracking.uri)
    client = MlflowClient()
    if len(ref) == 32 and all(c in "0123456789abcdef" for c in ref):
        try:
            return client.get_run(ref).info.run_id
        except MlflowException:
            pass
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is not None:
        quoted = ref.replace("'", "\\'")
        for where in (f"tags.dvc_exp_name = '{quoted}'", f"attributes.run_name = '{quoted}'"):
            found = client.search_runs([experiment.experiment_id], filter_string=where,
                                       order_by=["attributes.start_time DESC"], max_results=1)
            if found:
                return found[0].info.run_id
        commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if commit:
            found = client.search_runs([experiment.experiment_id],
                                       filter_string=f"tags.git_commit = '{commit}'",
                                       order_by=["attributes.start_time DESC"], max_results=50)
            plain = [r for r in found if "dvc_exp_name" not in r.data.tags]
            if plain:
                return plain[0].info.run_id
    raise InputError(
        f"{ref!r}: no run found in experiment {tracking.experiment!r} at "
        f"{resolve_tracking_uri(tracking.uri)}; accepted: an MLflow run id, a DVC experiment "
        "name (`dvc exp list`), a run name, or a git revision with a `dvc repro` run "
        "(`mlflow runs list --experiment-name ...` lists them)")


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
