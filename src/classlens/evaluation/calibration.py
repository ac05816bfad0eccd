"""Confidence calibration of the top-1 prediction: reliability bins, ECE/MCE, adaptive ECE, and
temperature scaling fitted on the validation split. Arrays in, numbers out.

Written here because scikit-learn has no expected calibration error and no temperature scaling
that works from stored probabilities (`CalibratedClassifierCV` wants an estimator to refit);
the bins follow scikit-learn's `calibration_curve` convention (right-closed bins `(a, b]`, the
first bin `[0, b]`), so its per-bin numbers are the reference in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Temperatures searched (bounded 1-D minimisation of the NLL); 1 leaves probabilities unchanged.
TEMPERATURE_BOUNDS = (0.05, 20.0)
_EPS = np.finfo(np.float64).eps  # scikit-learn's log_loss clipping, so per-sample losses agree


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin confidence vs accuracy of the top-1 prediction (the reliability diagram's data).

    `strategy` is "uniform" (equal-width bins on [0, 1]) or "quantile" (equal-mass bins).
    Empty bins have count 0 and NaN means, and are left out of every error sum.
    """

    strategy: str
    edges: np.ndarray  # (n_bins + 1,)
    counts: np.ndarray  # (n_bins,)
    mean_confidence: np.ndarray  # (n_bins,)
    accuracy: np.ndarray  # (n_bins,)

    @property
    def gaps(self) -> np.ndarray:
        """|accuracy - confidence| per non-empty bin."""
        filled = self.counts > 0
        return np.abs(self.accuracy[filled] - self.mean_confidence[filled])

    def expected_error(self) -> float:
        """ECE: the count-weighted mean gap (0 for no samples)."""
        total = self.counts.sum()
        if total == 0:
            return 0.0
        return float((self.gaps * self.counts[self.counts > 0]).sum() / total)

    def max_error(self) -> float:
        """MCE: the largest gap of a non-empty bin (0 for no samples)."""
        gaps = self.gaps
        return float(gaps.max()) if len(gaps) else 0.0

    def to_json(self) -> dict:
        filled = self.counts > 0
        return {
            "strategy": self.strategy,
            "edges": [None if np.isnan(e) else round(float(e), 6) for e in self.edges],
            "counts": [int(c) for c in self.counts],
            "mean_confidence": [float(v) if f else None
                                for v, f in zip(self.mean_confidence, filled)],
            "accuracy": [float(v) if f else None for v, f in zip(self.accuracy, filled)],
        }


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = 15,
                     strategy: str = "uniform") -> ReliabilityBins:
    """Bin top-1 confidences and compare each bin's mean confidence with its accuracy.

    Args:
        confidence: (N,) top-1 probability in [0, 1].
        correct: (N,) whether the top-1 prediction is right.
        n_bins: number of bins (15 is the usual ECE setting, Guo et al. 2017).
        strategy: "uniform" equal-width bins; "quantile" equal-mass bins (adaptive ECE,
            Nixon et al. 2019): sorted confidences split into `n_bins` near-equal groups.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; received {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        ids = np.searchsorted(edges[1:-1], confidence)  # (a, b] bins, as calibration_curve
    elif strategy == "quantile":
        order = np.argsort(confidence, kind="stable")
        ids = np.empty(len(confidence), dtype=np.int64)
        for b, chunk in enumerate(np.array_split(order, n_bins)):
            ids[chunk] = b
        groups = np.array_split(confidence[order], n_bins)
        edges = np.array([0.0] + [float(g[-1]) if len(g) else np.nan for g in groups])
    else:
        raise ValueError(f"strategy must be one of ['uniform', 'quantile']; received {strategy!r}")
    counts = np.bincount(ids, minlength=n_bins)
    sums = np.bincount(ids, weights=confidence, minlength=n_bins)
    hits = np.bincount(ids, weights=correct.astype(np.float64), minlength=n_bins)
    filled = counts > 0
    mean_conf = np.full(n_bins, np.nan)
    accuracy = np.full(n_bins, np.nan)
    mean_conf[filled] = sums[filled] / counts[filled]
    accuracy[filled] = hits[filled] / counts[filled]
    return ReliabilityBins(strategy, edges, counts, mean_conf, accuracy)


def top1(probabilities: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) of the argmax prediction."""
    pred = probabilities.argmax(axis=1)
    return probabilities[np.arange(len(pred)), pred], pred == np.asarray(y_true)


def negative_log_likelihood(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """Mean -log p(true class), probabilities clipped at float64 eps as scikit-learn's log_loss."""
    if len(y_true) == 0:
        return 0.0
    p = probabilities[np.arange(len(y_true)), np.asarray(y_true)]
    return float(-np.log(np.clip(p, _EPS, 1.0)).mean())


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same as dividing the logits by T (log p differs from the logits by
    a per-row constant, which softmax ignores). T > 0 keeps every argmax, so accuracy is unchanged.
    """
    from scipy.special import log_softmax

    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1.0))
    return np.exp(log_softmax(logits / temperature, axis=1))


def fit_temperature(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature minimising the NLL of `y_true` (fit it on validation predictions).

    Written by hand (a bounded 1-D minimisation with scipy) because no maintained library fits
    a temperature from stored probabilities without the model; the NLL is smooth and unimodal in
    log T for practical cases, so a bounded scalar search suffices.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        raise ValueError("fit_temperature needs at least one validation sample; received 0")
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1.0))
    rows = np.arange(len(y_true))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, y_true].mean())

    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    result = minimize_scalar(nll, bounds=(low, high), method="bounded",
                             options={"xatol": 1e-6})
    # the bounded search never tries the ends exactly; keep T=1 when it is at least as good
    best = float(np.exp(result.x))
    return 1.0 if nll(0.0) <= nll(result.x) else best


@dataclass(frozen=True)
class CalibrationReport:
    """Calibration of the test predictions, before and after the validation-fitted temperature."""

    n_bins: int
    before: ReliabilityBins
    after: ReliabilityBins
    adaptive_before: ReliabilityBins
    adaptive_after: ReliabilityBins
    temperature: float
    nll_before: float
    nll_after: float
    accuracy_before: float
    accuracy_after: float
    n_validation: int

    def to_json(self) -> dict:
        """The numbers for all_metrics.json (bins are written to their own file)."""
        return {
            "n_bins": self.n_bins,
            "ece": self.before.expected_error(),
            "mce": self.before.max_error(),
            "adaptive_ece": self.adaptive_before.expected_error(),
            "nll": self.nll_before,
            "temperature": {
                "value": self.temperature,
                "fitted_on": "validation",
                "n_validation": self.n_validation,
                "ece": self.after.expected_error(),
                "mce": self.after.max_error(),
                "adaptive_ece": self.adaptive_after.expected_error(),
                "nll": self.nll_after,
                "accuracy": self.accuracy_after,
            },
        }

    def bins_json(self) -> dict:
        return {"before": self.before.to_json(), "after_temperature": self.after.to_json(),
                "adaptive_before": self.adaptive_before.to_json(),
                "adaptive_after_temperature": self.adaptive_after.to_json(),
                "temperature": self.temperature}


def calibrate(y_true: np.ndarray, probabilities: np.ndarray, *, val_true: np.ndarray,
              val_probabilities: np.ndarray, n_bins: int = 15) -> CalibrationReport:
    """ECE, MCE, adaptive ECE and NLL of the test predictions, before and after temperature
    scaling with a temperature fitted on the validation predictions.

    Args:
        y_true, probabilities: test labels (N,) and probabilities (N, C).
        val_true, val_probabilities: validation labels and probabilities (fit the temperature).
        n_bins: bins of the reliability diagram and of every ECE.
    """
    temperature = fit_temperature(val_probabilities, val_true)
    scaled = apply_temperature(probabilities, temperature)
    conf, correct = top1(probabilities, y_true)
    conf_t, correct_t = top1(scaled, y_true)
    n = max(len(y_true), 1)
    return CalibrationReport(
        n_bins=n_bins,
        before=reliability_bins(conf, correct, n_bins=n_bins),
        after=reliability_bins(conf_t, correct_t, n_bins=n_bins),
        adaptive_before=reliability_bins(conf, correct, n_bins=n_bins, strategy="quantile"),
        adaptive_after=reliability_bins(conf_t, correct_t, n_bins=n_bins, strategy="quantile"),
        temperature=temperature,
        nll_before=negative_log_likelihood(probabilities, y_true),
        nll_after=negative_log_likelihood(scaled, y_true),
        accuracy_before=float(correct.sum() / n),
        accuracy_after=float(correct_t.sum() / n),
        n_validation=int(len(val_true)),
    )
