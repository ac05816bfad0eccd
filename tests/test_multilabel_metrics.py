"""Multi-label and binary metrics: every number against scikit-learn computed here, the undefined
cases (a label absent from the test split, a label never predicted, images without labels,
K = 1), the cross-label confusion by brute force, and the bootstrap on the same resamples."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from classlens.evaluation.multilabel import (
    ABSENT,
    NEVER_PREDICTED,
    NO_NEGATIVE,
    binary_operating_point,
    multilabel_report,
)
from classlens.evaluation.results import Metrics
from classlens.evaluation.thresholds import Thresholds

NAMES = ["cat", "dog", "car", "absent", "unseen", "all"]
THRESHOLDS = [0.5, 0.4, 0.6, 0.5, 0.5, 0.5]


def _split(n=300, seed=0):
    """Label 3 absent from the split, label 4 present but never predicted, label 5 on every
    image, the first 12 images without any label (labels 0-4)."""
    rng = np.random.default_rng(seed)
    k = len(NAMES)
    y = (rng.random((n, k)) < [0.4, 0.3, 0.2, 0.0, 0.15, 1.0]).astype(int)
    y[:12, :5] = 0
    p = np.clip(0.35 * y + 0.65 * rng.random((n, k)), 0, 1)
    p[:, 4] *= 0.45  # below its 0.5 threshold: never predicted
    return y, p


def _sk(metric, y, pred, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return metric(y, pred, **kw)


def _none_for_nan(values):
    return [None if np.isnan(v) else pytest.approx(float(v)) for v in values]


def test_every_number_matches_scikit_learn():
    y, p = _split()
    report = multilabel_report(y, p, THRESHOLDS, label_names=NAMES)
    pred = (p >= THRESHOLDS).astype(int)
    per = report.per_label
    for name, metric in (("precision", skm.precision_score), ("recall", skm.recall_score),
                         ("f1", skm.f1_score)):
        expected = _sk(metric, y, pred, average=None, zero_division=np.nan)
        assert [per[n][name] for n in NAMES] == _none_for_nan(expected), name
        for avg in ("micro", "macro", "weighted", "samples"):
            assert report.averages[f"{avg}_avg"][name] == pytest.approx(
                _sk(metric, y, pred, average=avg, zero_division=0)), (name, avg)
    assert [per[n]["support"] for n in NAMES] == y.sum(axis=0).tolist()
    assert [per[n]["threshold"] for n in NAMES] == THRESHOLDS
    for c, name in enumerate(NAMES):
        if c != 3:
            assert per[name]["average_precision"] == pytest.approx(
                skm.average_precision_score(y[:, c], p[:, c]))
        if c not in (3, 5):
            assert per[name]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[:, c], p[:, c]))
    confusion = skm.multilabel_confusion_matrix(y, pred)
    np.testing.assert_array_equal(report.confusion, confusion)
    assert [[per[n][m] for m in ("tn", "fp", "fn", "tp")] for n in NAMES] == \
        confusion.reshape(-1, 4).tolist()
    present = [c for c in range(len(NAMES)) if y[:, c].any()]
    assert report.mean_average_precision == pytest.approx(np.mean(
        [skm.average_precision_score(y[:, c], p[:, c]) for c in present]))
    assert report.micro_average_precision == pytest.approx(
        skm.average_precision_score(y, p, average="micro"))
    assert report.subset_accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert report.hamming_loss == pytest.approx(skm.hamming_loss(y, pred))
    assert report.label_cardinality == pytest.approx((y.sum(1).mean(), pred.sum(1).mean()))
    assert report.n_samples == 300


def test_undefined_numbers_are_none_with_their_reason():
    y, p = _split()
    report = multilabel_report(y, p, THRESHOLDS, label_names=NAMES)
    absent, unseen, every = (report.per_label[n] for n in ("absent", "unseen", "all"))
    assert absent["support"] == 0 and absent["recall"] is None
    assert absent["average_precision"] is None and absent["roc_auc"] is None
    assert unseen["precision"] is None and unseen["f1"] == 0.0 and unseen["recall"] == 0.0
    assert every["roc_auc"] is None and every["average_precision"] == 1.0
    undefined = report.undefined
    assert undefined["per_class.absent.recall"] == ABSENT
    assert undefined["per_class.absent.average_precision"] == ABSENT
    assert undefined["per_class.unseen.precision"] == NEVER_PREDICTED
    assert undefined["per_class.all.roc_auc"] == NO_NEGATIVE
    assert "per_class.unseen.f1" not in undefined
    data = report.to_json()
    text = json.dumps(data, allow_nan=False)  # no NaN anywhere
    flat = Metrics.from_json(json.loads(text)).flat()
    assert {path for path, value in flat.items() if value is None} == set(undefined)


def test_images_without_labels():
    y = np.array([[0, 0], [0, 0], [1, 0], [0, 1]])
    p = np.array([[0.1, 0.2], [0.7, 0.1], [0.8, 0.3], [0.2, 0.9]])
    report = multilabel_report(y, p, [0.5, 0.5], label_names=["a", "b"])
    # image 0: nothing true, nothing predicted -> exact match, yet 0 in the samples average
    # (scikit-learn's zero_division=0 per image); image 1: nothing true, a predicted
    assert report.no_label_fraction == (0.5, 0.25)
    assert report.subset_accuracy == pytest.approx(0.75)  # all but image 1
    assert report.subset_accuracy == skm.accuracy_score(y, (p >= 0.5).astype(int))
    assert report.averages["samples_avg"]["f1"] == pytest.approx(
        _sk(skm.f1_score, y, (p >= 0.5).astype(int), average="samples", zero_division=0))
    assert report.averages["samples_avg"]["f1"] == pytest.approx(0.25 * (0 + 0 + 1 + 1))
    assert report.label_cardinality == (0.5, 0.75)


def test_cross_label_confusion_by_brute_force():
    y, p = _split(n=120, seed=1)
    report = multilabel_report(y, p, THRESHOLDS, label_names=NAMES)
    pred = p >= THRESHOLDS
    k = len(NAMES)
    for a in range(k):
        carrying = np.flatnonzero(y[:, a])
        for b in range(k):
            if a == b:
                expected = pred[carrying, a].sum()
            else:
                expected = sum(pred[i, b] and not y[i, b] for i in carrying)
            assert report.cross_label[a, b] == expected, (a, b)
    rates = report.cross_label_rates
    recall = _sk(skm.recall_score, y, pred.astype(int), average=None, zero_division=np.nan)
    np.testing.assert_allclose(np.diag(rates), recall)  # NaN for the absent label in both
    assert np.isnan(rates[3]).all()
    data = json.loads(json.dumps(report.cross_label_json(), allow_nan=False))
    assert data["rates"][3] is None and data["undefined"] == {"rates.absent": ABSENT}
    assert data["counts"] == report.cross_label.tolist()
    # hand-worked: the image with "a" gets "b" predicted instead -> C[a, b] = 1, recall 0
    small = multilabel_report(np.array([[1, 0], [0, 1]]), np.array([[0.2, 0.9], [0.1, 0.8]]),
                              [0.5, 0.5], label_names=["a", "b"])
    np.testing.assert_array_equal(small.cross_label_rates, [[0.0, 1.0], [0.0, 1.0]])


def test_ece_per_label_matches_calibration_curve():
    y, p = _split(seed=2)
    report = multilabel_report(y, p, THRESHOLDS, label_names=NAMES, calibration_bins=10)
    for c, name in enumerate(NAMES):
        prob_true, prob_pred = calibration_curve(y[:, c], p[:, c], n_bins=10)
        counts = np.histogram(p[:, c], bins=np.linspace(0, 1, 11))[0]  # no score on an edge
        expected = (np.abs(prob_true - prob_pred) * counts[counts > 0]).sum() / len(y)
        assert report.per_label[name]["ece"] == pytest.approx(expected), name
    assert report.results().ece()[0] == pytest.approx(
        np.mean([v["ece"] for v in report.per_label.values()]))


def test_binary_is_one_column():
    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.3).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
    pred = (p >= 0.45).astype(int)
    report = multilabel_report(y[:, None], p[:, None], Thresholds([0.45], "f1"),
                               label_names=["positive"])
    f1 = skm.f1_score(y, pred)
    assert report.per_label["positive"]["f1"] == pytest.approx(f1)
    for avg in ("micro", "macro", "weighted"):
        assert report.averages[f"{avg}_avg"]["f1"] == pytest.approx(f1)
    tp = int((y & pred).sum())
    assert report.averages["samples_avg"]["f1"] == pytest.approx(tp / 200)  # 1 per hit, else 0
    assert report.subset_accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert report.hamming_loss == pytest.approx(1 - skm.accuracy_score(y, pred))
    assert report.per_label["positive"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    point = binary_operating_point(y, p, 0.45)
    (tn, fp), (fn, tp) = skm.confusion_matrix(y, pred)
    assert (point.tp, point.fp, point.fn, point.tn) == (tp, fp, fn, tn)
    assert point.tpr == pytest.approx(skm.recall_score(y, pred))
    assert point.precision == pytest.approx(skm.precision_score(y, pred))
    assert point.specificity == pytest.approx(skm.recall_score(1 - y, 1 - pred))
    assert point.fpr == pytest.approx(1 - point.specificity) and point.undefined == {}
    empty = binary_operating_point([0, 0], [0.2, 0.3], 0.5)
    assert empty.tpr is None and empty.precision is None and empty.specificity == 1.0
    assert set(empty.undefined) == {"tpr", "precision"}
    json.dumps(empty.to_json(), allow_nan=False)


def _reference_intervals(y, pred, p, resamples, seed, level):
    """Draw the documented resamples and score each with scikit-learn."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        aps = [skm.average_precision_score(y[i, c], p[i, c]) for c in range(y.shape[1])
               if y[i, c].any()]
        rows.append([_sk(skm.f1_score, y[i], pred[i], average="macro", zero_division=0),
                     _sk(skm.f1_score, y[i], pred[i], average="micro", zero_division=0),
                     np.mean(aps) if aps else np.nan, skm.accuracy_score(y[i], pred[i]),
                     *_sk(skm.f1_score, y[i], pred[i], average=None, zero_division=np.nan)])
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    with warnings.catch_warnings():  # an all-NaN column: the undefined interval
        warnings.simplefilter("ignore", RuntimeWarning)
        return [tuple(np.nanpercentile(column, q)) for column in np.array(rows).T]


def test_bootstrap_matches_scikit_learn_on_the_same_resamples():
    y, p = _split(n=60, seed=4)
    y[:2, 2], y[2:, 2] = 1, 0  # a rare label: no positive in some resamples
    p = p.round(1)  # tied scores
    p[:, 3] = 0.1  # absent and never predicted: F1 undefined in every resample
    names, thresholds = NAMES[:5], THRESHOLDS[:5]
    y, p = y[:, :5], p[:, :5]
    report = multilabel_report(y, p, thresholds, label_names=names, bootstrap_resamples=40,
                               seed=11, ci_level=0.9)
    expected = _reference_intervals(y, (p >= thresholds).astype(int), p, 40, 11, 0.9)
    keys = ["macro_avg.f1", "micro_avg.f1", "mean_average_precision", "accuracy"] + \
        [f"per_class.{n}.f1" for n in names]
    for key, (low, high) in zip(keys, expected):
        got = report.bootstrap.intervals[key]
        if np.isnan(low):
            assert got == (None, None) and f"bootstrap.intervals.{key}" in report.undefined
        else:
            assert got == pytest.approx((low, high), abs=1e-12), key
    assert report.bootstrap.intervals["per_class.absent.f1"] == (None, None)


def test_seeded_bootstrap_is_reproducible_and_holds_the_estimate():
    y, p = _split(n=200, seed=5)
    run = [multilabel_report(y, p, THRESHOLDS, label_names=NAMES, bootstrap_resamples=300,
                             seed=s) for s in (3, 3, 4)]
    assert run[0].to_json() == run[1].to_json()
    assert run[0].bootstrap.intervals != run[2].bootstrap.intervals
    report = run[0]
    estimates = {"macro_avg.f1": report.averages["macro_avg"]["f1"],
                 "micro_avg.f1": report.averages["micro_avg"]["f1"],
                 "mean_average_precision": report.mean_average_precision,
                 "accuracy": report.subset_accuracy,
                 **{f"per_class.{n}.f1": v["f1"] for n, v in report.per_label.items()
                    if v["f1"] is not None}}
    for key, value in estimates.items():
        low, high = report.bootstrap.intervals[key]
        assert low <= value <= high, key
    rows = report.per_label_rows()
    assert [r["label"] for r in rows] == NAMES
    assert (rows[0]["f1_low"], rows[0]["f1_high"]) == report.bootstrap.intervals[
        "per_class.cat.f1"]


def test_results_are_the_layout_of_all_metrics_json():
    y, p = _split()
    report = multilabel_report(y, p, THRESHOLDS, label_names=NAMES, bootstrap_resamples=20)
    metrics = Metrics.from_json(json.loads(json.dumps(report.to_json())))
    assert metrics.to_json() == report.to_json()
    assert metrics.average("samples_avg", "f1") == report.averages["samples_avg"]["f1"]
    weakest = min((v["f1"], n) for n, v in report.per_label.items() if v["f1"] is not None)
    assert metrics.weakest_class() == (weakest[1], weakest[0])
    assert metrics.interval("per_class.cat.f1") == report.bootstrap.intervals["per_class.cat.f1"]
    assert metrics.flat()["accuracy"] == report.subset_accuracy


def test_arguments_are_checked():
    y, p = _split(n=20)
    with pytest.raises(ValueError, match=r"label_names must be 6 distinct names"):
        multilabel_report(y, p, THRESHOLDS, label_names=NAMES[:5])
    with pytest.raises(ValueError, match=r"label_names must be 6 distinct"):
        multilabel_report(y, p, THRESHOLDS, label_names=["a"] * 6)
    with pytest.raises(ValueError, match=r"thresholds must hold 6 values .*; received 2"):
        multilabel_report(y, p, [0.5, 0.5], label_names=NAMES)
    with pytest.raises(ValueError, match="at least one image"):
        multilabel_report(y[:0], p[:0], THRESHOLDS, label_names=NAMES)
    with pytest.raises(ValueError, match="level must be in"):
        multilabel_report(y, p, THRESHOLDS, label_names=NAMES, bootstrap_resamples=5,
                          ci_level=1.0)


def test_no_heavy_imports():
    code = ("import sys, classlens.evaluation.multilabel, classlens.evaluation.thresholds; "
            "print(sorted({'tensorflow', 'matplotlib', 'pandas'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
