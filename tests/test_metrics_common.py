"""A registry of every number `classify` reports, each checked against scikit-learn and against
the same invariances on every case (scikit-learn's metrics/tests/test_common.py style): the
edge cases of the issue included (a class never predicted, a class absent from the test split,
two classes, 100 classes, perfect and all-wrong predictors). No warnings, no NaN."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from classlens.evaluation.classification import classify


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fn(*args, **kw)
        except ValueError:
            return None
    value = float(value)
    return None if np.isnan(value) else value


def _binary(fn, c):
    def ref(y, p, pred):
        positive = y == c
        if not positive.any() or (fn is skm.roc_auc_score and positive.all()):
            return None  # undefined: no positives (or no negatives for ROC AUC)
        return _quiet(fn, positive, p[:, c])
    return ref


def _macro_auc(y, p, pred):
    values = [_binary(skm.roc_auc_score, c)(y, p, pred) for c in range(p.shape[1])]
    values = [v for v in values if v is not None]
    if len(values) == p.shape[1]:  # every class present: scikit-learn's own multi-class AUC
        return skm.roc_auc_score(y, p[:, 1] if p.shape[1] == 2 else p, multi_class="ovr")
    return float(np.mean(values)) if values else None


def _kappa(y, p, pred):
    return _quiet(skm.cohen_kappa_score, y, pred, labels=np.arange(p.shape[1]))


def _prf(avg, i):
    return lambda y, p, pred: float(skm.precision_recall_fscore_support(
        y, pred, labels=np.arange(p.shape[1]), average=avg, zero_division=0)[i])


def _per_class(metric):
    index = {"precision": 0, "recall": 1, "f1": 2, "support": 3}[metric]

    def ref(y, p, pred, c):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = skm.precision_recall_fscore_support(
                y, pred, labels=np.arange(p.shape[1]), zero_division=np.nan)[index][c]
        return None if np.isnan(value) else float(value)
    return ref


# dotted metrics.json path -> (scikit-learn reference, (low, high), best value or None)
REGISTRY = {
    "accuracy": (lambda y, p, pred: skm.accuracy_score(y, pred), (0, 1), 1.0),
    "balanced_accuracy": (lambda y, p, pred: _quiet(skm.balanced_accuracy_score, y, pred),
                          (0, 1), 1.0),
    "top_2_accuracy": (lambda y, p, pred: 1.0 if p.shape[1] <= 2 else skm.top_k_accuracy_score(
        y, p, k=2, labels=np.arange(p.shape[1])), (0, 1), 1.0),
    "log_loss": (lambda y, p, pred: skm.log_loss(y, p, labels=np.arange(p.shape[1])),
                 (0, np.inf), None),
    "cohen_kappa": (_kappa, (-1, 1), 1.0),
    "roc_auc_ovr_macro": (_macro_auc, (0, 1), 1.0),
    **{f"{avg}_avg.{m}": (_prf(avg, i), (0, 1), 1.0)
       for avg in ("macro", "weighted", "micro")
       for i, m in enumerate(("precision", "recall", "f1"))},
}
PER_CLASS = {
    "precision": (_per_class("precision"), (0, 1), 1.0),
    "recall": (_per_class("recall"), (0, 1), 1.0),
    "f1": (_per_class("f1"), (0, 1), 1.0),
    "support": (_per_class("support"), (0, np.inf), None),
    "roc_auc": (lambda y, p, pred, c: _binary(skm.roc_auc_score, c)(y, p, pred), (0, 1), 1.0),
    "average_precision": (lambda y, p, pred, c: _binary(skm.average_precision_score, c)(
        y, p, pred), (0, 1), 1.0),
}


def _probs(pred, n_classes, rng, sharp=1.0):
    noise = rng.random((len(pred), n_classes)) * 0.5
    noise[np.arange(len(pred)), pred] += sharp
    return noise / noise.sum(axis=1, keepdims=True)


def _case(name):
    rng = np.random.default_rng(len(name))
    if name == "random":
        y = rng.integers(0, 4, 300)
        pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
        return y, _probs(pred, 4, rng)
    if name == "two_classes":
        y = rng.integers(0, 2, 200)
        pred = np.where(rng.random(200) < 0.8, y, 1 - y)
        return y, _probs(pred, 2, rng)
    if name == "hundred_classes":
        y = np.tile(np.arange(100), 20)
        pred = np.where(rng.random(2000) < 0.7, y, rng.integers(0, 100, 2000))
        return y, _probs(pred, 100, rng)
    if name == "class_never_predicted":
        y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
        pred = np.array([0, 0, 1, 1, 1, 0, 0, 1])
        return y, _probs(pred, 3, rng)
    if name == "class_absent":
        y = np.array([0, 0, 1, 1, 0, 1])
        pred = np.array([0, 2, 1, 1, 0, 0])
        return y, _probs(pred, 3, rng)
    if name == "perfect":
        y = np.arange(5).repeat(4)
        return y, _probs(y, 5, rng, sharp=3.0)
    if name == "all_wrong":
        y = np.arange(5).repeat(4)
        return y, _probs((y + 1) % 5, 5, rng, sharp=3.0)
    raise KeyError(name)


CASES = ["random", "two_classes", "hundred_classes", "class_never_predicted", "class_absent",
         "perfect", "all_wrong"]


def _get(report_json, path):
    node = report_json
    for part in path.split("."):
        node = node[part]
    return node


def _report(y, p, names=None):
    names = names or [f"c{i}" for i in range(p.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division (or any other) warning escapes
        return classify(y, p, names, top_k=2)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    y, p = _case(request.param)
    return request.param, y, p, _report(y, p)


def test_every_number_matches_scikit_learn(case):
    name, y, p, report = case
    out, pred = report.to_json(), p.argmax(1)
    for path, (ref, _, _) in REGISTRY.items():
        expected = ref(y, p, pred)
        got = _get(out, path)
        if expected is None:
            assert got is None and path in out["undefined"], (name, path)
        else:
            assert got == pytest.approx(expected, abs=1e-9), (name, path)
    for c, cls in enumerate(report.class_names):
        for metric, (ref, _, _) in PER_CLASS.items():
            expected, got = ref(y, p, pred, c), out["per_class"][cls][metric]
            if expected is None:
                assert got is None, (name, cls, metric)
                assert f"per_class.{cls}.{metric}" in out["undefined"], (name, cls, metric)
            else:
                assert got == pytest.approx(expected, abs=1e-9), (name, cls, metric)


def test_ranges_json_safety_and_best_values(case):
    name, y, p, report = case
    out = report.to_json()
    json.dumps(out, allow_nan=False)
    checks = [(path, _get(out, path), rng, best) for path, (_, rng, best) in REGISTRY.items()]
    checks += [(f"per_class.{c}.{m}", out["per_class"][c][m], rng, best)
               for c in report.class_names for m, (_, rng, best) in PER_CLASS.items()]
    for path, value, (low, high), best in checks:
        if value is None:
            continue
        assert low - 1e-12 <= value <= high + 1e-12, (name, path, value)
        if name == "perfect" and best is not None:
            assert value == pytest.approx(best), (name, path)
    if name == "all_wrong":
        assert out["accuracy"] == 0.0 and out["macro_avg"]["f1"] == 0.0
        assert out["cohen_kappa"] < 0


def test_invariant_to_sample_order_and_class_relabelling(case):
    name, y, p, report = case
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    classes = rng.permutation(p.shape[1])  # new index of old class c is classes[c]
    names = [f"c{i}" for i in range(p.shape[1])]
    new_names = [None] * len(names)
    for old, new in enumerate(classes):
        new_names[new] = names[old]
    p2 = np.empty_like(p)
    p2[:, classes] = p
    shuffled = _report(y[order], p[order])
    relabelled = _report(classes[y], p2, new_names)
    base = report.to_json()
    for other in (shuffled.to_json(), relabelled.to_json()):
        for path in list(REGISTRY) + [f"per_class.{c}.{m}" for c in names for m in PER_CLASS]:
            a, b = _get(base, path), _get(other, path)
            assert (a is None) == (b is None), (name, path)
            if a is not None:
                assert a == pytest.approx(b, abs=1e-9), (name, path)
