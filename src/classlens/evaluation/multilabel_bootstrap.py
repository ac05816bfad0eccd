"""Percentile bootstrap intervals of the multi-label headline numbers: macro F1, micro F1, mean
average precision, subset accuracy and each label's F1, all from the same resamples of images.

Written by hand for the reason `classlens.evaluation.bootstrap` gives (scikit-learn has none;
`scipy.stats.bootstrap` resamples per statistic). The resamples are the same ones: resample b is
the b-th `rng.integers(0, N, N)` of `numpy.random.default_rng(seed)`. A resample is held as the
count of each image in it (weights), so every count is a matrix product and each label's average
precision a cumulative sum over that label's images sorted once by score: a duplicated image
carries its own score, so the weighted sums equal scikit-learn's `average_precision_score` on the
resampled rows. 1,000 resamples x 20 labels x 2,000 images take about a second on one core.

The statistics follow `classlens.evaluation.multilabel`'s policy: a label with no true and no
predicted image in a resample has no F1 there (skipped for its own interval, 0 in the macro F1);
a label with no positive image in a resample has no AP there (left out of that resample's mAP).
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from classlens.evaluation.bootstrap import BootstrapIntervals

_CELLS = 4_000_000  # resample-image weights held at once (32 MB of float64)
HEADLINE_KEYS = ("macro_avg.f1", "micro_avg.f1", "mean_average_precision", "accuracy")


def multilabel_intervals(y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray,
                         label_names: list[str], *, resamples: int, seed: int,
                         level: float = 0.95) -> BootstrapIntervals:
    """Intervals keyed by the report's dotted paths: `HEADLINE_KEYS` and
    `per_class.<label>.f1`.

    Args:
        y_true, y_pred: (N, K) 0/1 true and predicted labels, N >= 1.
        probabilities: (N, K) scores (for the average precision).
        label_names: K names, index = column.
        resamples: number of resamples (0: no intervals).
        seed: seed of `numpy.random.default_rng`.
        level: central coverage, e.g. 0.95 -> 2.5th and 97.5th percentiles.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); received {level}")
    if resamples < 0:
        raise ValueError(f"resamples must be >= 0; received {resamples}")
    if resamples == 0:
        return BootstrapIntervals(level, 0, seed, {})
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    if len(y_true) == 0:
        raise ValueError("y_true must hold at least one image; received 0")
    stats = _statistics(y_true, y_pred, np.asarray(probabilities, dtype=np.float64),
                        resamples, seed)
    keys = list(HEADLINE_KEYS) + [f"per_class.{name}.f1" for name in label_names]
    never = {"mean_average_precision": "no label has a positive image in the test split, so "
                                       "no average precision is defined in any resample"}
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    intervals: dict[str, tuple[Optional[float], Optional[float]]] = {}
    undefined: dict[str, str] = {}
    for j, key in enumerate(keys):
        column = stats[:, j]
        if np.isnan(column).all():
            intervals[key] = (None, None)
            undefined[key] = never.get(key, "label absent from the test split and never "
                                            "predicted, so its F1 is undefined in every resample")
            continue
        low, high = np.nanpercentile(column, q)
        intervals[key] = (float(low), float(high))
    return BootstrapIntervals(level, resamples, seed, intervals, undefined)


def _statistics(y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray,
                resamples: int, seed: int) -> np.ndarray:
    """(resamples, 4 + K): macro F1, micro F1, mAP, subset accuracy, per-label F1 (NaN where
    undefined). Resamples are drawn one by one, in order, and scored a chunk at a time."""
    n, k = y_true.shape
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, 4 + k))
    hits = (y_true & y_pred).astype(np.float64)
    false_alarms = (~y_true & y_pred).astype(np.float64)
    misses = (y_true & ~y_pred).astype(np.float64)
    exact = (y_true == y_pred).all(axis=1).astype(np.float64)
    ranking = _Ranking(y_true, probabilities)
    chunk = max(1, _CELLS // n)
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        draws = np.stack([rng.integers(0, n, n) for _ in range(b)])
        rows = np.repeat(np.arange(b) * n, n)
        weights = np.bincount(rows + draws.ravel(), minlength=b * n).reshape(b, n)
        weights = weights.astype(np.float64)
        tp, fp, fn = weights @ hits, weights @ false_alarms, weights @ misses
        denominator = 2 * tp + fp + fn
        f1 = np.full((b, k), np.nan)
        np.divide(2 * tp, denominator, out=f1, where=denominator > 0)
        micro = denominator.sum(axis=1)
        part = out[start:start + b]
        part[:, 0] = np.where(np.isnan(f1), 0.0, f1).mean(axis=1)
        part[:, 1] = np.divide(2 * tp.sum(axis=1), micro, out=np.zeros(b), where=micro > 0)
        with warnings.catch_warnings():  # a resample without any positive: NaN, kept as such
            warnings.simplefilter("ignore", RuntimeWarning)
            part[:, 2] = np.nanmean(ranking.average_precision(weights.T.copy()), axis=1)
        part[:, 3] = weights @ exact / n
        part[:, 4:] = f1
    return out


class _Ranking:
    """Each label's images sorted by descending score once, and the thresholds that matter: the
    last position of each run of tied scores (tied images enter the ranking together, as in
    scikit-learn) that holds a positive image. Elsewhere recall does not move, so those
    thresholds add nothing to the average precision, in the test split or any resample of it."""

    def __init__(self, y_true: np.ndarray, probabilities: np.ndarray):
        self.labels = []
        for label in range(y_true.shape[1]):
            score = probabilities[:, label]
            order = np.argsort(-score, kind="stable")
            positive = y_true[order, label]
            ends = np.r_[np.flatnonzero(np.diff(score[order])), len(order) - 1]
            seen = np.cumsum(positive)[ends]  # positives ranked at or above each end
            steps = np.diff(seen, prepend=0) > 0
            self.labels.append((order, np.flatnonzero(positive), ends[steps], seen[steps]))

    def average_precision(self, weights: np.ndarray) -> np.ndarray:
        """(resamples, K) AP = sum over thresholds of (recall step) x precision; NaN where the
        resample holds no positive image of the label. `weights` is (N, resamples): cumulative
        sums then run down contiguous rows."""
        ap = np.full((weights.shape[1], len(self.labels)), np.nan)
        for label, (order, positives, ends, seen) in enumerate(self.labels):
            if not len(positives):
                continue
            ranked = weights[order]
            predicted = np.cumsum(ranked, axis=0)[ends]
            tps = np.cumsum(ranked[positives], axis=0)[seen - 1]
            total = tps[-1]
            has = total > 0
            precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted > 0)
            recall = np.divide(tps, total, out=np.zeros_like(tps), where=has)
            steps = np.diff(recall, axis=0, prepend=0.0)
            ap[has, label] = (steps * precision).sum(axis=0)[has]
        return ap
