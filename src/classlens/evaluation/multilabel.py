"""Binary and multi-label classification metrics: arrays in, numbers out (scikit-learn
underneath). The counterpart of `classlens.evaluation.classification` for sigmoid outputs, with
its policy. Binary is K = 1: the positive class's probability as the only column.

Undefined numbers are None, with the reason in `MultilabelReport.undefined` under the number's
dotted path in `to_json()`:
- per label: recall, average precision and ROC AUC of a label absent from the test split;
  precision of a label never predicted; F1 only when both (2tp + fp + fn = 0); ROC AUC also when
  every image carries the label.
- The micro, macro, weighted and samples precision/recall/F1 count an undefined value as 0
  (scikit-learn's `zero_division=0`), so a label never predicted is penalised, not flattered.
  `samples` applies it per image: an image with no true and no predicted label counts 0 there
  although its empty prediction is right (scikit-learn's convention); `no_true_label_fraction`
  and `no_predicted_label_fraction` say how many images have no label.
- `mean_average_precision` (mAP) averages the labels whose AP is defined (present in the test
  split): scikit-learn's macro `average_precision_score` would count an absent label as 0.
  `micro_average_precision` ranks every (image, label) pair together.
- Each label's `ece` is the binary calibration of its probability (mean probability vs fraction
  of positives in equal-width bins, `calibration.reliability_bins`); `calibration.ece` is their
  mean (the classwise ECE of Kull et al., 2019).

The cross-label confusion C (K x K, `cross_label`, `cross_label_json()`): of the images carrying
label a, C[a, b] is the fraction on which b is predicted although b is not one of their labels
(b predicted instead of a, or as well); the diagonal C[a, a] is a's recall. Rows of labels absent
from the test split are undefined. Unlike a multi-class confusion matrix rows need not sum to 1.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from classlens.evaluation.bootstrap import BootstrapIntervals
from classlens.evaluation.calibration import reliability_bins
from classlens.evaluation.multilabel_bootstrap import multilabel_intervals
from classlens.evaluation.results import Metrics
from classlens.evaluation.thresholds import Thresholds, apply_thresholds, check_multilabel

ABSENT = "label absent from the test split"
NEVER_PREDICTED = "label never predicted on the test split"
NO_NEGATIVE = "every test image carries this label (no negatives)"
AVERAGES = ("micro", "macro", "weighted", "samples")
PER_LABEL_METRICS = ("precision", "recall", "f1", "support", "average_precision", "roc_auc",
                     "threshold", "ece", "tp", "fp", "fn", "tn")


@dataclass
class MultilabelReport:
    label_names: list[str]
    n_samples: int
    subset_accuracy: float  # exact match of the whole label set
    hamming_loss: float  # share of wrong (image, label) decisions
    mean_average_precision: Optional[float]  # over the labels whose AP is defined
    micro_average_precision: Optional[float]
    label_cardinality: tuple[float, float]  # mean labels per image: (true, predicted)
    no_label_fraction: tuple[float, float]  # images without any label: (true, predicted)
    averages: dict[str, dict[str, float]]  # micro_avg, macro_avg, weighted_avg, samples_avg
    per_label: dict[str, dict[str, Optional[float]]]  # name -> PER_LABEL_METRICS
    confusion: np.ndarray  # (K, 2, 2) per label [[tn, fp], [fn, tp]]
    cross_label: np.ndarray  # (K, K) counts: C[a, b] images of a with b predicted, not true
    calibration_bins: int
    undefined: dict[str, str] = field(default_factory=dict)  # dotted path -> why it is null
    bootstrap: Optional[BootstrapIntervals] = None

    @property
    def ece(self) -> float:
        """Mean of the labels' ECE (classwise ECE)."""
        return float(np.mean([v["ece"] for v in self.per_label.values()]))

    @property
    def cross_label_rates(self) -> np.ndarray:
        """`cross_label` divided by each label's support; NaN rows for absent labels."""
        support = np.diag(self.cross_label) + self.confusion[:, 1, 0]  # tp + fn
        rates = np.full(self.cross_label.shape, np.nan)
        np.divide(self.cross_label, support[:, None], out=rates, where=support[:, None] > 0)
        return rates

    def results(self) -> Metrics:
        """The numbers in all_metrics.json's layout (`classlens.evaluation.results`): labels
        under `per_class`, so the gate, `classlens compare` and the card read them unchanged."""
        return Metrics(
            headline={"n_samples": self.n_samples, "n_labels": len(self.label_names),
                      # exact match, as scikit-learn's accuracy_score on label sets: the
                      # `accuracy` every reader (gate, card, report, compare) shows first
                      "accuracy": self.subset_accuracy,
                      "hamming_loss": self.hamming_loss,
                      "mean_average_precision": self.mean_average_precision,
                      "micro_average_precision": self.micro_average_precision,
                      "label_cardinality_true": self.label_cardinality[0],
                      "label_cardinality_predicted": self.label_cardinality[1],
                      "no_true_label_fraction": self.no_label_fraction[0],
                      "no_predicted_label_fraction": self.no_label_fraction[1]},
            averages=self.averages,
            per_class=self.per_label,
            undefined=self.undefined,
            bootstrap=None if self.bootstrap is None else self.bootstrap.results(),
            calibration={"n_bins": self.calibration_bins, "ece": self.ece},
        )

    def to_json(self) -> dict:
        """The nested dict for all_metrics.json (no NaN: undefined numbers are null)."""
        return self.results().to_json()

    def per_label_rows(self) -> list[dict]:
        """One record per label: its metrics plus its F1 interval (the per-label table)."""
        rows = []
        for name, values in self.per_label.items():
            row = {"label": name, **values}
            if self.bootstrap is not None and self.bootstrap.intervals:
                low, high = self.bootstrap.intervals.get(f"per_class.{name}.f1", (None, None))
                row.update({"f1_low": low, "f1_high": high})
            rows.append(row)
        return rows

    def cross_label_json(self) -> dict:
        """The cross-label confusion for its own file: counts, rates (null rows for absent
        labels, reasons under `undefined`) and each label's support."""
        rates = self.cross_label_rates
        support = [int(v["support"]) for v in self.per_label.values()]
        return {"labels": list(self.label_names), "support": support,
                "counts": self.cross_label.astype(int).tolist(),
                "rates": [None if s == 0 else [float(v) for v in row]
                          for s, row in zip(support, rates)],
                "undefined": {f"rates.{name}": ABSENT
                              for name, s in zip(self.label_names, support) if s == 0}}


def multilabel_report(y_true: np.ndarray, probabilities: np.ndarray,
                      thresholds: Union[Thresholds, Sequence[float]], *,
                      label_names: Sequence[str], bootstrap_resamples: int = 0,
                      ci_level: float = 0.95, seed: int = 0,
                      calibration_bins: int = 15) -> MultilabelReport:
    """Every evaluate-stage number for one set of sigmoid predictions.

    Args:
        y_true: (N, K) 0/1 labels, N >= 1 (K = 1 for binary).
        probabilities: (N, K) probabilities in [0, 1].
        thresholds: the validation-fitted `Thresholds` (or K numbers); predicted where p >= it.
        label_names: K distinct names, index = column.
        bootstrap_resamples, ci_level, seed: percentile bootstrap intervals (0 resamples: none);
            see `classlens.evaluation.multilabel_bootstrap`.
        calibration_bins: equal-width bins of each label's ECE.

    >>> r = multilabel_report(np.array([[1, 0], [0, 1]]), np.array([[0.9, 0.2], [0.1, 0.7]]),
    ...                       [0.5, 0.5], label_names=["cat", "dog"])
    >>> r.subset_accuracy, r.per_label["dog"]["f1"]
    (1.0, 1.0)
    """
    y_true, probabilities = check_multilabel(y_true, probabilities)
    n, k = y_true.shape
    values = [float(v) for v in getattr(thresholds, "values", thresholds)]
    names = list(label_names)
    if n == 0:
        raise ValueError("y_true must hold at least one image; received 0")
    if len(names) != k or len(set(names)) != k:
        raise ValueError(f"label_names must be {k} distinct names (one per column); received "
                         f"{names[:5]}{' ...' if len(names) > 5 else ''} ({len(names)})")
    if len(values) != k:
        raise ValueError(f"thresholds must hold {k} values (one per label); received "
                         f"{len(values)}")
    if calibration_bins < 1:
        raise ValueError(f"calibration_bins must be >= 1; received {calibration_bins}")
    y_pred = apply_thresholds(probabilities, values).astype(bool)
    report = _report(y_true, y_pred, probabilities, values, names, calibration_bins)
    if bootstrap_resamples:
        report.bootstrap = multilabel_intervals(y_true, y_pred, probabilities, names,
                                                resamples=bootstrap_resamples, seed=seed,
                                                level=ci_level)
        report.undefined.update({f"bootstrap.intervals.{key}": reason
                                 for key, reason in report.bootstrap.undefined.items()})
    return report


def _report(y_true, y_pred, probabilities, thresholds, names, n_bins) -> MultilabelReport:
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        hamming_loss,
        multilabel_confusion_matrix,
        precision_recall_fscore_support,
    )

    true, pred = _indicator(y_true), _indicator(y_pred)
    labels = list(range(len(names)))
    with warnings.catch_warnings():  # the undefined cases are handled by the stated policy
        warnings.simplefilter("ignore")
        p, r, f, s = precision_recall_fscore_support(true, pred, labels=labels,
                                                     zero_division=np.nan)
        averages = {
            f"{avg}_avg": dict(zip(("precision", "recall", "f1"), (float(v) for v in (
                precision_recall_fscore_support(true, pred, labels=labels, average=avg,
                                                zero_division=0.0)[:3]))))
            for avg in AVERAGES}
    confusion = multilabel_confusion_matrix(true, pred, labels=labels)
    per_label: dict[str, dict[str, Optional[float]]] = {}
    undefined: dict[str, str] = {}
    for c, name in enumerate(names):
        auc, ap = _ranking_scores(y_true[:, c], probabilities[:, c])
        (tn, fp), (fn, tp) = confusion[c].tolist()
        ece = reliability_bins(probabilities[:, c], y_true[:, c], n_bins=n_bins).expected_error()
        values = {"precision": _none_if_nan(p[c]), "recall": _none_if_nan(r[c]),
                  "f1": _none_if_nan(f[c]), "support": int(s[c]), "average_precision": ap[0],
                  "roc_auc": auc[0], "threshold": thresholds[c], "ece": ece,
                  "tp": tp, "fp": fp, "fn": fn, "tn": tn}
        reasons = {"precision": NEVER_PREDICTED, "recall": ABSENT,
                   "f1": f"{ABSENT} and never predicted", "average_precision": ap[1],
                   "roc_auc": auc[1]}
        undefined.update({f"per_class.{name}.{metric}": reasons[metric]
                          for metric, value in values.items() if value is None})
        per_label[name] = values

    defined_ap = [v["average_precision"] for v in per_label.values()
                  if v["average_precision"] is not None]
    mean_ap = float(np.mean(defined_ap)) if defined_ap else None
    micro_ap = (float(average_precision_score(y_true.ravel(), probabilities.ravel()))
                if y_true.any() else None)
    if mean_ap is None:
        undefined["mean_average_precision"] = "no label has a positive image in the test split"
        undefined["micro_average_precision"] = "no label has a positive image in the test split"
    cross = y_true.T.astype(np.int64) @ (y_pred & ~y_true).astype(np.int64)
    np.fill_diagonal(cross, confusion[:, 1, 1])
    return MultilabelReport(
        label_names=names, n_samples=len(y_true),
        subset_accuracy=float(accuracy_score(true, pred)),
        hamming_loss=float(hamming_loss(y_true.astype(np.uint8), y_pred.astype(np.uint8))),
        mean_average_precision=mean_ap, micro_average_precision=micro_ap,
        label_cardinality=(float(y_true.sum(axis=1).mean()), float(y_pred.sum(axis=1).mean())),
        no_label_fraction=(float((~y_true.any(axis=1)).mean()),
                           float((~y_pred.any(axis=1)).mean())),
        averages=averages, per_label=per_label, confusion=confusion, cross_label=cross,
        calibration_bins=n_bins, undefined=undefined)


@dataclass(frozen=True)
class OperatingPoint:
    """A binary classifier's 2x2 at one threshold, with its rates (None where undefined)."""

    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    tpr: Optional[float]  # recall, sensitivity
    fpr: Optional[float]
    precision: Optional[float]
    specificity: Optional[float]  # 1 - FPR
    undefined: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def binary_operating_point(y_true: np.ndarray, p: np.ndarray, threshold: float) -> OperatingPoint:
    """TP, FP, FN, TN, TPR, FPR, precision and specificity where p >= `threshold`.

    Args:
        y_true: (N,) 0/1 labels; p: (N,) the positive class's probability.
    """
    y, scores = check_multilabel(np.reshape(y_true, (-1, 1)), np.reshape(p, (-1, 1)))
    from sklearn.metrics import confusion_matrix

    pred = apply_thresholds(scores, [threshold])[:, 0].astype(bool)
    (tn, fp), (fn, tp) = confusion_matrix(y[:, 0], pred, labels=[False, True]).tolist()
    rates = {"tpr": (tp, tp + fn, "no positive image"),
             "fpr": (fp, fp + tn, "no negative image"),
             "precision": (tp, tp + fp, "nothing predicted positive"),
             "specificity": (tn, fp + tn, "no negative image")}
    values = {name: num / den if den else None for name, (num, den, _) in rates.items()}
    return OperatingPoint(float(threshold), tp, fp, fn, tn, **values,
                          undefined={name: why for name, (_, den, why) in rates.items()
                                     if not den})


def _ranking_scores(y: np.ndarray, score: np.ndarray):
    """((ROC AUC, reason if None), (average precision, reason)) of one label."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not y.any():
        return (None, ABSENT), (None, ABSENT)
    ap = (float(average_precision_score(y, score)), None)
    if y.all():
        return (None, NO_NEGATIVE), ap
    return (float(roc_auc_score(y, score)), None), ap


def _indicator(a: np.ndarray) -> np.ndarray:
    """uint8 label-indicator array; with K = 1 a zero column is appended so scikit-learn reads
    it as multi-label (one column is read as binary, where `samples` averaging is refused), and
    every call passes `labels=range(K)` so the padding never enters a number."""
    a = a.astype(np.uint8)
    return np.hstack([a, np.zeros_like(a)]) if a.shape[1] == 1 else a


def _none_if_nan(value: float) -> Optional[float]:
    return None if np.isnan(value) else float(value)
