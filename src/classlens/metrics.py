"""Classification metrics: arrays in, numbers out (scikit-learn underneath). Computed once here;
`metrics.json`, MLflow, figures and (later) the CI gate all read this one result.

Zero-division policy: a class that is never predicted has an undefined precision (and F1 when
recall is also 0 of 0). Per class it is reported as None ("null" in metrics.json, skipped in
MLflow); in the macro and weighted averages it counts as 0, scikit-learn's convention, so a model
that never predicts a class is penalised rather than flattered.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class ClassificationReport:
    class_names: list[str]
    n_samples: int
    accuracy: float
    top_k: int
    top_k_accuracy: float
    macro: dict[str, float]  # precision, recall, f1
    weighted: dict[str, float]
    per_class: dict[str, dict[str, Optional[float]]]  # name -> precision, recall, f1, support
    confusion: np.ndarray  # counts, rows = true class, columns = predicted class
    confusion_normalized: np.ndarray  # rows sum to 1 (0 for a class absent from y_true)

    def to_json(self) -> dict:
        """The nested dict written to metrics.json (per-class numbers under `per_class`)."""
        return {
            "n_samples": self.n_samples,
            "accuracy": self.accuracy,
            f"top_{self.top_k}_accuracy": self.top_k_accuracy,
            "macro_avg": self.macro,
            "weighted_avg": self.weighted,
            "per_class": self.per_class,
        }

    def flat(self) -> dict[str, Optional[float]]:
        """The same numbers as flat MLflow metric names: `accuracy`, `f1_macro`, `f1.<class>`..."""
        flat: dict[str, Optional[float]] = {
            "accuracy": self.accuracy,
            f"top_{self.top_k}_accuracy": self.top_k_accuracy,
        }
        for avg_name, values in (("macro", self.macro), ("weighted", self.weighted)):
            for metric, value in values.items():
                flat[f"{metric}_{avg_name}"] = value
        for name, values in self.per_class.items():
            for metric, value in values.items():
                flat[f"{metric}.{metric_key(name)}"] = value
        return flat


def metric_key(class_name: str) -> str:
    """A class name made safe for MLflow metric names (letters, digits, `_ - . /` and space);
    the one helper every per-class key goes through."""
    safe = "".join(c if c.isalnum() or c in "_-. /" else "_" for c in class_name)
    return safe or "_"


def classify(
    y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str], *, top_k: int
) -> ClassificationReport:
    """Every evaluate-stage number for one set of predictions.

    Args:
        y_true: (N,) integer labels in [0, C).
        probabilities: (N, C) predicted class probabilities; the prediction is their argmax.
        class_names: C names, index = label.
        top_k: k of top-k accuracy (k >= C gives 1.0).
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities)
    n_classes = len(class_names)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), n_classes):
        raise ValueError(
            f"probabilities must have shape (n_samples, n_classes) = ({len(y_true)}, {n_classes}); "
            f"received {probabilities.shape}"
        )
    labels = np.arange(n_classes)
    y_pred = probabilities.argmax(axis=1)

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
            for avg in ("macro", "weighted")
        }
    per_class = {
        name: {"precision": _none_if_nan(p[c]), "recall": _none_if_nan(r[c]),
               "f1": _none_if_nan(f[c]), "support": int(s[c])}
        for c, name in enumerate(class_names)
    }
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    return ClassificationReport(
        class_names=list(class_names),
        n_samples=int(len(y_true)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        top_k=int(top_k),
        top_k_accuracy=top_k_acc,
        macro=averages["macro"],
        weighted=averages["weighted"],
        per_class=per_class,
        confusion=counts,
        confusion_normalized=_row_normalize(counts),
    )


def _none_if_nan(value: float) -> Optional[float]:
    return None if np.isnan(value) else float(value)


def _row_normalize(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
