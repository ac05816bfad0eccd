"""Bootstrap intervals: the same resamples recomputed with scikit-learn, hand-worked cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from classlens.evaluation.bootstrap import bootstrap_intervals


def _reference(y, pred, n_classes, *, resamples, seed, level):
    """Draw the documented resamples and score each with scikit-learn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_classes)
    stats = []
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_class = skm.f1_score(y[idx], pred[idx], labels=labels, average=None,
                                     zero_division=np.nan)
        stats.append([skm.accuracy_score(y[idx], pred[idx]),
                      skm.f1_score(y[idx], pred[idx], labels=labels, average="macro",
                                   zero_division=0), *per_class])
    stats = np.array(stats)
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    return [tuple(np.nanpercentile(stats[:, j], q)) for j in range(stats.shape[1])]


def test_matches_scikit_learn_on_the_same_resamples():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 120)
    y[:3] = 3  # class 3 rare: undefined in some resamples
    y[3:] = np.where(y[3:] == 3, 0, y[3:])
    pred = np.where(rng.random(120) < 0.75, y, rng.integers(0, 4, 120))
    names = ["a", "b", "c", "d"]
    got = bootstrap_intervals(y, pred, names, resamples=200, seed=7, level=0.9)
    ref = _reference(y, pred, 4, resamples=200, seed=7, level=0.9)
    keys = ["accuracy", "macro_avg.f1"] + [f"per_class.{n}.f1" for n in names]
    for key, expected in zip(keys, ref):
        assert got.intervals[key] == pytest.approx(expected, abs=1e-12), key
    assert got.to_json() == {"level": 0.9, "resamples": 200, "seed": 7, "intervals": {
        k: {"low": v[0], "high": v[1]} for k, v in got.intervals.items()}}


def test_hand_worked_cases():
    y = np.array([0, 1, 0, 1])
    perfect = bootstrap_intervals(y, y, ["a", "b"], resamples=100, seed=0)
    assert perfect.intervals["accuracy"] == (1.0, 1.0)
    assert perfect.intervals["per_class.a.f1"] == (1.0, 1.0)
    wrong = bootstrap_intervals(y, 1 - y, ["a", "b"], resamples=100, seed=0)
    assert wrong.intervals["accuracy"] == (0.0, 0.0)
    assert wrong.intervals["macro_avg.f1"] == (0.0, 0.0)
    # same seed, same intervals; another seed, (almost surely) other ones
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    pred = np.where(rng.random(60) < 0.6, y, (y + 1) % 3)
    one = bootstrap_intervals(y, pred, list("abc"), resamples=300, seed=3)
    assert one.intervals == bootstrap_intervals(y, pred, list("abc"), resamples=300,
                                                seed=3).intervals
    assert one.intervals != bootstrap_intervals(y, pred, list("abc"), resamples=300,
                                                seed=4).intervals
    accuracy = (pred == y).mean()
    low, high = one.intervals["accuracy"]
    assert low < accuracy < high and high - low < 0.4


def test_class_absent_and_never_predicted_is_null_with_reason():
    y = np.array([0, 1, 0, 1])
    got = bootstrap_intervals(y, y, ["a", "b", "c"], resamples=20, seed=0)
    assert got.intervals["per_class.c.f1"] == (None, None)
    assert "absent" in got.undefined["per_class.c.f1"]
    assert got.to_json()["intervals"]["per_class.c.f1"] == {"low": None, "high": None}


def test_zero_resamples_and_bad_arguments():
    y = np.array([0, 1])
    assert bootstrap_intervals(y, y, ["a", "b"], resamples=0, seed=0).intervals == {}
    with pytest.raises(ValueError, match="level must be in"):
        bootstrap_intervals(y, y, ["a", "b"], resamples=5, seed=0, level=1.5)
    with pytest.raises(ValueError, match="resamples must be >= 0"):
        bootstrap_intervals(y, y, ["a", "b"], resamples=-1, seed=0)


def test_hundred_classes_get_an_interval_each():
    # (how fast this is belongs to the benchmarks, not to a pass/fail test)
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(100), 50)
    pred = np.where(rng.random(5000) < 0.8, y, rng.integers(0, 100, 5000))
    got = bootstrap_intervals(y, pred, [str(i) for i in range(100)], resamples=100, seed=0)
    assert len(got.intervals) == 102
    assert {f"per_class.{i}.f1" for i in range(100)} <= set(got.intervals)
