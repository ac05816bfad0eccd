"""Per-label decision thresholds for binary and multi-label models, fitted on the validation split
and stored with the model, so the test split only ever sees thresholds it did not choose.

A rule picks, for one label, a threshold from that label's distinct validation scores, using
scikit-learn's `precision_recall_curve` (candidate `t` predicts the label where p >= t):
- `f1`: the candidate with the highest F1 (ties, within 1e-12: the higher threshold, the fewer
  positive predictions);
- `precision`: the lowest candidate whose precision >= `target` (the most recall at that
  precision); a label whose validation precision never reaches it falls back;
- `recall`: the highest candidate whose recall >= `target` (the most precision at that recall);
- `fixed`: `value` for every label (nothing fitted).

The threshold returned is not the chosen score itself but the point midway between it and the
next lower distinct validation score (0 below the lowest): both give the same validation
predictions, and the midpoint leaves the same margin to the positive and the negative side, as
decision trees place their splits, instead of rejecting every unseen score just below it.

A label without a positive or without a negative validation image cannot be fitted: it falls
back to `value`, with the reason in `Thresholds.fallback`. Binary is K = 1 (the positive class's
probability as the only column).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from classlens.errors import Constraint, InputError, one_of
from classlens.task import decisions

_TIE = 1e-12  # F1 values this close count as equal (they come from float divisions)

NO_POSITIVE = "no positive image for this label in the validation split"
NO_NEGATIVE = "every validation image carries this label (no negative)"

Fit = Callable[[np.ndarray, np.ndarray, Optional[float]], tuple[Optional[int], str]]


@dataclass(frozen=True)
class Thresholds:
    """One decision threshold per label (index = label), how it was chosen, and the labels that
    fell back to the default with the reason."""

    values: list[float]
    rule: str
    target: Optional[float] = None
    fallback: dict[int, str] = field(default_factory=dict)  # label index -> why not fitted

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (fallback keys as strings, as JSON requires)."""
        return {"values": [float(v) for v in self.values], "rule": self.rule,
                "target": self.target,
                "fallback": {str(k): v for k, v in sorted(self.fallback.items())}}

    @classmethod
    def from_json(cls, raw: Any, *, source: str = "thresholds") -> "Thresholds":
        """The thresholds stored by `to_json`; InputError naming `source` and the key when a
        value is unusable."""
        if not isinstance(raw, Mapping):
            raise InputError(f"{source}: must be a JSON object; received {type(raw).__name__}")
        values = raw.get("values")
        if (not isinstance(values, list) or not values
                or not all(_number(0, 1).accepts(v) for v in values)):
            raise InputError(f"{source}: key 'values' must be a non-empty list of numbers in "
                             f"[0, 1]; received {values!r}")
        _input(RULE.accepts(raw.get("rule")), source, "rule", RULE.expected, raw.get("rule"))
        target = raw.get("target")
        _input(target is None or _number(0, 1, low_open=True).accepts(target), source,
               "target", "be null or in (0, 1]", target)
        fallback = raw.get("fallback") or {}
        _input(isinstance(fallback, Mapping) and all(
            str(k).isdigit() and int(k) < len(values) for k in fallback), source, "fallback",
            f"map label indices in [0, {len(values)}) to reasons", fallback)
        return cls([float(v) for v in values], raw["rule"],
                   None if target is None else float(target),
                   {int(k): str(v) for k, v in fallback.items()})


def fit_thresholds(y_true: np.ndarray, probabilities: np.ndarray, *, rule: str,
                   target: Optional[float] = None, value: float = 0.5) -> Thresholds:
    """Fit one threshold per label on validation predictions.

    Args:
        y_true: (N, K) 0/1 labels (K = 1 for binary).
        probabilities: (N, K) probabilities in [0, 1].
        rule: one of `RULES` ("f1", "precision", "recall", "fixed").
        target: the precision or recall to reach, in (0, 1] (those two rules only).
        value: the "fixed" rule's threshold and every unfittable label's fallback, in [0, 1].

    >>> t = fit_thresholds(np.array([[0], [1], [1]]), np.array([[0.2], [0.6], [0.8]]), rule="f1")
    >>> t.values  # midway between 0.2 (the negative) and 0.6 (the lowest positive)
    [0.4]
    """
    RULE.check("rule", rule)
    if rule in ("precision", "recall"):
        Constraint(_number(0, 1, low_open=True).accepts,
                   f"be in (0, 1] with rule {rule!r}").check("target", target)
    else:
        target = None  # f1 and fixed have no target: not stored, so not misread later
    _number(0, 1).check("value", value)
    y_true, probabilities = check_multilabel(y_true, probabilities)
    k = probabilities.shape[1]
    if rule == "fixed":
        return Thresholds([float(value)] * k, rule)
    values, fallback = [], {}
    for label in range(k):
        threshold, reason = _fit_label(RULES[rule], y_true[:, label], probabilities[:, label],
                                       target)
        values.append(float(value) if threshold is None else threshold)
        if threshold is None:
            fallback[label] = reason
    return Thresholds(values, rule, None if target is None else float(target), fallback)


def apply_thresholds(probabilities: np.ndarray, values: Sequence[float]) -> np.ndarray:
    """(N, K) uint8 decisions: 1 where the probability >= the label's threshold."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if probabilities.ndim != 2 or values.shape != (probabilities.shape[1],):
        raise ValueError(f"values must hold one threshold per column of probabilities "
                         f"{probabilities.shape}; received {values.shape[0] if values.ndim else 0}")
    return decisions(probabilities, values).astype(np.uint8)


def check_multilabel(y_true, probabilities, *, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(N, K) bool labels and float64 probabilities, or ValueError naming the argument."""
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or y_true.shape != probabilities.shape:
        raise ValueError(f"{prefix}y_true and {prefix}probabilities must have one shape "
                         f"(n_images, n_labels), (N, 1) for binary; received {y_true.shape} and "
                         f"{probabilities.shape}")
    if probabilities.shape[1] < 1:
        raise ValueError(f"{prefix}probabilities must have at least one label column; received 0")
    if y_true.size and not np.isin(y_true, (0, 1)).all():
        raise ValueError(f"{prefix}y_true must hold only 0 and 1; received values "
                         f"{np.unique(y_true)[:5].tolist()}")
    if not np.isfinite(probabilities).all() or probabilities.size and (
            probabilities.min() < 0 or probabilities.max() > 1):
        raise ValueError(f"{prefix}probabilities must be finite and in [0, 1]")
    return y_true.astype(bool), probabilities


def _fit_label(fit: Fit, y: np.ndarray, p: np.ndarray,
               target: Optional[float]) -> tuple[Optional[float], str]:
    """(threshold, "") or (None, why it cannot be fitted) for one label."""
    if not y.any():
        return None, NO_POSITIVE
    if y.all():
        return None, NO_NEGATIVE
    from sklearn.metrics import precision_recall_curve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, scores = precision_recall_curve(y, p)
    # the last point (precision 1, recall 0) has no threshold; scores ascend
    index, reason = fit(precision[:-1], recall[:-1], target)
    if index is None:
        return None, reason
    return _midway(np.unique(p), float(scores[index])), ""


def _midway(distinct: np.ndarray, score: float) -> float:
    """Midway between `score` and the next lower distinct score (0 below the lowest)."""
    at = int(np.searchsorted(distinct, score))
    lower = float(distinct[at - 1]) if at > 0 else 0.0
    middle = (lower + score) / 2
    # (a + b) / 2 rounds to a for adjacent floats: then only the score itself separates them
    return middle if lower < middle <= score else score


def _best_f1(precision, recall, target):
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return int(np.flatnonzero(f1 >= f1.max() - _TIE)[-1]), ""


def _reaches_precision(precision, recall, target):
    met = np.flatnonzero(precision >= target)
    if not len(met):
        return None, (f"no threshold reaches precision >= {target} on the validation split "
                      f"(highest {precision.max():.4g})")
    return int(met[0]), ""


def _reaches_recall(precision, recall, target):
    return int(np.flatnonzero(recall >= target)[-1]), ""  # the lowest score has recall 1


# rule -> (precision, recall, target) -> (index of the chosen score or None, why None);
# "fixed" fits nothing. Keep the keys in step with classlens.task.THRESHOLD_RULES.
RULES: dict[str, Optional[Fit]] = {"f1": _best_f1, "precision": _reaches_precision,
                                   "recall": _reaches_recall, "fixed": None}
RULE = one_of(RULES)


def _number(low: float, high: float, *, low_open: bool = False) -> Constraint:
    """A number in [low, high] ((low, high] when `low_open`); None or text fails, not raises."""
    def accepts(v) -> bool:
        return (isinstance(v, (int, float)) and not isinstance(v, bool)
                and (low < v if low_open else low <= v) and v <= high)
    return Constraint(accepts, f"be a number in {'(' if low_open else '['}{low}, {high}]")


def _input(ok: bool, source: str, key: str, expected: str, received) -> None:
    if not ok:
        raise InputError(f"{source}: key '{key}' must {expected}; received {received!r}")
