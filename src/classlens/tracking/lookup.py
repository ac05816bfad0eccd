"""Reading runs back (`classlens compare`): find a run by the names people use, its params,
metrics and tags, one of its artifacts."""

from __future__ import annotations

from pathlib import Path

from classlens.errors import InputError
from classlens.tracking.options import TrackingConfig
from classlens.tracking.runs import git_output
from classlens.tracking.store import resolve_tracking_uri, use_store


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
        commit = git_output("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
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
