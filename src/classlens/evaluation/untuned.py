"""What the fitted thresholds bought: the decisions of a binary or multi-label model at one fixed
threshold (0.5, the usual default) scored like the tuned ones, for the report's "tuned against
0.5" table and all_metrics.json's `untuned` group (arrays in, numbers out)."""

from __future__ import annotations

import warnings

import numpy as np

UNTUNED = "untuned"  # the all_metrics.json group
DEFAULT_THRESHOLD = 0.5


def at_fixed_threshold(y_true: np.ndarray, probabilities: np.ndarray, *,
                       threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """Exact-match accuracy, macro and micro F1 over the labels (zero division as 0, as the
    tuned numbers) with every label decided at `threshold`; for one label (binary) also its
    precision, recall and F1. `y_true` (N, K) 0/1, `probabilities` (N, K)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    y_true = np.asarray(y_true).astype(bool)
    pred = np.asarray(probabilities) >= threshold
    out = {"threshold": float(threshold), "accuracy": float(accuracy_score(y_true, pred))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if y_true.shape[1] == 1:
            t, p = y_true[:, 0], pred[:, 0]
            out.update(f1=float(f1_score(t, p, zero_division=0)),
                       precision=float(precision_score(t, p, zero_division=0)),
                       recall=float(recall_score(t, p, zero_division=0)))
        else:
            for average in ("macro", "micro"):
                out[f"f1_{average}"] = float(f1_score(y_true, pred, average=average,
                                                      zero_division=0))
    return out
