"""Label-issue suspects: test images whose given label the model finds implausible, in the
style of confident learning (Northcutt et al. 2021; cleanlab's `find_label_issues` and
`get_label_quality_scores`). They are *suspects* for a person to review, not verdicts.

Hand-written (a few lines of numpy) rather than adding cleanlab as a dependency for two
formulas. The test predictions are out-of-sample (the model never trained on them), which
confident learning requires.

An image with given label y is a suspect when its self-confidence p[y] is below class y's
threshold t_y AND some other class k reaches its own threshold, p[k] >= t_k; k is then the
suggested label (the most probable such class). The per-class threshold t_j is the mean p[j]
over the images labelled j (cleanlab's per-class thresholds); a class absent from the split has
no threshold and is never suggested. Suspects are ranked by a label-quality score, lowest first.
"""

from __future__ import annotations

import numpy as np


def _self_confidence(probabilities, labels):
    return probabilities[np.arange(len(labels)), labels]


def _normalized_margin(probabilities, labels):
    """(p[y] - max_{k != y} p[k] + 1) / 2, in [0, 1] (cleanlab's normalized margin)."""
    others = probabilities.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return (_self_confidence(probabilities, labels) - others.max(axis=1) + 1) / 2


SCORES = {"self_confidence": _self_confidence, "normalized_margin": _normalized_margin}


def per_class_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(C,) mean self-confidence of each class's images; NaN for a class with none."""
    n_classes = probabilities.shape[1]
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.array([probabilities[labels == j, j].sum() for j in range(n_classes)])
    out = np.full(n_classes, np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def label_suspects(probabilities: np.ndarray, labels: np.ndarray, *,
                   method: str = "normalized_margin"):
    """Suspected label issues, most suspicious first.

    Args:
        probabilities: (N, C) out-of-sample predicted probabilities.
        labels: (N,) given labels.
        method: ranking score, one of `SCORES` ("normalized_margin" or "self_confidence").

    Returns a DataFrame: position (row in the arrays), given, suggested, self_confidence,
    threshold (of the given class), score (the ranking score; lower is more suspicious).
    """
    import pandas as pd

    if method not in SCORES:
        raise ValueError(f"method must be one of {sorted(SCORES)}; received {method!r}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    thresholds = per_class_thresholds(probabilities, labels)
    self_conf = _self_confidence(probabilities, labels)
    # other classes reaching their own threshold (absent classes: NaN threshold, never reached)
    reached = probabilities >= np.where(np.isnan(thresholds), np.inf, thresholds)[None, :]
    reached[np.arange(len(labels)), labels] = False
    candidate = np.where(reached, probabilities, -np.inf)
    suspect = (self_conf < thresholds[labels]) & reached.any(axis=1)
    positions = np.flatnonzero(suspect)
    scores = SCORES[method](probabilities, labels)
    frame = pd.DataFrame({
        "position": positions,
        "given": labels[positions],
        "suggested": candidate[positions].argmax(axis=1) if len(positions) else
        np.array([], dtype=np.int64),
        "self_confidence": self_conf[positions],
        "threshold": thresholds[labels[positions]],
        "score": scores[positions],
    })
    return frame.sort_values(["score", "position"], kind="stable").reset_index(drop=True)
