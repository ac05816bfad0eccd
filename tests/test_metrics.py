"""Every evaluate number against scikit-learn on fixed arrays, plus the undefined cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from classlens.metrics import classify, metric_key


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
    flat = report.flat()
    assert flat["f1.cat"] == 1.0
    assert "f1.hot dog_" in flat and "support.hot dog_" in flat
    assert flat["top_5_accuracy"] == 1.0 and flat["f1_macro"] == 1.0
    assert metric_key("a/b c-d.e") == "a/b c-d.e"


def test_shape_mismatch_names_the_argument():
    with pytest.raises(ValueError, match="probabilities must have shape"):
        classify(np.array([0, 1]), np.ones((2, 3)) / 3, ["a", "b"], top_k=1)
