"""Per-label thresholds: every rule checked by brute force over the label's distinct validation
scores with scikit-learn's metrics, the fallbacks, the stored form and the argument errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from classlens.errors import ConfigError, InputError
from classlens.evaluation.thresholds import (
    NO_NEGATIVE,
    NO_POSITIVE,
    RULES,
    Thresholds,
    apply_thresholds,
    fit_thresholds,
)


def _validation(n=240, k=4, seed=0):
    """Scores rounded to 2 decimals (many ties), labels more or less separable per column."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < np.linspace(0.1, 0.5, k)).astype(int)
    separation = np.linspace(0.1, 0.6, k)
    p = np.clip(y * separation + rng.random((n, k)) * (1 - separation), 0, 1).round(2)
    return y, p


def _score(metric, y, decided):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return metric(y, decided, zero_division=0)


def _candidates(metric, y, p):
    """(distinct scores u, metric of p >= u for each): one scikit-learn call, the candidates as
    the columns of a multi-label problem (a column has its own metric with average=None)."""
    u = np.unique(p)
    decided = (p[:, None] >= u[None, :]).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = metric(np.repeat(y[:, None], len(u), axis=1), decided, average=None,
                        zero_division=0)
    return u, values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_rule_is_at_least_as_good_as_every_candidate(seed):
    y, p = _validation(seed=seed)
    fitted = fit_thresholds(y, p, rule="f1")
    assert fitted.rule == "f1" and fitted.target is None and fitted.fallback == {}
    for label, t in enumerate(fitted.values):
        yk, pk = y[:, label], p[:, label]
        best = _score(skm.f1_score, yk, pk >= t)
        for u, f1 in zip(*_candidates(skm.f1_score, yk, pk)):
            assert f1 <= best + 1e-12, (label, u)
            if f1 >= best - 1e-12:  # a tie: the fitted threshold predicts no more positives
                assert (pk >= t).sum() <= (pk >= u).sum()


def test_threshold_sits_midway_below_the_chosen_score():
    # sorted: 0.9 (pos), 0.7 (neg), 0.5 (neg), 0.3 (pos): F1 2/3 at 0.9 and at 0.3 -> the higher
    y = np.array([[1], [0], [0], [1]])
    p = np.array([[0.9], [0.7], [0.5], [0.3]])
    assert fit_thresholds(y, p, rule="f1").values == pytest.approx([0.8])
    # the lowest score chosen: midway between 0 and it
    assert fit_thresholds(y, p, rule="recall", target=1.0).values == pytest.approx([0.15])
    # docstring example: midway between the negative (0.2) and the lowest positive (0.6)
    assert fit_thresholds(np.array([[0], [1], [1]]), np.array([[0.2], [0.6], [0.8]]),
                          rule="f1").values == pytest.approx([0.4])


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 1.0])
def test_precision_rule_is_the_lowest_threshold_reaching_the_target(target):
    y, p = _validation(seed=3)
    y[p[:, 0] == p[:, 0].max(), 0] = 0  # label 0's top score a negative: precision 1 unreachable
    fitted = fit_thresholds(y, p, rule="precision", target=target)
    assert fitted.target == target
    assert 0 in fitted.fallback or target < 1.0
    assert len(fitted.fallback) < len(fitted.values)  # the others reach it
    for label, t in enumerate(fitted.values):
        yk, pk = y[:, label], p[:, label]
        if label in fitted.fallback:
            assert "precision" in fitted.fallback[label] and t == 0.5
            assert (_candidates(skm.precision_score, yk, pk)[1] < target).all()
            continue
        assert _score(skm.precision_score, yk, pk >= t) >= target
        for u, precision in zip(*_candidates(skm.precision_score, yk, pk)):
            if precision >= target:
                assert (pk >= u).sum() <= (pk >= t).sum()  # none predicts more


@pytest.mark.parametrize("target", [0.3, 0.9, 1.0])
def test_recall_rule_is_the_highest_threshold_reaching_the_target(target):
    y, p = _validation(seed=4)
    fitted = fit_thresholds(y, p, rule="recall", target=target)
    assert fitted.fallback == {}
    for label, t in enumerate(fitted.values):
        yk, pk = y[:, label], p[:, label]
        assert _score(skm.recall_score, yk, pk >= t) >= target
        for u, recall in zip(*_candidates(skm.recall_score, yk, pk)):
            if recall >= target:
                assert (pk >= u).sum() >= (pk >= t).sum()  # none predicts fewer


def test_unreachable_precision_falls_back_with_the_reason():
    y = np.array([[0], [1]])
    p = np.array([[0.9], [0.1]])  # the top score is a negative: precision 0 or 0.5
    fitted = fit_thresholds(y, p, rule="precision", target=1.0, value=0.3)
    assert fitted.values == [0.3]
    assert fitted.fallback[0].startswith("no threshold reaches precision >= 1.0")


def test_labels_without_positives_or_negatives_fall_back():
    y, p = _validation(k=4)
    y[:, 1] = 0
    y[:, 2] = 1
    fitted = fit_thresholds(y, p, rule="f1", value=0.42)
    assert fitted.values[1] == fitted.values[2] == 0.42
    assert fitted.fallback == {1: NO_POSITIVE, 2: NO_NEGATIVE}
    assert 0 < fitted.values[0] < 1 and fitted.values[0] != 0.42
    alone = fit_thresholds(y[:, :1], p[:, :1], rule="f1")  # fitting is per label
    assert alone.values[0] == fitted.values[0]


def test_fixed_rule_and_binary():
    y, p = _validation(k=3)
    fixed = fit_thresholds(y, p, rule="fixed", value=0.25, target=0.9)
    assert fixed == Thresholds([0.25, 0.25, 0.25], "fixed", None, {})
    binary = fit_thresholds(y[:, :1], p[:, :1], rule="f1")
    assert len(binary.values) == 1
    decided = apply_thresholds(p[:, :1], binary.values)
    assert decided.shape == (len(p), 1) and decided.dtype == np.uint8


def test_apply_thresholds_is_greater_or_equal():
    p = np.array([[0.5, 0.2], [0.49, 0.9]])
    np.testing.assert_array_equal(apply_thresholds(p, [0.5, 0.9]), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="one threshold per column"):
        apply_thresholds(p, [0.5])


def test_json_round_trip_and_bad_files():
    y, p = _validation()
    y[:, 0] = 0
    fitted = fit_thresholds(y, p, rule="precision", target=0.7)
    raw = json.loads(json.dumps(fitted.to_json(), allow_nan=False))
    assert raw["fallback"] == {"0": NO_POSITIVE}
    assert Thresholds.from_json(raw) == fitted
    for key, bad in [("values", [0.5, 1.5]), ("values", []), ("rule", "best"), ("target", 0),
                     ("fallback", {"9": "x"})]:
        with pytest.raises(InputError, match=f"model.json: key '{key}' must"):
            Thresholds.from_json({**raw, key: bad}, source="model.json")
    with pytest.raises(InputError, match="must be a JSON object"):
        Thresholds.from_json([0.5])


def test_arguments_are_checked_once_with_one_line_errors():
    y, p = _validation(k=2)
    with pytest.raises(ConfigError, match=r"^rule must be one of \['f1', 'precision', 'recall', "
                                          r"'fixed'\]; received 'best'$"):
        fit_thresholds(y, p, rule="best")
    with pytest.raises(ConfigError, match=r"^target must be .*\(0, 1\] with rule 'recall'; "
                                          "received None$"):
        fit_thresholds(y, p, rule="recall")
    with pytest.raises(ConfigError, match="target must .*; received 1.5"):
        fit_thresholds(y, p, rule="precision", target=1.5)
    with pytest.raises(ConfigError, match="value must .*; received -0.1"):
        fit_thresholds(y, p, rule="fixed", value=-0.1)
    with pytest.raises(ValueError, match=r"must have one shape .* received \(240, 2\) and "
                                         r"\(240, 1\)"):
        fit_thresholds(y, p[:, :1], rule="f1")
    with pytest.raises(ValueError, match="y_true must hold only 0 and 1"):
        fit_thresholds(y * 2, p, rule="f1")
    with pytest.raises(ValueError, match="probabilities must be finite and in"):
        fit_thresholds(y, p + 1, rule="f1")


def test_rules_are_the_ones_params_accept():
    task = pytest.importorskip("classlens.task")
    assert tuple(RULES) == task.THRESHOLD_RULES
