"""Classification metrics: arrays in, numbers out (scikit-learn underneath). Computed once here;
`data/eval/all_metrics.json` (laid out by `classlens.evaluation.results`), MLflow, figures, the report and the
CI gate all read this one result.

Undefined numbers are None ("null" in metrics.json, skipped in MLflow, never NaN), each with its
reason in `ClassificationReport.undefined` under the metric's dotted all_metrics.json path:
- precision of a class never predicted; recall of a class absent from the test split; F1 only
  when both (2tp + fp + fn = 0); ROC AUC / average precision of a class absent from the test
  split (ROC AUC also when every image belongs to it); Cohen's kappa when chance agreement is 1.
- In the macro and weighted precision/recall/F1 an undefined class counts as 0 (scikit-learn's
  `zero_division=0`), so a model that never predicts a class is penalised, not flattered.
- `roc_auc_ovr_macro` averages the classes whose AUC is defined (scikit-learn's
  `roc_auc_score(multi_class="ovr")` refuses a test split that lacks a class; with every class
  present the two agree). `balanced_accuracy` averages the recall of the classes present.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from classlens.evaluation.bootstrap import BootstrapIntervals, bootstrap_intervals
from classlens.evaluation.calibration import CalibrationReport, calibrate
from classlens.evaluation.curves import ABSENT, ClassCurves, one_vs_rest
from classlens.evaluation.results import Metrics

PER_CLASS_METRICS = ("precision", "recall", "f1", "support", "roc_auc", "average_precision")
NEVER_PREDICTED = "class never predicted on the test split"


@dataclass
class ClassificationReport:
    class_names: list[str]
    n_samples: int
    accuracy: float
    balanced_accuracy: float
    top_k: int
    top_k_accuracy: float
    macro: dict[str, float]  # precision, recall, f1
    weighted: dict[str, float]
    micro: dict[str, float]
    log_loss: float
    cohen_kappa: Optional[float]
    roc_auc_ovr_macro: Optional[float]
    per_class: dict[str, dict[str, Optional[float]]]  # name -> PER_CLASS_METRICS
    confusion: np.ndarray  # counts, rows = true class, columns = predicted class
    confusion_normalized: np.ndarray  # rows sum to 1 (recall view; 0 row for an absent class)
    confusion_column_normalized: np.ndarray  # columns sum to 1 (precision view)
    curves: dict[str, ClassCurves]  # classes whose curves are defined
    undefined: dict[str, str] = field(default_factory=dict)  # dotted path -> why it is null
    bootstrap: Optional[BootstrapIntervals] = None
    calibration: Optional[CalibrationReport] = None

    def results(self) -> Metrics:
        """The numbers of all_metrics.json (`classlens.evaluation.results` lays them out)."""
        return Metrics(
            headline={"n_samples": self.n_samples, "accuracy": self.accuracy,
                      "balanced_accuracy": self.balanced_accuracy,
                      f"top_{self.top_k}_accuracy": self.top_k_accuracy,
                      "log_loss": self.log_loss, "cohen_kappa": self.cohen_kappa,
                      "roc_auc_ovr_macro": self.roc_auc_ovr_macro},
            averages={"macro_avg": self.macro, "weighted_avg": self.weighted,
                      "micro_avg": self.micro},
            per_class=self.per_class,
            undefined=self.undefined,
            bootstrap=None if self.bootstrap is None else self.bootstrap.results(),
            calibration=None if self.calibration is None else self.calibration.to_json(),
        )

    def to_json(self) -> dict:
        """The nested dict written to all_metrics.json (per-class numbers under `per_class`)."""
        return self.results().to_json()

    def per_class_rows(self) -> list[dict]:
        """One record per class: its metrics plus its F1 interval (the per-class table)."""
        rows = []
        for name, values in self.per_class.items():
            row = {"class": name, **values}
            if self.bootstrap is not None and self.bootstrap.intervals:
                low, high = self.bootstrap.intervals.get(f"per_class.{name}.f1", (None, None))
                row.update({"f1_low": low, "f1_high": high})
            rows.append(row)
        return rows


def classify(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str],
    *,
    top_k: int,
    bootstrap_resamples: int = 0,
    bootstrap_seed: int = 0,
    bootstrap_level: float = 0.95,
    val_true: Optional[np.ndarray] = None,
    val_probabilities: Optional[np.ndarray] = None,
    calibration_bins: int = 15,
    y_pred: Optional[np.ndarray] = None,
) -> ClassificationReport:
    """Every evaluate-stage number for one set of predictions.

    Args:
        y_true: (N,) integer labels in [0, C), N >= 1.
        probabilities: (N, C) predicted class probabilities (rows renormalised in float64);
            the prediction is their argmax.
        class_names: C names, index = label.
        top_k: k of top-k accuracy (k >= C gives 1.0).
        bootstrap_resamples, bootstrap_seed, bootstrap_level: percentile bootstrap intervals
            (0 resamples: none); see `classlens.evaluation.bootstrap`.
        val_true, val_probabilities: validation predictions; when given, calibration (ECE, MCE,
            adaptive ECE, NLL) before and after a validation-fitted temperature is added.
        calibration_bins: bins of every ECE and of the reliability diagram.
        y_pred: (N,) the decisions, when they are not the argmax (binary: the positive class
            where its probability reaches the validation-fitted threshold).

    >>> r = classify(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), ["a", "b"], top_k=1)
    >>> r.accuracy, r.per_class["b"]["f1"]
    (1.0, 1.0)
    """
    y_true, probabilities = _check_inputs(y_true, probabilities, class_names, "")
    n_classes = len(class_names)
    labels = np.arange(n_classes)
    y_pred = probabilities.argmax(axis=1) if y_pred is None else np.asarray(y_pred, np.int64)
    undefined: dict[str, str] = {}

    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        log_loss,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    if top_k >= n_classes:
        top_k_acc = 1.0
    else:
        scores = probabilities[:, 1] if n_classes == 2 else probabilities
        top_k_acc = float(top_k_accuracy_score(y_true, scores, k=top_k, labels=labels))

    with warnings.catch_warnings():  # the undefined cases are handled by the stated policy
        warnings.simplefilter("ignore")
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     zero_division=np.nan)
        averages = {
            avg: dict(zip(("precision", "recall", "f1"),
                          (float(v) for v in precision_recall_fscore_support(
                              y_true, y_pred, labels=labels, average=avg, zero_division=0.0)[:3])))
            for avg in ("macro", "weighted", "micro")
        }
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    auc, ap, curves = one_vs_rest(y_true, probabilities, class_names)
    per_class: dict[str, dict[str, Optional[float]]] = {}
    for c, name in enumerate(class_names):
        values = {"precision": _none_if_nan(p[c]), "recall": _none_if_nan(r[c]),
                  "f1": _none_if_nan(f[c]), "support": int(s[c]),
                  "roc_auc": auc[c][0], "average_precision": ap[c][0]}
        reasons = {"precision": NEVER_PREDICTED, "recall": ABSENT,
                   "f1": f"{ABSENT} and never predicted",
                   "roc_auc": auc[c][1], "average_precision": ap[c][1]}
        for metric, value in values.items():
            if value is None:
                undefined[f"per_class.{name}.{metric}"] = reasons[metric]
        per_class[name] = values

    defined_auc = [v for v, _ in auc if v is not None]
    roc_auc_macro = float(np.mean(defined_auc)) if defined_auc else None
    if roc_auc_macro is None:
        undefined["roc_auc_ovr_macro"] = "no class has a defined one-vs-rest ROC AUC"
    kappa = _cohen_kappa(y_true, y_pred, counts)
    if kappa is None:
        undefined["cohen_kappa"] = ("true and predicted labels are one and the same class, so "
                                    "chance agreement is 1")

    report = ClassificationReport(
        class_names=list(class_names),
        n_samples=int(len(y_true)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        balanced_accuracy=_balanced_accuracy(r),
        top_k=int(top_k),
        top_k_accuracy=top_k_acc,
        macro=averages["macro"],
        weighted=averages["weighted"],
        micro=averages["micro"],
        log_loss=float(log_loss(y_true, probabilities, labels=labels)),
        cohen_kappa=kappa,
        roc_auc_ovr_macro=roc_auc_macro,
        per_class=per_class,
        confusion=counts,
        confusion_normalized=_normalize(counts, axis=1),
        confusion_column_normalized=_normalize(counts, axis=0),
        curves=curves,
        undefined=undefined,
    )
    if bootstrap_resamples:
        report.bootstrap = bootstrap_intervals(y_true, y_pred, list(class_names),
                                               resamples=bootstrap_resamples,
                                               seed=bootstrap_seed, level=bootstrap_level)
        report.undefined.update({f"bootstrap.intervals.{k}": v
                                 for k, v in report.bootstrap.undefined.items()})
    if val_true is not None and val_probabilities is not None:
        val_true, val_probabilities = _check_inputs(val_true, val_probabilities, class_names,
                                                    "val_")
        report.calibration = calibrate(y_true, probabilities, val_true=val_true,
                                       val_probabilities=val_probabilities,
                                       n_bins=calibration_bins)
    return report


def _check_inputs(y_true, probabilities, class_names, prefix: str):
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = len(class_names)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), n_classes):
        raise ValueError(
            f"{prefix}probabilities must have shape (n_samples, n_classes) = ({len(y_true)}, "
            f"{n_classes}); received {probabilities.shape}"
        )
    if len(y_true) == 0:
        raise ValueError(f"{prefix}y_true must hold at least one sample; received 0")
    if n_classes < 2:
        raise ValueError(f"class_names must name at least 2 classes; received {n_classes}")
    if not np.issubdtype(y_true.dtype, np.integer) or y_true.min() < 0 or y_true.max() >= n_classes:
        raise ValueError(f"{prefix}y_true must be integer labels in [0, {n_classes}); received "
                         f"{y_true.dtype} in [{y_true.min()}, {y_true.max()}]")
    totals = probabilities.sum(axis=1, keepdims=True)
    if not np.isfinite(probabilities).all() or (probabilities < 0).any() or (totals <= 0).any():
        raise ValueError(f"{prefix}probabilities must be finite, non-negative, and each row "
                         "must have a positive sum")
    return y_true.astype(np.int64), probabilities / totals


def _balanced_accuracy(recall: np.ndarray) -> float:
    """Mean recall over the classes present (scikit-learn's balanced_accuracy_score, without
    its warning about predicted classes absent from y_true)."""
    present = recall[~np.isnan(recall)]
    return float(present.mean())


def _cohen_kappa(y_true, y_pred, counts: np.ndarray) -> Optional[float]:
    """scikit-learn's cohen_kappa_score; None where chance agreement is 1 (0/0)."""
    from sklearn.metrics import cohen_kappa_score

    n = counts.sum()
    chance = float((counts.sum(axis=0) * counts.sum(axis=1)).sum()) / float(n * n)
    if np.isclose(chance, 1.0):
        return None
    return float(cohen_kappa_score(y_true, y_pred, labels=np.arange(len(counts))))


def _none_if_nan(value: float) -> Optional[float]:
    return None if np.isnan(value) else float(value)


def _normalize(counts: np.ndarray, *, axis: int) -> np.ndarray:
    totals = counts.sum(axis=axis, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
