"""Percentile bootstrap confidence intervals for accuracy, macro F1 and each class's F1, so a user
can tell a real change between experiments from test-set noise.

Written by hand because scikit-learn has none and `scipy.stats.bootstrap` resamples once per
statistic: here every statistic comes from the same resamples (one confusion matrix per resample,
`np.bincount`), which keeps 100 classes x 1,000 resamples well under a second and makes the
intervals jointly reproducible from `seed` alone.

Resample b draws `rng.integers(0, N, N)` (the b-th draw of `numpy.random.default_rng(seed)`)
and the statistics follow the zero-division policy of `classlens.evaluation.classification`: a
class with no true and no predicted image in a resample has an undefined F1 there (skipped for
its own interval, counted as 0 in the macro F1, like the point estimate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from classlens.evaluation.results import Bootstrap


@dataclass(frozen=True)
class BootstrapIntervals:
    level: float
    resamples: int
    seed: int
    # dotted all_metrics.json path -> (low, high); None where undefined (reason in `undefined`)
    intervals: dict[str, tuple[Optional[float], Optional[float]]]
    undefined: dict[str, str] = field(default_factory=dict)

    def results(self) -> Bootstrap:
        """The `bootstrap` entry of all_metrics.json (the reasons go to its `undefined`)."""
        return Bootstrap(self.level, self.resamples, self.seed, self.intervals)

    def to_json(self) -> dict:
        return self.results().to_json()


def bootstrap_intervals(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], *,
                        resamples: int, seed: int, level: float = 0.95) -> BootstrapIntervals:
    """Intervals keyed `accuracy`, `macro_avg.f1` and `per_class.<name>.f1`.

    Args:
        y_true, y_pred: (N,) integer labels in [0, C).
        class_names: C names, index = label.
        resamples: number of bootstrap resamples (0: no intervals).
        seed: seed of `numpy.random.default_rng`.
        level: central coverage, e.g. 0.95 -> 2.5th and 97.5th percentiles.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); received {level}")
    if resamples < 0:
        raise ValueError(f"resamples must be >= 0; received {resamples}")
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    n, c = len(y_true), len(class_names)
    keys = ["accuracy", "macro_avg.f1"] + [f"per_class.{name}.f1" for name in class_names]
    if resamples == 0:
        return BootstrapIntervals(level, 0, seed, {})
    if n == 0:
        return BootstrapIntervals(level, resamples, seed, {k: (None, None) for k in keys},
                                  {k: "no test samples" for k in keys})
    stats = _resample_statistics(y_true * c + y_pred, n, c, resamples, seed)
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    intervals: dict[str, tuple[Optional[float], Optional[float]]] = {}
    undefined: dict[str, str] = {}
    for j, key in enumerate(keys):
        column = stats[:, j]
        if np.isnan(column).all():
            intervals[key] = (None, None)
            undefined[key] = ("class absent from the test split and never predicted, so its F1 "
                              "is undefined in every resample")
            continue
        low, high = np.nanpercentile(column, q)
        intervals[key] = (float(low), float(high))
    return BootstrapIntervals(level, resamples, seed, intervals, undefined)


def _resample_statistics(cells: np.ndarray, n: int, c: int, resamples: int,
                         seed: int) -> np.ndarray:
    """(resamples, 2 + C): accuracy, macro F1, per-class F1 (NaN where undefined)."""
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, 2 + c))
    for b in range(resamples):
        counts = np.bincount(cells[rng.integers(0, n, n)], minlength=c * c).reshape(c, c)
        tp = np.diag(counts).astype(np.float64)
        denominator = counts.sum(axis=0) + counts.sum(axis=1)  # predicted + true = 2tp+fp+fn
        f1 = np.full(c, np.nan)
        np.divide(2 * tp, denominator, out=f1, where=denominator > 0)
        out[b, 0] = tp.sum() / n
        out[b, 1] = np.where(np.isnan(f1), 0.0, f1).mean()
        out[b, 2:] = f1
    return out
