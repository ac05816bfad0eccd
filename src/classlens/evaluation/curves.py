"""One-vs-rest ROC and precision-recall per class: the AUC numbers (from the full curves) for
`classlens.evaluation.classification`, and the thinned curve tables the evaluate stage writes
as plot data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ABSENT = "class absent from the test split"


@dataclass(frozen=True)
class ClassCurves:
    """One-vs-rest ROC and precision-recall curves of one class (scikit-learn's points)."""

    fpr: np.ndarray
    tpr: np.ndarray
    roc_thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    pr_thresholds: np.ndarray  # one shorter than precision/recall (scikit-learn's convention)


def one_vs_rest(y_true, probabilities, class_names):
    """Per class: (ROC AUC, reason if None), (average precision, reason), and the curves of
    the classes whose curves are defined. `y_true` is (N,) class indices, or (N, C) 0/1 (a
    multi-label split: each label against its absence)."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    auc, ap, curves = [], [], {}
    n = len(y_true)
    for c, name in enumerate(class_names):
        positive = y_true[:, c].astype(bool) if np.ndim(y_true) == 2 else y_true == c
        score = probabilities[:, c]
        n_pos = int(positive.sum())
        if n_pos == 0:
            auc.append((None, ABSENT))
            ap.append((None, ABSENT))
            continue
        ap.append((float(average_precision_score(positive, score)), None))
        precision, recall, pr_thresholds = precision_recall_curve(positive, score,
                                                                  drop_intermediate=True)
        if n_pos == n:
            auc.append((None, "every test image belongs to this class (no negatives)"))
            fpr = tpr = roc_thresholds = np.array([])
        else:
            auc.append((float(roc_auc_score(positive, score)), None))
            fpr, tpr, roc_thresholds = roc_curve(positive, score, drop_intermediate=True)
        curves[name] = ClassCurves(fpr, tpr, roc_thresholds, precision, recall, pr_thresholds)
    return auc, ap, curves


def curve_tables(curves: ClassCurves, *, max_points: int):
    """(ROC, PR) DataFrames for plot data, each at most `max_points` rows (evenly thinned along
    the curve, ends kept) so 100 classes x 10,000 thresholds stay plottable. The AUC numbers are
    computed from the full curves, never from these."""
    import pandas as pd

    def thin(n: int) -> np.ndarray:
        if n <= max_points:
            return np.arange(n)
        return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))

    roc_idx = thin(len(curves.fpr))
    roc = pd.DataFrame({"fpr": curves.fpr[roc_idx], "tpr": curves.tpr[roc_idx],
                        "threshold": np.minimum(curves.roc_thresholds[roc_idx], 1.0)})
    # precision/recall end at (1, 0) with no threshold: pad with 1.0 (the highest score)
    pr_thresholds = np.append(curves.pr_thresholds, 1.0)
    pr_idx = thin(len(curves.recall))
    pr = pd.DataFrame({"recall": curves.recall[pr_idx], "precision": curves.precision[pr_idx],
                       "threshold": pr_thresholds[pr_idx]})
    return roc, pr
