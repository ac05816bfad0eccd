"""Comparing two experiments: pure functions over their params, metrics and prediction tables."""

from __future__ import annotations

from typing import Optional


def params_diff(a: dict[str, str], b: dict[str, str]):
    """Params whose values differ (or exist on one side only, shown as "—"), sorted by name."""
    import pandas as pd

    rows = [(k, a.get(k, "—"), b.get(k, "—")) for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]
    return pd.DataFrame(rows, columns=["param", "A", "B"])


def metrics_side_by_side(a: dict[str, float], b: dict[str, float]):
    """Every metric of either run with both values and the change B - A, sorted by name."""
    import pandas as pd

    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        change = vb - va if va is not None and vb is not None else None
        rows.append((key, va, vb, change))
    return pd.DataFrame(rows, columns=["metric", "A", "B", "change"])


def f1_movers(a: dict[str, float], b: dict[str, float], *, top: Optional[int] = None):
    """Classes ranked by how far their F1 moved from A to B (metrics named `f1.<class>`)."""
    import pandas as pd

    names = sorted({k[3:] for k in (set(a) & set(b)) if k.startswith("f1.")})
    rows = [(n, a[f"f1.{n}"], b[f"f1.{n}"], b[f"f1.{n}"] - a[f"f1.{n}"]) for n in names]
    table = pd.DataFrame(rows, columns=["class", "f1_A", "f1_B", "change"])
    table = table.reindex(table["change"].abs().sort_values(ascending=False, kind="stable").index)
    return table.head(top).reset_index(drop=True) if top else table.reset_index(drop=True)


def prediction_flips(table_a, table_b):
    """Images (joined on their stable id) whose prediction went right->wrong and wrong->right
    from A to B. Raises ValueError when the tables share no ids (different test sets)."""
    keep = ["id", "path", "position", "true_label", "pred_label", "confidence", "correct"]
    joined = table_a[keep].merge(table_b[["id", "pred_label", "confidence", "correct"]],
                                 on="id", suffixes=("_A", "_B"))
    if joined.empty:
        raise ValueError("the two prediction tables share no image ids (different test sets?)")
    columns = ["id", "path", "position", "true_label", "pred_label_A", "confidence_A",
               "pred_label_B", "confidence_B"]
    right_to_wrong = joined[joined["correct_A"] & ~joined["correct_B"]][columns]
    wrong_to_right = joined[~joined["correct_A"] & joined["correct_B"]][columns]
    return (right_to_wrong.sort_values("confidence_B", ascending=False).reset_index(drop=True),
            wrong_to_right.sort_values("confidence_B", ascending=False).reset_index(drop=True))
