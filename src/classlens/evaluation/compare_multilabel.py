"""`classlens compare` for two multi-label runs: a flip is a change of an image's predicted
label set (which labels B gained and lost against A), split by whether the image went from
exactly right to wrong or back; the paired change in exact-match accuracy and macro F1 over the
labels, with McNemar's exact test on the exact-match flips."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from classlens.evaluation.compare import PairedChange, paired_bootstrap
from classlens.data import label_sets as cells

FLIP_COLUMNS = ["id", "path", "position", "true_labels", "pred_labels_A", "pred_labels_B",
                "gained", "lost", "n_wrong_A", "n_wrong_B"]


def label_sets(column: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """"a|b" cells -> (N, K) bool over `classes` (names outside it are ignored: the other run's
    labels that this one does not know cannot be scored)."""
    return cells.matrix(column, classes, unknown="ignore")


def joined_label_sets(table_a, table_b):
    """The two multi-label prediction tables joined on image id, with `gained` / `lost`: the
    labels in B's predicted set and not A's, and the reverse. ValueError without shared ids."""
    keep = ["id", "path", "position", "true_labels", "pred_labels", "n_wrong", "correct"]
    joined = table_a[keep].merge(table_b[["id", "pred_labels", "n_wrong", "correct"]],
                                 on="id", suffixes=("_A", "_B"))
    if joined.empty:
        raise ValueError("the two prediction tables share no image ids (different test sets?)")

    pairs = list(zip(joined["pred_labels_A"], joined["pred_labels_B"]))
    joined["gained"] = [cells.difference(b, a) for a, b in pairs]
    joined["lost"] = [cells.difference(a, b) for a, b in pairs]
    return joined


def label_set_flips(joined):
    """(right -> wrong, wrong -> right, changed while wrong in both): images whose predicted
    label set changed, most wrong labels in B first."""
    changed = joined[joined["pred_labels_A"] != joined["pred_labels_B"]]
    order = dict(by="n_wrong_B", ascending=False, kind="stable")
    parts = (changed[changed["correct_A"] & ~changed["correct_B"]],
             changed[~changed["correct_A"] & changed["correct_B"]],
             changed[~changed["correct_A"] & ~changed["correct_B"]])
    return tuple(p[FLIP_COLUMNS].sort_values(**order).reset_index(drop=True) for p in parts)


def paired_change(true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, *,
                  resamples: int = 1000, seed: int = 0, level: float = 0.95) -> PairedChange:
    """B - A on the same images: paired bootstrap intervals of exact-match accuracy and macro F1
    over labels (an undefined label F1 counts as 0, as in evaluate), McNemar's exact test on the
    images whose exact match flipped. Arrays are (N, K) bool."""
    right_a, right_b = (pred_a == true).all(axis=1), (pred_b == true).all(axis=1)

    def change(pick: np.ndarray) -> tuple[float, float]:
        return (right_b[pick].mean() - right_a[pick].mean(),
                _macro_f1(true[pick], pred_b[pick]) - _macro_f1(true[pick], pred_a[pick]))

    return paired_bootstrap(right_a, right_b, change, resamples=resamples, seed=seed,
                            level=level)


def _macro_f1(true: np.ndarray, pred: np.ndarray) -> float:
    tp = (true & pred).sum(axis=0).astype(np.float64)
    denominator = true.sum(axis=0) + pred.sum(axis=0)
    return float(np.divide(2 * tp, denominator, out=np.zeros(len(tp)),
                           where=denominator > 0).mean()) if len(tp) else 0.0
