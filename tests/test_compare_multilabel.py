"""`classlens compare` for multi-label runs: flips are changed label sets (labels gained and
lost), split by exact match; the paired change agrees with the point change."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from classlens.evaluation.compare_multilabel import (joined_label_sets, label_set_flips,
                                                     label_sets, paired_change)
from classlens.evaluation.predictions import multilabel_table
from tests.test_compare import _log_run

LABELS = ["cat", "dog", "sun"]


def _table(y_true, y_pred):
    return multilabel_table(ids=[f"img:{i}" for i in range(len(y_true))],
                            source_paths=[""] * len(y_true), y_true=y_true,
                            probabilities=np.where(y_pred, 0.9, 0.1),
                            thresholds=[0.5] * y_true.shape[1], class_names=LABELS)


def test_label_set_flips_name_gained_and_lost_labels():
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    pred_a = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    pred_b = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    joined = joined_label_sets(_table(y_true, pred_a), _table(y_true, pred_b))
    right_to_wrong, wrong_to_right, still_wrong = label_set_flips(joined)
    assert right_to_wrong[["id", "gained", "lost"]].values.tolist() == [["img:0", "", "sun"]]
    assert wrong_to_right[["id", "gained", "lost"]].values.tolist() == [["img:1", "dog", ""]]
    assert still_wrong[["id", "gained", "lost"]].values.tolist() == [["img:2", "dog", "cat"]]
    np.testing.assert_array_equal(label_sets(joined["pred_labels_B"], LABELS), pred_b)


def test_paired_change_agrees_with_the_point_change():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y_true = rng.random((300, 3)) < 0.4
    pred_a = y_true ^ (rng.random((300, 3)) < 0.1)
    pred_b = y_true ^ (rng.random((300, 3)) < 0.2)
    change = paired_change(y_true, pred_a, pred_b, resamples=300, seed=0)
    exact_a, exact_b = _exact(y_true, pred_a), _exact(y_true, pred_b)
    assert change.right_to_wrong == int((exact_a & ~exact_b).sum())
    assert change.wrong_to_right == int((~exact_a & exact_b).sum())
    point = exact_b.mean() - exact_a.mean()
    low, high = change.intervals["accuracy"]
    assert low <= point <= high < 0
    f1 = (f1_score(y_true, pred_b, average="macro", zero_division=0)
          - f1_score(y_true, pred_a, average="macro", zero_division=0))
    low, high = change.intervals["macro_avg.f1"]
    assert low <= f1 <= high
    assert change.mcnemar_p is not None and change.mcnemar_p < 0.05


def _exact(y_true, pred):
    """Per image: is the predicted label set exactly the true one."""
    return (pred == y_true).all(axis=1)


@pytest.fixture
def multilabel_page(tmp_path, monkeypatch):
    import mlflow

    from classlens.evaluation import results
    from classlens.evaluation.multilabel import multilabel_report
    from classlens.reporting.compare_page import compare_runs, write
    from classlens.tracking.options import TrackingConfig

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("classlens",
                                          artifact_location=(tmp_path / "art").as_uri())
    rng = np.random.default_rng(1)
    y_true = rng.random((200, 3)) < 0.4
    runs = {}
    for name, noise in (("a", 0.05), ("b", 0.2)):
        pred = y_true ^ (rng.random(y_true.shape) < noise)
        p = np.where(pred, 0.8, 0.2)
        report = multilabel_report(y_true, p, [0.5] * 3, label_names=LABELS,
                                   bootstrap_resamples=100)
        path = tmp_path / f"{name}.json"
        results.write(path, report.results())
        cross = report.cross_label_json()
        confusion = {"classes": LABELS, "multilabel": True, "counts": cross["counts"],
                     "row_normalized": cross["rates"]}
        runs[name] = _log_run(client, experiment, tmp_path, name=name,
                              params={"task.kind": "multilabel", "seed": "0"},
                              metrics={}, artifacts={
                                  "evaluate/all_metrics.json": path.read_text(),
                                  "evaluate/confusion_matrix.json": json.dumps(confusion),
                                  "predict/predictions.csv": _table(y_true, pred).to_csv(
                                      index=False)})
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    comparison = compare_runs(runs["a"], runs["b"],
                              tracking_cfg=TrackingConfig(uri=uri, experiment="classlens"))
    md, html = write(comparison, tmp_path / "cmp")
    return comparison, md.read_text(), y_true


def test_compare_two_multilabel_runs_lists_changed_label_sets(multilabel_page):
    comparison, markdown, y_true = multilabel_page
    flips = pd.concat([comparison.right_to_wrong, comparison.wrong_to_right])
    assert len(comparison.right_to_wrong) == comparison.paired.right_to_wrong > 0
    assert {"gained", "lost", "pred_labels_A", "pred_labels_B"} <= set(flips.columns)
    assert (flips["pred_labels_A"] != flips["pred_labels_B"]).all()
    assert "gained" in markdown and "changed their predicted label set" in markdown
    assert comparison.confusion_pngs and len(comparison.confusion_pngs) == 2
