"""Calibration: hand-worked ECE/MCE/adaptive ECE, bins against scikit-learn's calibration_curve,
and a temperature with a closed-form answer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss

from classlens.evaluation.calibration import (
    apply_temperature,
    calibrate,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
)


def test_ece_and_mce_hand_worked():
    # 0.95 falls in bin 14 ((0.933, 1]): accuracy 0.5, gap 0.45; 0.55 in bin 8: accuracy 1, gap 0.45
    bins = reliability_bins(np.array([0.95, 0.95, 0.55, 0.55]),
                            np.array([True, False, True, True]), n_bins=15)
    assert bins.counts[14] == 2 and bins.counts[8] == 2 and bins.counts.sum() == 4
    assert bins.expected_error() == pytest.approx(0.45)
    assert bins.max_error() == pytest.approx(0.45)
    two = reliability_bins(np.array([0.9, 0.9, 0.6]), np.array([True, True, False]), n_bins=2)
    # bin (0.5, 1]: accuracy 2/3, confidence 0.8 -> gap 0.1333 for all three images
    assert two.expected_error() == pytest.approx(abs(2 / 3 - 0.8))


def test_adaptive_ece_hand_worked():
    bins = reliability_bins(np.array([0.3, 0.1, 0.9, 0.2]), np.array([1, 0, 1, 0], bool),
                            n_bins=2, strategy="quantile")
    # equal-mass: {0.1, 0.2} accuracy 0 confidence 0.15; {0.3, 0.9} accuracy 1 confidence 0.6
    assert bins.counts.tolist() == [2, 2]
    assert bins.expected_error() == pytest.approx(0.5 * 0.15 + 0.5 * 0.4)
    assert bins.max_error() == pytest.approx(0.4)


def test_uniform_bins_match_scikit_learn_calibration_curve():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.1, 1.0, 500)
    conf[:10] = np.linspace(1, 15, 10).round() / 15  # values exactly on bin edges
    correct = rng.random(500) < conf
    bins = reliability_bins(conf, correct, n_bins=15)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=15, strategy="uniform")
    filled = bins.counts > 0
    np.testing.assert_allclose(bins.accuracy[filled], prob_true)
    np.testing.assert_allclose(bins.mean_confidence[filled], prob_pred)


def test_empty_input_and_json_has_no_nan():
    import json

    bins = reliability_bins(np.array([0.7]), np.array([True]), n_bins=4, strategy="quantile")
    json.dumps(bins.to_json(), allow_nan=False)
    assert reliability_bins(np.array([]), np.array([], bool)).expected_error() == 0.0
    with pytest.raises(ValueError, match="strategy must be one of"):
        reliability_bins(np.array([0.5]), np.array([True]), strategy="log")


def test_temperature_has_the_closed_form_answer():
    # every row is softmax([2, 0]) and 3 of 4 labels are class 0: the NLL is minimal where
    # sigmoid(2 / T) = 3/4, i.e. T = 2 / ln 3
    p = np.tile(np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum(), (4, 1))
    labels = np.array([0, 0, 0, 1])
    assert fit_temperature(p, labels) == pytest.approx(2 / np.log(3), rel=1e-4)


def test_temperature_scaling_keeps_predictions_and_lowers_validation_nll():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(400, 5)) * 4  # over-confident
    labels = np.where(rng.random(400) < 0.6, logits.argmax(1), rng.integers(0, 5, 400))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    t = fit_temperature(p, labels)
    assert t > 1  # softens an over-confident model
    scaled = apply_temperature(p, t)
    np.testing.assert_array_equal(scaled.argmax(1), p.argmax(1))
    np.testing.assert_allclose(scaled.sum(1), 1.0)
    assert negative_log_likelihood(scaled, labels) < negative_log_likelihood(p, labels)
    assert negative_log_likelihood(p, labels) == pytest.approx(log_loss(labels, p))
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, atol=1e-12)


def test_calibrate_reports_before_and_after():
    # labels drawn from softmax(logits / 3): the model's softmax(logits) is over-confident and
    # the true temperature is 3
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2000, 4)) * 4
    truth = np.exp(logits / 3) / np.exp(logits / 3).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in truth])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    report = calibrate(labels[:1000], p[:1000], val_true=labels[1000:],
                       val_probabilities=p[1000:])
    out = report.to_json()
    assert out["n_bins"] == 15 and out["temperature"]["n_validation"] == 1000
    assert out["temperature"]["value"] == pytest.approx(3, rel=0.2)
    assert report.accuracy_after == report.accuracy_before
    assert out["temperature"]["ece"] < out["ece"]  # over-confidence reduced on the test half
    assert out["temperature"]["nll"] < out["nll"]
    assert set(report.bins_json()) == {"before", "after_temperature", "adaptive_before",
                                       "adaptive_after_temperature", "temperature"}
