"""Comparing two experiments: pure functions over their params, metrics (the typed `Metrics` of
each run's full metrics file), confusion matrices and prediction tables.

Independent bootstrap intervals of A and B overlap even for a real change; the change itself is
judged on the images both runs predicted (`paired_change`): a paired percentile bootstrap of
accuracy and macro F1 (the same resampled images for both runs) and McNemar's exact test on the
images whose correctness flipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from classlens.evaluation.results import Metrics

Interval = tuple[Optional[float], Optional[float]]

# The headline rows: (label, dotted path in the metrics file); intervals where the file has them.
HEADLINE = (("test accuracy", "accuracy"), ("macro F1", "macro_avg.f1"),
            ("weighted F1", "weighted_avg.f1"), ("balanced accuracy", "balanced_accuracy"),
            ("log loss", "log_loss"), ("ECE", "calibration.ece"),
            ("ECE after temperature scaling", "calibration.temperature.ece"),
            ("test images", "n_samples"))


def params_diff(a: dict[str, str], b: dict[str, str]):
    """Params whose values differ (or exist on one side only, shown as "—"), sorted by name."""
    import pandas as pd

    rows = [(k, a.get(k, "—"), b.get(k, "—")) for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]
    return pd.DataFrame(rows, columns=["param", "A", "B"])


def metrics_side_by_side(a: Mapping[str, Optional[float]], b: Mapping[str, Optional[float]]):
    """Every metric of either run with both values and the change B - A, sorted by name."""
    import pandas as pd

    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        change = vb - va if va is not None and vb is not None else None
        rows.append((key, va, vb, change))
    return pd.DataFrame(rows, columns=["metric", "A", "B", "change"])


def f1_movers(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]], *,
              top: Optional[int] = None):
    """Classes ranked by how far their F1 moved from A to B, from the two runs' `per_class`
    entries; classes whose F1 did not move or is undefined on either side are left out."""
    import pandas as pd

    rows = [(n, b[n].get("support", a[n].get("support")), a[n]["f1"], b[n]["f1"],
             b[n]["f1"] - a[n]["f1"])
            for n in a if n in b and a[n].get("f1") is not None and b[n].get("f1") is not None
            and a[n]["f1"] != b[n]["f1"]]
    table = pd.DataFrame(rows, columns=["class", "support", "f1_A", "f1_B", "change"])
    table = table.reindex(table["change"].abs().sort_values(ascending=False, kind="stable").index)
    return table.head(top).reset_index(drop=True) if top else table.reset_index(drop=True)


@dataclass(frozen=True)
class HeadlineRow:
    label: str
    path: str  # dotted path in the metrics file (names the kind of number for formatting)
    a: Optional[float]
    b: Optional[float]
    a_interval: Optional[Interval] = None
    b_interval: Optional[Interval] = None
    change_interval: Optional[Interval] = None  # paired bootstrap of B - A

    @property
    def change(self) -> Optional[float]:
        return None if self.a is None or self.b is None else self.b - self.a


def headline(a: Metrics, b: Metrics, paired: Optional["PairedChange"] = None
             ) -> list[HeadlineRow]:
    """The `HEADLINE` numbers of both runs (rows where neither run has the number are left
    out), with each run's bootstrap interval and the paired interval of the change."""
    flat_a, flat_b = a.flat(), b.flat()
    rows = []
    for label, path in HEADLINE:
        if flat_a.get(path) is None and flat_b.get(path) is None:
            continue
        rows.append(HeadlineRow(label, path, flat_a.get(path), flat_b.get(path),
                                a.interval(path), b.interval(path),
                                None if paired is None else paired.intervals.get(path)))
    for key, _ in b.top_k() or a.top_k():
        rows.insert(2, HeadlineRow(key.replace("_", " "), key, flat_a.get(key), flat_b.get(key)))
    weakest_a, weakest_b = a.weakest_class(), b.weakest_class()
    if weakest_a or weakest_b:
        names = f"A: {weakest_a[0] if weakest_a else '—'}, B: {weakest_b[0] if weakest_b else '—'}"
        rows.insert(2, HeadlineRow(f"weakest class F1 ({names})", "f1_weakest",
                                   weakest_a[1] if weakest_a else None,
                                   weakest_b[1] if weakest_b else None))
    return rows


@dataclass(frozen=True)
class PairedChange:
    """The change B - A on the images both runs predicted."""

    n: int  # images in both prediction tables
    right_to_wrong: int
    wrong_to_right: int
    mcnemar_p: Optional[float]  # exact two-sided McNemar (binomial on the flips); None: no flips
    intervals: dict[str, Interval]  # "accuracy", "macro_avg.f1" -> paired bootstrap interval
    level: float
    resamples: int
    seed: int


def paired_change(true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str],
                  classes: Sequence[str], *, resamples: int = 1000, seed: int = 0,
                  level: float = 0.95) -> PairedChange:
    """Paired bootstrap intervals of the change in accuracy and macro F1 (each resample draws
    the same images for A and B; macro F1 over `classes`, an undefined class F1 counted as 0 as
    in the evaluate stage), and McNemar's exact test on the images whose correctness flipped.

    Args:
        true, pred_a, pred_b: class names per image, in one image order.
        classes: every class name (labels outside it are added after it).
    """
    names = list(classes) + sorted((set(true) | set(pred_a) | set(pred_b)) - set(classes))
    code = {name: i for i, name in enumerate(names)}
    t, pa, pb = (np.array([code[x] for x in labels], dtype=np.int64)
                 for labels in (true, pred_a, pred_b))
    c = len(names)

    def change(pick: np.ndarray) -> tuple[float, float]:
        acc_a, f1_a = _accuracy_macro_f1(t[pick], pa[pick], c, len(classes))
        acc_b, f1_b = _accuracy_macro_f1(t[pick], pb[pick], c, len(classes))
        return acc_b - acc_a, f1_b - f1_a

    return paired_bootstrap(pa == t, pb == t, change, resamples=resamples, seed=seed,
                            level=level)


def paired_bootstrap(right_a: np.ndarray, right_b: np.ndarray, change, *, resamples: int,
                     seed: int, level: float) -> PairedChange:
    """McNemar's exact test on the images whose correctness flipped (`right_a`, `right_b`: per
    image), and percentile intervals of `change(pick)` -> (accuracy change, macro F1 change)
    over resamples that draw the same images for A and B (`rng.integers(0, N, N)`)."""
    from scipy.stats import binomtest

    n = len(right_a)
    r2w, w2r = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    p = binomtest(r2w, r2w + w2r, 0.5).pvalue if r2w + w2r else None
    intervals: dict[str, Interval] = {}
    if n and resamples:
        rng = np.random.default_rng(seed)
        diffs = np.array([change(rng.integers(0, n, n)) for _ in range(resamples)])
        low, high = np.percentile(diffs, 100 * np.array([(1 - level) / 2, (1 + level) / 2]),
                                  axis=0)
        intervals = {"accuracy": (float(low[0]), float(high[0])),
                     "macro_avg.f1": (float(low[1]), float(high[1]))}
    return PairedChange(n, r2w, w2r, None if p is None else float(p), intervals, level,
                        resamples, seed)


def _accuracy_macro_f1(t: np.ndarray, p: np.ndarray, c: int, n_classes: int
                       ) -> tuple[float, float]:
    counts = np.bincount(t * c + p, minlength=c * c).reshape(c, c)
    tp = np.diag(counts).astype(np.float64)
    denominator = counts.sum(axis=0) + counts.sum(axis=1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(c), where=denominator > 0)
    return tp.sum() / len(t), f1[:max(n_classes, 1)].mean()


def aligned_confusions(a: Mapping[str, Any], b: Mapping[str, Any]
                       ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The two runs' row-normalised confusion matrices (`confusion_matrix.json` dicts) in one
    class order: A's display order (`order.classes`, else its class list). Raises ValueError
    when the runs have different class sets."""
    names_a, names_b = list(a["classes"]), list(b["classes"])
    if set(names_a) != set(names_b):
        only = sorted(set(names_a) ^ set(names_b))[:5]
        raise ValueError(f"the runs have different classes ({', '.join(only)} in one only)")
    order = list((a.get("order") or {}).get("classes") or names_a)
    index_a = [names_a.index(n) for n in order]
    index_b = [names_b.index(n) for n in order]
    matrix_a, matrix_b = (_rows(m["row_normalized"], len(names_a))[np.ix_(index, index)]
                          for m, index in ((a, index_a), (b, index_b)))
    return order, matrix_a, matrix_b


def _rows(rows, n: int) -> np.ndarray:
    """A row-normalised matrix as floats; a null row (a multi-label run's label absent from the
    test split) reads as zeros."""
    return np.asarray([[0.0] * n if row is None else row for row in rows], dtype=float)


def confusion_movers(classes: Sequence[str], a: np.ndarray, b: np.ndarray, *, top: int = 10):
    """Off-diagonal cells (true -> predicted) of two aligned row-normalised confusion matrices
    whose rate moved most from A to B; cells that did not move are left out."""
    import pandas as pd

    rows = [(classes[i], classes[j], a[i, j], b[i, j], b[i, j] - a[i, j])
            for i in range(len(classes)) for j in range(len(classes))
            if i != j and a[i, j] != b[i, j]]
    table = pd.DataFrame(rows, columns=["true", "predicted", "rate_A", "rate_B", "change"])
    table = table.reindex(table["change"].abs().sort_values(ascending=False, kind="stable").index)
    return table.head(top).reset_index(drop=True)


def prediction_flips(table_a, table_b):
    """Images (joined on their stable id) whose prediction went right->wrong and wrong->right
    from A to B. Raises ValueError when the tables share no ids (different test sets)."""
    return flips(joined_predictions(table_a, table_b))


def flips(joined):
    """`prediction_flips` of tables already joined by `joined_predictions`."""
    columns = ["id", "path", "position", "true_label", "pred_label_A", "confidence_A",
               "pred_label_B", "confidence_B"]
    right_to_wrong = joined[joined["correct_A"] & ~joined["correct_B"]][columns]
    wrong_to_right = joined[~joined["correct_A"] & joined["correct_B"]][columns]
    return (right_to_wrong.sort_values("confidence_B", ascending=False).reset_index(drop=True),
            wrong_to_right.sort_values("confidence_B", ascending=False).reset_index(drop=True))


def joined_predictions(table_a, table_b):
    """The two prediction tables joined on image id (suffixes _A, _B). Raises ValueError when
    they share no ids (different test sets)."""
    keep = ["id", "path", "position", "true_label", "pred_label", "confidence", "correct"]
    joined = table_a[keep].merge(table_b[["id", "pred_label", "confidence", "correct"]],
                                 on="id", suffixes=("_A", "_B"))
    if joined.empty:
        raise ValueError("the two prediction tables share no image ids (different test sets?)")
    return joined
