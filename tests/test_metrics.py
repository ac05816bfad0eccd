"""Every evaluate number against scikit-learn on fixed arrays, plus the undefined cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from classlens.evaluation.classification import classify
from classlens.naming import metric_keys
from classlens.tracking.naming import classification_metrics


def _probs_for(pred: np.ndarray, n_classes: int, rng) -> np.ndarray:
    noise = rng.random((len(pred), n_classes)) * 0.5
    noise[np.arange(len(pred)), pred] += 1.0
    return noise / noise.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_matches_scikit_learn(n_classes):
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, n_classes, 200))
    probs = _probs_for(pred, n_classes, rng)
    names = [f"c{i}" for i in range(n_classes)]
    report = classify(y, probs, names, top_k=2)
    assert report.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        assert report.__dict__[avg] == pytest.approx({"precision": p, "recall": r, "f1": f})
    f1 = skm.f1_score(y, pred, average=None, labels=range(n_classes))
    assert [report.per_class[n]["f1"] for n in names] == pytest.approx(list(f1))
    np.testing.assert_array_equal(report.confusion, skm.confusion_matrix(y, pred))
    np.testing.assert_allclose(report.confusion_normalized,
                               skm.confusion_matrix(y, pred, normalize="true"))
    expected_top2 = 1.0 if n_classes == 2 else skm.top_k_accuracy_score(y, probs, k=2)
    assert report.top_k_accuracy == pytest.approx(expected_top2)


def test_class_never_predicted_is_null_not_nan_and_json_safe():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 1, 1, 1])  # class 2 never predicted
    report = classify(y, np.eye(3)[pred], ["a", "b", "c"], top_k=1)
    assert report.per_class["c"]["precision"] is None
    assert report.per_class["c"]["recall"] == 0.0
    assert report.per_class["c"]["support"] == 2
    json.dumps(report.to_json(), allow_nan=False)  # raises on NaN
    assert report.macro["precision"] == pytest.approx((1 + 0.5 + 0) / 3)


def test_class_absent_from_test_split_has_zero_row():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])
    report = classify(y, np.eye(3)[pred], ["a", "b", "c"], top_k=1)
    assert report.per_class["c"]["support"] == 0
    assert report.per_class["c"]["recall"] is None
    assert report.confusion_normalized[2].tolist() == [0.0, 0.0, 0.0]


def test_perfect_and_all_wrong_predictors():
    y = np.arange(4).repeat(5)
    perfect = classify(y, np.eye(4)[y], list("abcd"), top_k=1)
    assert perfect.accuracy == 1.0 and perfect.macro["f1"] == 1.0
    wrong = classify(y, np.eye(4)[(y + 1) % 4], list("abcd"), top_k=1)
    assert wrong.accuracy == 0.0 and wrong.macro["f1"] == 0.0


def test_flat_names_are_keyed_by_class_name():
    y = np.array([0, 1, 1])
    report = classify(y, np.eye(2)[y], ["cat", "hot dog!"], top_k=5)
    flat = classification_metrics(report.to_json())
    assert flat["test/f1/cat"] == 1.0
    assert "test/f1/hot dog_" in flat and "test/support/hot dog_" in flat
    assert flat["test/top_5_accuracy"] == 1.0 and flat["test/f1_macro"] == 1.0
    assert all(key.startswith("test/") for key in flat)  # never shadowed by training numbers
    assert metric_keys(["a/b c-d.e"]) == {"a/b c-d.e": "a_b c-d.e"}  # a class is one segment


def test_shape_mismatch_names_the_argument():
    with pytest.raises(ValueError, match="probabilities must have shape"):
        classify(np.array([0, 1]), np.ones((2, 3)) / 3, ["a", "b"], top_k=1)


# ---------------------------------------------------------------- issue 6 additions


def test_column_normalised_confusion_and_curves_match_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 150)
    probs = _probs_for(np.where(rng.random(150) < 0.7, y, rng.integers(0, 3, 150)), 3, rng)
    report = classify(y, probs, ["a", "b", "c"], top_k=1)
    pred = probs.argmax(1)
    np.testing.assert_allclose(report.confusion_column_normalized,
                               skm.confusion_matrix(y, pred, normalize="pred"))
    fpr, tpr, _ = skm.roc_curve(y == 1, probs[:, 1])
    np.testing.assert_allclose(report.curves["b"].fpr, fpr)
    np.testing.assert_allclose(report.curves["b"].tpr, tpr)
    precision, recall, _ = skm.precision_recall_curve(y == 2, probs[:, 2], drop_intermediate=True)
    np.testing.assert_allclose(report.curves["c"].precision, precision)
    np.testing.assert_allclose(report.curves["c"].recall, recall)


def test_undefined_numbers_carry_their_reason():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 1, 0])  # class c absent and never predicted
    report = classify(y, np.eye(3)[pred] * 0.9 + 0.1 / 3, ["a", "b", "c"], top_k=1)
    out = report.to_json()
    for key in ("precision", "recall", "f1", "roc_auc", "average_precision"):
        assert out["per_class"]["c"][key] is None
        assert "absent" in out["undefined"][f"per_class.c.{key}"] or "never predicted" in (
            out["undefined"][f"per_class.c.{key}"])
    assert "c" not in report.curves
    assert out["roc_auc_ovr_macro"] == pytest.approx(
        np.mean([skm.roc_auc_score(y == c, report_probs[:, c])
                 for c, report_probs in ((0, np.eye(3)[pred] * 0.9 + 0.1 / 3),
                                         (1, np.eye(3)[pred] * 0.9 + 0.1 / 3))]))


def test_kappa_undefined_when_everything_is_one_class():
    y = np.zeros(5, dtype=int)
    report = classify(y, np.tile([0.9, 0.1], (5, 1)), ["a", "b"], top_k=1)
    assert report.cohen_kappa is None and "chance agreement" in report.undefined["cohen_kappa"]
    assert report.per_class["a"]["roc_auc"] is None  # no negatives
    assert report.per_class["a"]["average_precision"] == 1.0
    json.dumps(report.to_json(), allow_nan=False)


def test_flat_holds_new_metrics_intervals_and_calibration():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    probs = _probs_for(y, 3, rng)
    report = classify(y, probs, ["cat", "dog", "hot dog!"], top_k=2, bootstrap_resamples=50,
                      bootstrap_seed=1, val_true=y[:40], val_probabilities=probs[:40])
    flat = classification_metrics(report.to_json())
    for key in ("balanced_accuracy", "f1_micro", "log_loss", "cohen_kappa", "roc_auc_ovr_macro",
                "roc_auc/cat", "average_precision/hot dog_", "accuracy_low",
                "f1_macro_high", "f1_low/dog", "ece", "mce", "adaptive_ece",
                "temperature", "ece_scaled", "nll_scaled", "n_samples"):
        assert f"test/{key}" in flat, key
    assert flat["test/accuracy_low"] <= flat["test/accuracy"] <= flat["test/accuracy_high"]
    out = report.to_json()
    assert set(out["bootstrap"]) == {"level", "resamples", "seed", "intervals"}
    assert set(out["bootstrap"]["intervals"]) == {
        "accuracy", "macro_avg.f1", "per_class.cat.f1", "per_class.dog.f1",
        "per_class.hot dog!.f1"}
    assert out["calibration"]["temperature"]["accuracy"] == out["accuracy"]
    rows = report.per_class_rows()
    assert {"class", "f1", "f1_low", "f1_high", "roc_auc"} <= set(rows[0])


def test_invalid_labels_and_probabilities_are_named():
    with pytest.raises(ValueError, match="y_true must be integer labels"):
        classify(np.array([0, 3]), np.ones((2, 2)) / 2, ["a", "b"], top_k=1)
    with pytest.raises(ValueError, match="probabilities must be finite"):
        classify(np.array([0, 1]), np.array([[np.nan, 1], [0.5, 0.5]]), ["a", "b"], top_k=1)
    with pytest.raises(ValueError, match="val_probabilities must have shape"):
        classify(np.array([0, 1]), np.eye(2), ["a", "b"], top_k=1, val_true=np.array([0]),
                 val_probabilities=np.eye(3))


def test_curve_tables_are_thinned_for_plots_but_keep_the_ends():
    from classlens.evaluation.curves import curve_tables

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    probs = np.clip(np.column_stack([1 - y * 0.3 - rng.random(5000) * 0.6,
                                     np.zeros(5000)]), 0.01, 1)
    probs[:, 1] = 1 - probs[:, 0]
    report = classify(y, probs, ["a", "b"], top_k=1)
    roc, pr = curve_tables(report.curves["b"], max_points=50)
    assert len(roc) <= 50 and len(pr) <= 50
    assert (roc["fpr"].iloc[0], roc["tpr"].iloc[0]) == (0.0, 0.0)
    assert (roc["fpr"].iloc[-1], roc["tpr"].iloc[-1]) == (1.0, 1.0)
    assert roc["threshold"].max() <= 1.0 and np.isfinite(roc["threshold"]).all()
    assert len(pr.columns) == 3 and pr["recall"].iloc[-1] == 0.0
