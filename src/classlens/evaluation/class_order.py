"""Orders of the classes for confusion heatmaps: as given, sorted by recall (worst first), or
clustered so classes that are confused with each other sit next to each other."""

from __future__ import annotations

import numpy as np


def _given(normalized: np.ndarray) -> np.ndarray:
    return np.arange(len(normalized))


def _recall(normalized: np.ndarray) -> np.ndarray:
    """Worst recall (row-normalised diagonal) first; ties keep the given order."""
    return np.argsort(np.diag(normalized), kind="stable")


def _clustered(normalized: np.ndarray) -> np.ndarray:
    """Leaves of an average-linkage clustering (scipy, optimal leaf order) with distance
    1 - symmetric confusion rate, so blocks of mutually confused classes appear on the diagonal."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    n = len(normalized)
    if n < 3:
        return np.arange(n)
    similarity = (normalized + normalized.T) / 2
    np.fill_diagonal(similarity, 0.0)
    distance = 1.0 - similarity / max(similarity.max(), 1e-12)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average", optimal_ordering=True)
    return leaves_list(tree)


ORDERS = {"given": _given, "recall": _recall, "clustered": _clustered}


def class_order(normalized: np.ndarray, method: str) -> np.ndarray:
    """A permutation of the classes.

    Args:
        normalized: (C, C) row-normalised confusion matrix.
        method: one of `ORDERS` ("given", "recall", "clustered").
    """
    if method not in ORDERS:
        raise ValueError(f"method must be one of {sorted(ORDERS)}; received {method!r}")
    return np.asarray(ORDERS[method](np.asarray(normalized, dtype=np.float64)), dtype=np.int64)
