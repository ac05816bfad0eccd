"""Error analysis from the prediction table alone (no model, no TensorFlow)."""

from __future__ import annotations

import numpy as np


def split_by_correctness(table):
    """(correct rows, misclassified rows), each sorted by confidence, highest first."""
    ranked = table.sort_values("confidence", ascending=False, kind="stable")
    return ranked[ranked["correct"]], ranked[~ranked["correct"]]


def confused_pairs(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]):
    """Directional confusions true -> predicted with their count and rate (share of the true
    class's images), most frequent first; only pairs that occur.

    >>> confused_pairs(np.array([0, 0, 1]), np.array([1, 0, 1]), ["a", "b"]).to_dict("records")
    [{'true_label': 'a', 'pred_label': 'b', 'count': 1, 'rate': 0.5}]
    """
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    n = len(class_names)
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(n))
    support = counts.sum(axis=1)
    rows = [
        (class_names[t], class_names[p], int(counts[t, p]), counts[t, p] / support[t])
        for t in range(n) for p in range(n)
        if t != p and counts[t, p] > 0
    ]
    pairs = pd.DataFrame(rows, columns=["true_label", "pred_label", "count", "rate"])
    return pairs.sort_values(["count", "rate"], ascending=False, kind="stable").reset_index(
        drop=True)
