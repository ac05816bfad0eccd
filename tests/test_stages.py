"""Each stage on the shrunk project: the files it writes, what its MLflow run holds, and the
one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from classlens import paths
from tests.conftest import run
from tests.helpers import one_line_error


def _in(project: Path, rel: Path) -> Path:
    return project / rel


def test_prepare_outputs(trained_project):
    fingerprint = json.loads(_in(trained_project, paths.FINGERPRINT).read_text())
    assert fingerprint["num_classes"] == 10 and fingerprint["image_shape"] == [8, 8, 1]
    manifest = pd.read_csv(_in(trained_project, paths.MANIFEST))
    assert manifest["id"].is_unique and len(manifest) == 1797


def test_train_outputs(trained_project):
    history = pd.read_csv(_in(trained_project, paths.HISTORY))
    assert list(history["epoch"]) == [1, 2]
    assert list(history.columns[:2]) == ["epoch", "phase"]
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy",
            "learning_rate"} <= set(history.columns)
    assert _in(trained_project, paths.TRAINING_CURVES).stat().st_size > 0
    ref = json.loads(_in(trained_project, paths.RUN_REF).read_text())
    assert set(ref) == {"run_id", "experiment_id", "tracking_uri", "params_digest", "store"}
    assert ref["store"] == ref["tracking_uri"]  # no MLFLOW_TRACKING_URI: the configured store
    assert (trained_project / "mlflow.db").exists()


def test_stages_run_by_hand_keep_the_files_beside_their_outputs(trained_project):
    """train and evaluate share their folders with DVC's .gitignore (and models/ perhaps with
    the user's own files): they replace their outputs, not the folder; no staging left over."""
    from tests.conftest import DVC_GITIGNORES

    for folder, content in DVC_GITIGNORES.items():
        assert (trained_project / folder / ".gitignore").read_text() == content
        assert not [p.name for p in (trained_project / folder).iterdir()
                    if p.name.endswith(".tmp") or p.name.endswith(".old")]
    assert _in(trained_project, paths.PREPROCESSING).is_file()
    assert _in(trained_project, paths.MODEL_CARD).is_file()


def test_predict_table_is_one_row_per_test_image(trained_project):
    table = pd.read_csv(_in(trained_project, paths.PREDICTIONS), dtype={"true_label": str,
                                                                       "pred_label": str})
    probs = np.load(_in(trained_project, paths.PROBABILITIES))
    manifest = pd.read_csv(_in(trained_project, paths.MANIFEST))
    test_ids = manifest[manifest.split == "test"].sort_values("position")["id"]
    assert table["id"].tolist() == test_ids.tolist()
    assert probs.shape == (len(table), 10)
    np.testing.assert_array_equal(table["pred"], probs.argmax(1))
    assert (table["correct"] == (table["pred"] == table["true"])).all()
    assert {f"top{i}_label" for i in range(1, 6)} <= set(table.columns)


def test_evaluate_outputs_match_the_predictions(trained_project):
    metrics = json.loads(_in(trained_project, paths.ALL_METRICS).read_text())
    table = pd.read_csv(_in(trained_project, paths.PREDICTIONS))
    assert metrics["accuracy"] == pytest.approx(table["correct"].mean())
    assert set(metrics["per_class"]) == {str(i) for i in range(10)}
    assert "top_3_accuracy" in metrics
    # metrics.json: the compact headline, drawn from the full file, in display order
    headline = json.loads(_in(trained_project, paths.METRICS).read_text())
    assert list(headline) == ["accuracy", "f1_macro", "f1_weakest", "log_loss", "ece",
                              "n_samples"]
    assert headline["accuracy"] == metrics["accuracy"]
    assert headline["f1_macro"] == metrics["macro_avg"]["f1"]
    assert headline["f1_weakest"] == min(v["f1"] for v in metrics["per_class"].values())
    assert headline["ece"] == metrics["calibration"]["ece"]
    assert headline["n_samples"] == len(table)
    records = pd.read_csv(_in(trained_project, paths.CONFUSION_RECORDS))
    assert list(records.columns) == ["actual", "predicted"] and len(records) == len(table)
    matrix = json.loads(_in(trained_project, paths.CONFUSION_MATRIX).read_text())
    assert np.asarray(matrix["counts"]).sum() == len(table)
    for png in (paths.CONFUSION_COUNTS_PNG, paths.CONFUSION_NORMALIZED_PNG):
        assert _in(trained_project, png).read_bytes()[:4] == b"\x89PNG"


def test_analyze_outputs(trained_project):
    correct = pd.read_csv(_in(trained_project, paths.CORRECT))
    wrong = pd.read_csv(_in(trained_project, paths.MISCLASSIFIED))
    assert len(correct) + len(wrong) == 360
    assert correct["correct"].all() and not wrong["correct"].any()
    pairs = pd.read_csv(_in(trained_project, paths.CONFUSED_PAIRS))
    assert pairs["count"].sum() == len(wrong)
    assert _in(trained_project, paths.GALLERY_PNG).read_bytes()[:4] == b"\x89PNG"


def test_one_mlflow_run_holds_every_stage(trained_project):
    ref = json.loads(_in(trained_project, paths.RUN_REF).read_text())
    mlflow.set_tracking_uri(f"sqlite:///{trained_project / 'mlflow.db'}")  # for models:/ below
    client = mlflow.MlflowClient()
    assert len(client.search_runs([ref["experiment_id"]])) == 1
    run = client.get_run(ref["run_id"])
    for key in ("test/f1_macro", "test/f1/0", "test/precision/9", "test/recall/3",
                "test/support/5", "val/loss", "train/loss", "train/accuracy", "learning_rate",
                "train/best_epoch", "n_misclassified"):
        assert key in run.data.metrics, key
    # nothing un-namespaced that a later stage could shadow
    assert not {"accuracy", "loss", "val_loss", "val_accuracy"} & set(run.data.metrics)
    metrics = json.loads(_in(trained_project, paths.ALL_METRICS).read_text())
    assert run.data.metrics["test/top_3_accuracy"] == pytest.approx(metrics["top_3_accuracy"],
                                                                    abs=1e-9)
    assert len(client.get_metric_history(ref["run_id"], "val/loss")) == 2  # per epoch
    assert run.data.params["model.filters"] == "[8, 16]"
    assert run.data.tags["data_fingerprint"]
    artifacts = {a.path for folder in ("train", "predict", "evaluate", "analyze", "explain")
                 for a in client.list_artifacts(ref["run_id"], folder)}
    for name in ("evaluate/confusion_matrix.json", "evaluate/all_metrics.json", "evaluate/figures",
                 "analyze/misclassified_gallery.png", "explain/comparison.png",
                 "train/training_curves.png", "predict/predictions.csv"):
        assert name in artifacts, name
    assert run.inputs.dataset_inputs[0].dataset.digest
    model_uri = run.data.tags["classlens.model_uri"]
    loaded = mlflow.pyfunc.load_model(model_uri)
    assert loaded.metadata.signature is not None


def test_mlflow_accuracy_is_the_test_accuracy(trained_project):
    ref = json.loads(_in(trained_project, paths.RUN_REF).read_text())
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{trained_project / 'mlflow.db'}")
    logged = client.get_run(ref["run_id"]).data.metrics  # the latest value of each key
    metrics = json.loads(_in(trained_project, paths.METRICS).read_text())
    assert logged["test/accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-9)
    assert logged["test/f1_macro"] == pytest.approx(metrics["f1_macro"], abs=1e-9)
    history = pd.read_csv(_in(trained_project, paths.HISTORY))
    assert logged["train/accuracy"] == pytest.approx(history["train/accuracy"].iloc[-1])


# ---------------------------------------------------------------- bad input


def _stage(project: Path, name: str) -> subprocess.CompletedProcess:
    return run([sys.executable, f"stages/{name}.py"], cwd=project, check=False)


def test_missing_params_key_stops_with_one_line(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    del params["train"]["epochs"]
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    one_line_error(_stage(project, "prepare"), "params.yaml", "train.epochs")


def test_unknown_model_stops_with_one_line(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"]["architecture"] = "transformer9000"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    one_line_error(_stage(project, "train"), "model.architecture", "transformer9000")


def test_missing_data_folder_stops_with_one_line_and_writes_nothing(project):
    one_line_error(_stage(project, "train"), "data/prepared", "not found")
    assert not (project / "models").exists()


def test_failing_stage_keeps_previous_outputs_whole(trained_copy):
    # A corrupt probabilities file makes evaluate fail after it started: the eval folder and
    # metrics.json from the last good run must be left exactly as they were.
    project = trained_copy
    before = (project / paths.METRICS).read_text()
    listing = sorted(p.name for p in (project / paths.EVAL_DIR).iterdir())
    np.save(project / paths.PROBABILITIES, np.ones((3, 2)))
    proc = _stage(project, "evaluate")
    one_line_error(proc, str(paths.PROBABILITIES.name))
    assert (project / paths.METRICS).read_text() == before
    assert sorted(p.name for p in (project / paths.EVAL_DIR).iterdir()) == listing
    assert not list(project.glob("data/.eval*"))
