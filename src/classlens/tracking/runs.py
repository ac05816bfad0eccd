"""The experiment's MLflow run, shared by every stage (reading runs back: `tracking.lookup`).

The train stage creates the run and writes a reference to it (`models/mlflow_run.json`, a DVC
output). Every later stage opens that run and logs into it. Each run is tagged with the digest of
the whole `params.yaml` it was made under; when a later stage runs under different params than the
training run (an experiment that changes only, say, `evaluate.top_k`, so DVC reuses the cached
model), the stage does not write into the other experiment's run: it logs into a copy of it
(params re-logged, metrics and artifacts copied, tag `classlens.forked_from`), found again by the
next stage of the same experiment. A stage that DVC re-runs under the same params replaces its
own artifact folder in the run instead of starting a stray run.

A reference to a run the current store does not hold (a colleague's clone after `dvc pull`, a
different server) is not an error: the stage starts a run in this store, tagged with the original
run id and store, and the next stages find that one. A run left RUNNING by a stage that was killed
is marked KILLED by the next stage that opens a run in the experiment (`tracking.orphans`).

`params` below is the whole validated config as a plain nested dict (`dataclasses.asdict(cfg)`);
the stage passes it, so tracking needs no knowledge of the config schema.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
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
from classlens.tracking.orphans import TAG_PROCESS, end_abandoned_runs, this_process
from classlens.tracking.store import (check_artifact_location, experiment_id,
                                      resolve_tracking_uri, use_store)

TAG_DIGEST = "classlens.params_digest"
TAG_TRAINED_IN = "classlens.trained_in_run"
TAG_FORKED_FROM = "classlens.forked_from"
TAG_ORIGINAL_RUN = "classlens.original_run"  # a run started because the store lacked this one
TAG_ORIGINAL_STORE = "classlens.original_store"

log = logging.getLogger(__name__)

Params = Mapping[str, Any]  # the whole validated config as a plain nested dict


# ---------------------------------------------------------------- the run reference


@dataclass(frozen=True)
class RunRef:
    """What later stages need to find the training run (`models/mlflow_run.json`)."""

    run_id: str
    experiment_id: str
    tracking_uri: str  # as configured (relative paths stay relative, so the repo can move)
    params_digest: str
    store: str = ""  # the store used: MLFLOW_TRACKING_URI if set, else tracking_uri ("": older)

    @property
    def store_uri(self) -> str:
        """Where the run was logged (before `resolve_tracking_uri`, which lets the environment
        of the reading process win)."""
        return self.store or self.tracking_uri

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


def git_output(*args: str) -> str:
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
    commit = git_output("rev-parse", "HEAD")
    if commit:
        tags["git_commit"] = commit
    branch = git_output("rev-parse", "--abbrev-ref", "HEAD")
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
    return git_output("rev-parse", "--short", "HEAD") or None  # detached: only then one more call


# ---------------------------------------------------------------- opening runs


@contextmanager
def training_run(store: TrackingConfig, params: Params, *, data_fingerprint: dict
                 ) -> Iterator[RunRef]:
    """Start the experiment's run in `store`: tags, every param, the dataset digest. Yields its
    `RunRef`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    used = _store_used(store.uri)
    use_store(store.uri)  # an unreachable server fails here, before training starts
    digest = params_digest(params)
    try:
        experiment = experiment_id(store.experiment)
        end_abandoned_runs(experiment)
        tags = _run_tags()
        with mlflow.start_run(experiment_id=experiment, run_name=run_name(tags)) as run:
            run_id = run.info.run_id
            mlflow.set_tags({**tags, TAG_DIGEST: digest, TAG_TRAINED_IN: run_id,
                             TAG_PROCESS: this_process(),
                             "data_fingerprint": data_fingerprint["digest"]})
            mlflow.log_params(param_values(params))
            yield RunRef(run_id=run_id, experiment_id=experiment,
                         tracking_uri=store.uri, params_digest=digest, store=used)
    except MlflowException as err:
        raise InputError(f"MLflow logging failed ({str(err).splitlines()[0][:200]}); re-run "
                         "once the store is back") from None


@contextmanager
def stage_run(run_ref_path: Path, params: Params) -> Iterator[str]:
    """Open the experiment's run for a stage after train; yields the run id.

    The run is the training run when it was made under the same params, else this experiment's
    fork of it (created on first use) for `params`; when this store does not hold the training
    run at all, a run started here for it (see the module docstring).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    ref = RunRef.read(run_ref_path)
    # this process's store (the environment wins, as for train), not the one recorded: that
    # one may be another machine's file (`ref.store` is for `classlens predict <run id>`)
    use_store(ref.tracking_uri)
    try:
        run_id = _find_or_fork(ref, params)
        with mlflow.start_run(run_id=run_id):
            mlflow.set_tag(TAG_PROCESS, this_process())
            yield run_id
    except MlflowException as err:
        raise InputError(f"MLflow logging failed ({str(err).splitlines()[0][:200]}); re-run "
                         "the stage once the store is back") from None


def _store_used(configured: str) -> str:
    """What `RunRef.store` records: the environment's store when it overrides `configured`
    (anchored as `resolve_tracking_uri` anchors it), else `configured` itself."""
    return resolve_tracking_uri(configured) if os.environ.get("MLFLOW_TRACKING_URI") else configured


def _find_or_fork(ref: RunRef, params: Params) -> str:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    digest = params_digest(params)
    client = MlflowClient()
    present = True
    try:  # absent, or deleted from this store: start one here; any other error is an error
        present = client.get_run(ref.run_id).info.lifecycle_stage != "deleted"
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        present = False
    if present:
        check_artifact_location(ref.experiment_id)  # a copied checkout must not log elsewhere
        experiment = ref.experiment_id
    else:  # a clone, or another server: this store has its own id for the experiment
        experiment = experiment_id(params["tracking"]["experiment"])
    end_abandoned_runs(experiment)
    if present and digest == ref.params_digest:
        return ref.run_id
    found = client.search_runs(
        [experiment],
        filter_string=f"tags.`{TAG_TRAINED_IN}` = '{ref.run_id}' and tags.`{TAG_DIGEST}` = '{digest}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    if not present:
        return _start_in_this_store(client, ref, params, digest, experiment)
    return _fork(client, ref, params, digest)


def _start_in_this_store(client, ref: RunRef, params: Params, digest: str,
                         experiment: str) -> str:
    """A run in the active store for a training run it does not hold: params and tags as the
    training run had them, the original id and store as tags; the training metrics and files
    stay with the original (models/ holds the files)."""
    from mlflow.entities import Param, RunTag

    tags = _run_tags()
    tags.update({TAG_DIGEST: digest, TAG_TRAINED_IN: ref.run_id, TAG_ORIGINAL_RUN: ref.run_id,
                 TAG_ORIGINAL_STORE: ref.store_uri})
    run = client.create_run(experiment, run_name=run_name(tags))
    client.log_batch(run.info.run_id,
                     params=[Param(k, v) for k, v in param_values(params).items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    client.set_terminated(run.info.run_id)
    log.warning("MLflow run %s of models/mlflow_run.json is not in this store (%s): logging to "
                "a new run %s tagged %s=%s", ref.run_id, resolve_tracking_uri(ref.store_uri),
                run.info.run_id, TAG_ORIGINAL_RUN, ref.run_id)
    return run.info.run_id


def _fork(client, ref: RunRef, params: Params, digest: str) -> str:
    """Copy the training run (tags, metric histories, artifacts) into a new run for `params`."""
    from mlflow.entities import Metric, Param, RunTag

    source = client.get_run(ref.run_id)
    keep = {k: v for k, v in source.data.tags.items()
            if not k.startswith("mlflow.") and k != TAG_PROCESS}
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
