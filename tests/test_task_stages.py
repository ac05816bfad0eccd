"""Binary and multi-label experiments through the stages, in process, on tiny real images:
what each stage writes follows the task, and the numbers agree with scikit-learn computed
independently from the saved predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classlens import paths
from tests.conftest import copy_project, run


def test_binary_model_has_one_sigmoid_and_a_fitted_threshold(binary_project):
    record = json.loads((binary_project / paths.PREPROCESSING).read_text())
    assert record["task"] == "binary" and record["positive_index"] == 0
    thresholds = record["thresholds"]
    assert thresholds["rule"] == "f1" and len(thresholds["values"]) == 1
    assert 0.0 < thresholds["values"][0] < 1.0


def test_binary_predictions_are_decided_at_the_threshold(binary_project):
    record = json.loads((binary_project / paths.PREPROCESSING).read_text())
    threshold = record["thresholds"]["values"][0]
    table = pd.read_csv(binary_project / paths.PREDICTIONS)
    probabilities = np.load(binary_project / paths.PROBABILITIES)
    assert probabilities.shape == (len(table), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    # positive: digit0, class 0; its probability is column 0, the sigmoid's own output
    expected = np.where(probabilities[:, 0] >= threshold, 0, 1)
    np.testing.assert_array_equal(table["pred"], expected)


def test_binary_metrics_match_scikit_learn_on_the_saved_predictions(binary_project):
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    table = pd.read_csv(binary_project / paths.PREDICTIONS)
    probabilities = np.load(binary_project / paths.PROBABILITIES)
    metrics = json.loads((binary_project / paths.ALL_METRICS).read_text())
    assert metrics["accuracy"] == pytest.approx(accuracy_score(table["true"], table["pred"]))
    assert metrics["per_class"]["digit0"]["f1"] == pytest.approx(
        f1_score(table["true"], table["pred"], pos_label=0))
    assert metrics["per_class"]["digit0"]["roc_auc"] == pytest.approx(
        roc_auc_score(table["true"] == 0, probabilities[:, 0]))


def test_binary_runs_explain_and_the_report(binary_project):
    index = pd.read_csv(binary_project / paths.EXPLAIN_INDEX)
    assert len(index) and set(index["target"]) <= {0, 1}
    maps = np.load(binary_project / paths.explain_maps("gradients"))
    assert maps.shape[0] == len(index) and np.isfinite(maps).all() and maps.any()
    assert (binary_project / paths.REPORT).stat().st_size > 10_000


def test_binary_predict_command_decides_at_the_threshold_like_the_pipeline(binary_project):
    table = pd.read_csv(binary_project / paths.PREDICTIONS, dtype={"path": str})
    root = Path(yaml_params(binary_project)["data"]["root"])
    files = [str(root / p) for p in table["path"]]
    proc = run([sys.executable, "-m", "classlens.cli", "predict", "models/model.keras", *files,
                "--format", "json", "--no-progress"], cwd=binary_project)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["label"] for a in answers] == table["pred_label"].tolist()
    np.testing.assert_allclose([a["probability"] for a in answers], table["confidence"],
                               atol=1e-5)


def yaml_params(project: Path) -> dict:
    import yaml

    return yaml.safe_load((project / "params.yaml").read_text())


def _multilabel_predictions(project: Path):
    from classlens.data.prepared import load_classes, load_split

    classes = load_classes(project / paths.PREPARED_DIR)
    y_true = np.asarray(load_split("test", project / paths.PREPARED_DIR).labels)
    probabilities = np.load(project / paths.PROBABILITIES)
    record = json.loads((project / paths.PREPROCESSING).read_text())
    thresholds = np.asarray(record["thresholds"]["values"])
    return classes, y_true, probabilities, thresholds, probabilities >= thresholds[None, :]


def test_multilabel_metrics_match_scikit_learn_on_the_saved_predictions(multilabel_project):
    from sklearn import metrics as skm

    classes, y_true, p, thresholds, y_pred = _multilabel_predictions(multilabel_project)
    assert y_true.ndim == 2 and y_true.shape == p.shape and len(thresholds) == len(classes)
    assert (~y_true.any(axis=1)).any(), "the default has images without any label"
    found = json.loads((multilabel_project / paths.ALL_METRICS).read_text())
    assert found["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert found["hamming_loss"] == pytest.approx(skm.hamming_loss(y_true, y_pred))
    for avg in ("micro", "macro", "weighted", "samples"):
        assert found[f"{avg}_avg"]["f1"] == pytest.approx(
            skm.f1_score(y_true, y_pred, average=avg, zero_division=0)), avg
    per_label = skm.f1_score(y_true, y_pred, average=None, zero_division=0)
    for c, name in enumerate(classes):
        values = found["per_class"][name]
        if y_true[:, c].any():
            assert values["average_precision"] == pytest.approx(
                skm.average_precision_score(y_true[:, c], p[:, c]))
            assert values["f1"] == pytest.approx(per_label[c]), name
        assert values["threshold"] == pytest.approx(thresholds[c])
    headline = json.loads((multilabel_project / paths.METRICS).read_text())
    assert list(headline) == ["accuracy", "f1_macro", "f1_weakest", "map", "ece", "n_samples"]
    assert headline["n_samples"] == len(y_true)


def test_multilabel_table_and_confusion_files_agree(multilabel_project):
    classes, y_true, p, thresholds, y_pred = _multilabel_predictions(multilabel_project)
    table = pd.read_csv(multilabel_project / paths.PREDICTIONS, keep_default_na=False)
    assert table["correct"].tolist() == (y_true == y_pred).all(axis=1).tolist()
    assert table["n_true"].tolist() == y_true.sum(axis=1).tolist()
    confusion = json.loads((multilabel_project / paths.CONFUSION_MATRIX).read_text())
    counts = np.asarray(confusion["counts"])
    for a in range(len(classes)):
        carriers = y_true[:, a]
        assert counts[a, a] == (carriers & y_pred[:, a]).sum()
        for b in range(len(classes)):
            if a != b:
                assert counts[a, b] == (carriers & y_pred[:, b] & ~y_true[:, b]).sum()
    records = pd.read_csv(multilabel_project / paths.CONFUSION_RECORDS, keep_default_na=False)
    assert len(records) == y_true.sum() + (y_pred & ~y_true).sum()
    assert (records["predicted"] == "(missed)").sum() == (y_true & ~y_pred).sum()
    for figure in ("confusion_normalized.png", "reliability.png", "per_class_f1.png"):
        assert (multilabel_project / paths.EVAL_FIGURES / figure).stat().st_size > 5_000


def test_model_cards_say_how_the_model_ends_and_which_thresholds_decide(binary_project,
                                                                         multilabel_project):
    binary = (binary_project / paths.MODEL_CARD).read_text()
    assert "one sigmoid, the probability of `digit0` (against `digit1`)" in binary
    assert "## Decision thresholds" in binary and "| digit0 |" in binary
    assert "best F1 on the validation split" in binary
    card = (multilabel_project / paths.MODEL_CARD).read_text()
    assert "one sigmoid per label (10 labels" in card
    section = card.split("## Decision thresholds")[1].split("##")[0]
    rows = [line for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| label")]
    record = json.loads((multilabel_project / paths.PREPROCESSING).read_text())
    assert [float(row.split("|")[2]) for row in rows] == pytest.approx(
        record["thresholds"]["values"], abs=1e-4)
    assert "Without any label: train" in card


@pytest.mark.parametrize("overrides,needle", [  # the other mismatches: test_tasks (pure)
    (["task=multiclass", "data=digits_mosaics"], "is multi-label"),
    (["task=binary", "data=folder", "data.root=.", "data.class_names=[ok,bad]",
      "task.positive_class=good"], "task.positive_class"),
])
def test_a_task_that_does_not_fit_the_data_stops_in_check_with_one_line(tmp_path, overrides,
                                                                         needle):
    from tests.helpers import classlens_lines

    project = copy_project(tmp_path / "project")
    run([sys.executable, "-m", "classlens.cli", "params", *overrides], cwd=project)
    proc = run([sys.executable, "stages/check.py"], cwd=project, check=False)
    (line,) = classlens_lines(proc.stderr)
    assert proc.returncode == 2 and needle in line and line.startswith("classlens check:"), line
    assert not (project / paths.CHECKED).exists()


def test_binary_evaluation_has_the_operating_point_and_the_untuned_numbers(binary_project):
    from sklearn.metrics import confusion_matrix, f1_score

    table = pd.read_csv(binary_project / paths.PREDICTIONS)
    probabilities = np.load(binary_project / paths.PROBABILITIES)
    found = json.loads((binary_project / paths.ALL_METRICS).read_text())
    point = found["operating_point"]
    # the positive class is digit0 (label 0): it is the matrix's "positive" row and column
    (tp, fn), (fp, tn) = confusion_matrix(table["true"], table["pred"], labels=[0, 1]).tolist()
    assert (point["tp"], point["fp"], point["fn"], point["tn"]) == (tp, fp, fn, tn)
    assert point["tpr"] == pytest.approx(tp / (tp + fn)) and point["positive_index"] == 0
    untuned = found["untuned"]
    at_half = np.where(probabilities[:, 0] >= 0.5, 0, 1)
    assert untuned["threshold"] == 0.5
    assert untuned["f1"] == pytest.approx(f1_score(table["true"], at_half, pos_label=0))
    report = (binary_project / paths.REPORT).read_text()
    decisions = report.split("<section id='decisions'>")[1].split("</section>")[0]
    assert "positive class digit0" in decisions and "true digit0" in decisions


def test_multilabel_evaluation_has_the_untuned_numbers(multilabel_project):
    from sklearn.metrics import f1_score

    _, y_true, p, _, _ = _multilabel_predictions(multilabel_project)
    untuned = json.loads((multilabel_project / paths.ALL_METRICS).read_text())["untuned"]
    assert untuned["f1_macro"] == pytest.approx(
        f1_score(y_true, p >= 0.5, average="macro", zero_division=0))


@pytest.mark.slow
def test_the_multilabel_default_runs_through_dvc(tmp_path):
    """The README's multi-label command on the full default config: every stage under DVC,
    and a model that learned (macro F1 and mAP well above a constant guess)."""
    from tests.conftest import init_repo

    project = copy_project(tmp_path / "full", changes={})
    init_repo(project)
    proc = run(["dvc", "exp", "run", "-S", "task=multilabel", "-S", "data=digits_mosaics"],
               cwd=project)
    for stage in ("check", "prepare", "train", "predict", "evaluate", "analyze", "explain",
                  "report", "gate"):
        assert f"Running stage '{stage}'" in proc.stdout, stage
    headline = json.loads((project / paths.METRICS).read_text())
    assert list(headline) == ["accuracy", "f1_macro", "f1_weakest", "map", "ece", "n_samples"]
    print(f"multi-label default: {headline}")
    assert headline["f1_macro"] >= 0.9 and headline["map"] >= 0.9, headline
    found = json.loads((project / paths.ALL_METRICS).read_text())
    assert found["untuned"]["f1_macro"] <= headline["f1_macro"] + 0.02  # tuning did not hurt


def test_the_gate_judges_multilabel_numbers_per_label(multilabel_project, tmp_path):
    """Rules name multi-label numbers by path (mAP, every label's F1); a baseline whose mAP and
    one label's F1 were higher fails on exactly those."""
    import yaml

    metrics = json.loads((multilabel_project / paths.ALL_METRICS).read_text())
    baseline = json.loads(json.dumps(metrics))
    baseline["mean_average_precision"] += 0.1
    first = next(iter(baseline["per_class"]))
    baseline["per_class"][first]["f1"] += 0.3
    baseline.pop("bootstrap")  # no intervals: a drop is judged as it is, not as noise
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    rules = {"baseline_rev": "main", "baseline_file": None, "noise": "warn",
             "fail_pipeline": False,
             "rules": [{"metric": "mean_average_precision", "max_drop": 0.05},
                       {"metric": "per_class.*.f1", "max_drop": 0.2},
                       {"metric": "hamming_loss", "max_drop": 0.05}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"gate": rules}))
    proc = run([sys.executable, "-m", "classlens.cli", "gate", "--metrics",
                str(multilabel_project / paths.ALL_METRICS), "--baseline-file",
                str(tmp_path / "baseline.json"), "--rules", str(tmp_path / "rules.yaml"),
                "--out-dir", str(tmp_path / "gate")], cwd=multilabel_project, check=False)
    verdict = json.loads((tmp_path / "gate" / "gate.json").read_text())
    assert proc.returncode == 1 and verdict["verdict"] == "fail", proc.stdout
    assert set(verdict["failed"]) == {"mean_average_precision", f"per_class.{first}.f1"}
    rows = {row["metric"]: row for row in verdict["rows"]}
    assert rows["hamming_loss"]["verdict"] == "pass" and len(rows) == 2 + len(metrics["per_class"])


def _test_pngs(project: Path, folder: Path, n: int) -> list[Path]:
    """The first `n` prepared test images written as PNG files (they decode to the same
    pixels: the prepared size, no resize)."""
    from classlens.serving.preprocessing import encode_png

    images = np.load(project / paths.split_images("test"))[:n]
    folder.mkdir()
    files = [folder / f"{i}.png" for i in range(n)]
    for file, image in zip(files, images):
        file.write_bytes(encode_png(image))
    return files


def test_multilabel_predict_and_served_model_answer_with_the_pipelines_label_sets(
        multilabel_project, tmp_path, monkeypatch):
    """`classlens predict` and the logged MLflow model give, per image, the label set the
    predict stage decided and every label's probability with its threshold."""
    import base64

    import mlflow

    table = pd.read_csv(multilabel_project / paths.PREDICTIONS, keep_default_na=False)
    files = _test_pngs(multilabel_project, tmp_path / "pngs", 6)
    proc = run([sys.executable, "-m", "classlens.cli", "predict", "models/model.keras",
                *map(str, files), "--format", "json", "--no-progress"], cwd=multilabel_project)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    expected = [cell.split("|") if cell else [] for cell in table["pred_labels"][:6]]
    assert [a["labels"] for a in answers] == expected
    record = json.loads((multilabel_project / paths.PREPROCESSING).read_text())
    p = np.load(multilabel_project / paths.PROBABILITIES)[:6]
    for answer, row in zip(answers, p):
        assert [s["threshold"] for s in answer["probabilities"]] == pytest.approx(
            record["thresholds"]["values"])
        assert [s["probability"] for s in answer["probabilities"]] == pytest.approx(row, abs=1e-5)

    # an earlier test's mlflow.set_tracking_uri() outranks the variable: set both
    store = f"sqlite:///{multilabel_project / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    ref = json.loads((multilabel_project / paths.RUN_REF).read_text())
    uri = mlflow.MlflowClient().get_run(ref["run_id"]).data.tags["classlens.model_uri"]
    served = mlflow.pyfunc.load_model(uri)
    frame = pd.DataFrame({"image": [base64.b64encode(f.read_bytes()).decode() for f in files]})
    assert [r["labels"] for r in served.predict(frame)] == expected
    assert served.metadata.signature.outputs.input_names() == ["labels", "probabilities"]


def test_the_card_names_a_label_that_fell_back_and_why():
    from classlens.reporting.card_task import decision_section

    lines = decision_section({
        "task": "multilabel", "class_names": ["cat", "dog"],
        "thresholds": {"values": [0.31, 0.5], "rule": "precision", "target": 0.9,
                       "fallback": {"1": "no positive image in the validation split"}}})
    text = "\n".join(lines)
    assert "the lowest threshold whose validation precision reaches 0.9" in text
    assert "| cat | 0.31 | fitted |" in text
    assert "| dog | 0.5 | no positive image in the validation split |" in text
