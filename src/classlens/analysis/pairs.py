"""Most-confused class pairs, directional (a -> b) and symmetric (a <-> b), from labels alone."""

from __future__ import annotations

import numpy as np


def _counts(y_true, y_pred, n: int) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(n))


def confused_pairs(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]):
    """Directional confusions true -> predicted with their count and rate (share of the true
    class's images), most frequent first; only pairs that occur.

    >>> confused_pairs(np.array([0, 0, 1]), np.array([1, 0, 1]), ["a", "b"]).to_dict("records")
    [{'true_label': 'a', 'pred_label': 'b', 'count': 1, 'rate': 0.5}]
    """
    import pandas as pd

    n = len(class_names)
    counts = _counts(y_true, y_pred, n)
    support = counts.sum(axis=1)
    rows = [
        (class_names[t], class_names[p], int(counts[t, p]), counts[t, p] / support[t])
        for t in range(n) for p in range(n)
        if t != p and counts[t, p] > 0
    ]
    pairs = pd.DataFrame(rows, columns=["true_label", "pred_label", "count", "rate"])
    return pairs.sort_values(["count", "rate"], ascending=False, kind="stable").reset_index(
        drop=True)


def symmetric_pairs(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]):
    """Unordered confusions a <-> b: errors either way, their rate over the images of both
    classes, and each direction's count; most frequent first, only pairs that occur.

    >>> symmetric_pairs(np.array([0, 0, 1, 1]), np.array([1, 0, 0, 1]), ["a", "b"]).to_dict(
    ...     "records")
    [{'class_a': 'a', 'class_b': 'b', 'count': 2, 'rate': 0.5, 'a_to_b': 1, 'b_to_a': 1}]
    """
    import pandas as pd

    n = len(class_names)
    counts = _counts(y_true, y_pred, n)
    support = counts.sum(axis=1)
    rows = []
    for a in range(n):
        for b in range(a + 1, n):
            both = int(counts[a, b] + counts[b, a])
            if both:
                rows.append((class_names[a], class_names[b], both,
                             both / int(support[a] + support[b]),
                             int(counts[a, b]), int(counts[b, a])))
    pairs = pd.DataFrame(rows, columns=["class_a", "class_b", "count", "rate", "a_to_b",
                                        "b_to_a"])
    return pairs.sort_values(["count", "rate"], ascending=False, kind="stable").reset_index(
        drop=True)
