"""Which test images to explain, from the prediction table alone (no model, no TensorFlow):
the most confident errors, the least confident correct predictions and a seeded sample per
class; and, per image, which classes to explain."""

from __future__ import annotations

import numpy as np

GROUPS = ("misclassified", "correct", "per_class")


def select_examples(table, *, n_misclassified: int, n_correct: int, n_per_class: int,
                    seed: int):
    """Rows of the prediction table with a `group` column, each image once (first group wins):
    the `n_misclassified` most confident errors, the `n_correct` least confident correct
    predictions (least confident first), then `n_per_class` images drawn at random (seeded) from
    each true class among those not already chosen.
    """
    import pandas as pd

    from classlens.analysis import split_by_correctness

    correct, wrong = split_by_correctness(table)
    chosen = [wrong.head(n_misclassified).assign(group="misclassified"),
              correct.tail(n_correct).iloc[::-1].assign(group="correct")]
    taken = set(pd.concat(chosen)["id"])
    rng = np.random.default_rng(seed)
    for _, rows in table[~table["id"].isin(taken)].groupby("true", sort=True):
        picked = rng.choice(len(rows), size=min(n_per_class, len(rows)), replace=False)
        chosen.append(rows.iloc[np.sort(picked)].assign(group="per_class"))
    return pd.concat(chosen).reset_index(drop=True)


def explanation_rows(chosen):
    """One row per (image, class to explain): the predicted class for every image, and also the
    true class for a misclassified one (its maps are shown side by side). Columns added:
    `image` (row of `chosen`), `target`, `target_label`, `target_kind` (predicted | true)."""
    import pandas as pd

    predicted = chosen.assign(image=np.arange(len(chosen)), target=chosen["pred"],
                              target_label=chosen["pred_label"], target_kind="predicted")
    wrong = chosen[~chosen["correct"].astype(bool)]
    true = wrong.assign(image=wrong.index.to_numpy(), target=wrong["true"],
                        target_label=wrong["true_label"], target_kind="true")
    # "predicted" sorts before "true": each image's predicted-class row comes first
    rows = pd.concat([predicted, true]).sort_values(["image", "target_kind"], kind="stable")
    return rows.reset_index(drop=True)
