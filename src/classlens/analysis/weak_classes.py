"""Weak classes (F1 under a floor) and why: over-predicted (low precision: which classes it steals
images from) or under-predicted (low recall: which classes absorb its images)."""

from __future__ import annotations

from typing import Optional

import numpy as np

TOP_PARTNERS = 3


def weak_classes(per_class: dict[str, dict[str, Optional[float]]], confusion: np.ndarray, *,
                 f1_floor: float):
    """One row per class whose F1 is below `f1_floor`, weakest first.

    Args:
        per_class: name -> {"precision", "recall", "f1", "support"} (as in all_metrics.json; None
            for undefined). A class with an undefined F1 (absent and never predicted) is skipped.
        confusion: (C, C) counts, rows = true class, in the order of `per_class`.
        f1_floor: classes with F1 strictly below it are weak.

    Columns: class, f1, precision, recall, support, predicted, diagnosis, steals_from (classes
    whose images it is wrongly given, "name (count)"), absorbed_by (classes its images are wrongly
    given to). Diagnosis: "low precision" (over-predicted), "low recall" (under-predicted), or
    "low precision and recall"; an undefined precision (never predicted) reads as 0.
    """
    import pandas as pd

    names = list(per_class)
    if confusion.shape != (len(names), len(names)):
        raise ValueError(f"confusion must have shape ({len(names)}, {len(names)}) to match "
                         f"per_class; received {confusion.shape}")
    rows = []
    for c, name in enumerate(names):
        values = per_class[name]
        f1 = values["f1"]
        if f1 is None or f1 >= f1_floor:
            continue
        precision = values["precision"] if values["precision"] is not None else 0.0
        recall = values["recall"] if values["recall"] is not None else 1.0
        low_p, low_r = precision < f1_floor, recall < f1_floor
        diagnosis = ("low precision and recall" if low_p and low_r
                     else "low precision" if low_p else "low recall")
        rows.append({
            "class": name, "f1": f1, "precision": values["precision"], "recall": values["recall"],
            "support": int(values["support"]), "predicted": int(confusion[:, c].sum()),
            "diagnosis": diagnosis,
            "steals_from": _partners(confusion[:, c], c, names),
            "absorbed_by": _partners(confusion[c, :], c, names),
        })
    columns = ["class", "f1", "precision", "recall", "support", "predicted", "diagnosis",
               "steals_from", "absorbed_by"]
    return pd.DataFrame(rows, columns=columns).sort_values("f1", kind="stable").reset_index(
        drop=True)


def _partners(counts: np.ndarray, own: int, names: list[str]) -> str:
    """The largest off-diagonal counts as "name (count), ..." (at most TOP_PARTNERS)."""
    others = [(int(counts[k]), names[k]) for k in range(len(names)) if k != own and counts[k] > 0]
    others.sort(key=lambda item: -item[0])
    return ", ".join(f"{name} ({count})" for count, name in others[:TOP_PARTNERS])
