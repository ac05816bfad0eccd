"""Logging into the active MLflow run (the stage opened it with `classlens.tracking.runs`):
metrics, artifact folders a re-run replaces, tables (with inline images), tags, the training
dataset, per-epoch Keras metrics, and the prepare stage's data report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional


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


def log_for_compare(files: list[Path]) -> None:
    """Also log `files` at the run's artifact root. MLflow's compare page shows only the
    top-level files that every compared run has (it skips folders), so each stage puts its few
    always-written headline files there too; a re-run overwrites them. Never a file that only
    some runs have: a re-run would leave a stale copy."""
    import mlflow

    for path in files:
        mlflow.log_artifact(str(path))


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
    """A Keras callback logging every epoch's metrics under their history names (`train/loss`,
    `val/accuracy`, `learning_rate`: `classlens.naming.epoch_metric_name`), so the per-epoch
    training accuracy never shadows the evaluate stage's `test/accuracy`. MLflow's own
    `MlflowCallback`, without its params and its step-less `validation_*` copies."""
    from mlflow.keras import MlflowCallback

    from classlens.naming import epoch_metric_name

    class _EpochMetrics(MlflowCallback):
        def on_train_begin(self, logs=None):  # params are logged from params.yaml instead
            pass

        def on_test_end(self, logs=None):
            pass

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, None if logs is None else
                                 {epoch_metric_name(k): v for k, v in logs.items()})

    return _EpochMetrics(log_every_epoch=True)

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
