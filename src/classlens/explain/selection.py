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


# ---------------------------------------------------------------- multi-label runs

MULTILABEL_KINDS = ("predicted", "missed")  # each image's rows: its predicted labels, then missed


def label_matrix(column, class_names) -> np.ndarray:
    """A column of label sets (names joined by "|", "" for none) as (N, K) bool in class order
    (scikit-learn's MultiLabelBinarizer); a name not in `class_names` is a ValueError, not a
    label silently dropped."""
    from classlens.data import label_sets

    return label_sets.matrix(column, class_names, source="data/predictions/predictions.csv")


def select_multilabel_examples(table, *, class_names, n_misclassified: int, n_correct: int,
                               n_per_class: int, seed: int):
    """Rows of a multi-label prediction table (`MULTILABEL_COLUMNS`) with a `group` column, each
    image once (first group wins), as `select_examples` does for one label per image: the
    `n_misclassified` most wrong images (most labels missed or extra, then highest loss), the
    `n_correct` least confident exact matches (highest loss first), then `n_per_class` images
    drawn at random (seeded) per label, in label order, among the images carrying it not
    already chosen. Images with nothing to explain (no label predicted, none missed) are left
    out."""
    import pandas as pd

    has_target = (table["n_pred"] > 0) | (table["missed"].astype(str) != "")
    candidates = table[has_target.to_numpy()]
    by_loss = candidates.sort_values("loss", ascending=False, kind="stable")
    wrong = by_loss[~by_loss["correct"]].sort_values("n_wrong", ascending=False, kind="stable")
    chosen = [wrong.head(n_misclassified).assign(group="misclassified"),
              by_loss[by_loss["correct"]].head(n_correct).assign(group="correct")]
    taken = set(pd.concat(chosen)["id"])
    carriers = label_matrix(candidates["true_labels"], class_names)
    rng = np.random.default_rng(seed)
    for label in range(len(class_names)):
        free = candidates[carriers[:, label] & ~candidates["id"].isin(taken).to_numpy()]
        picked = rng.choice(len(free), size=min(n_per_class, len(free)), replace=False)
        chosen.append(free.iloc[np.sort(picked)].assign(group="per_class"))
        taken.update(chosen[-1]["id"])
    return pd.concat(chosen).reset_index(drop=True)


def multilabel_explanation_rows(chosen, *, class_names, probabilities, thresholds):
    """One row per (image, label to explain): every predicted label (`target_kind` "predicted",
    extra ones included), then every missed label ("missed"), each in label order. Columns
    added: `image` (row of `chosen`), `target`, `target_label`, `target_kind`, `true_label` /
    `pred_label` (the image's label sets), `confidence` (the label's own probability, read from
    `probabilities` (N test images, K) at the image's `position`) and `threshold` (the label's)."""
    import pandas as pd

    names = np.asarray(class_names, dtype=object)
    found = [np.nonzero(label_matrix(chosen[column], class_names))
             for column in ("pred_labels", "missed")]
    image = np.concatenate([rows for rows, _ in found])
    target = np.concatenate([labels for _, labels in found])
    kind = np.concatenate([np.full(len(rows), k) for k, (rows, _) in enumerate(found)])
    order = np.lexsort((target, kind, image))
    image, kind, target = image[order], kind[order], target[order]
    positions = chosen["position"].to_numpy()[image]
    rows = chosen.iloc[image].assign(
        image=image, target=target, target_label=names[target],
        target_kind=np.asarray(MULTILABEL_KINDS, dtype=object)[kind],
        true_label=chosen["true_labels"].to_numpy()[image],
        pred_label=chosen["pred_labels"].to_numpy()[image],
        confidence=np.asarray(probabilities, dtype=np.float64)[positions, target],
        threshold=np.asarray(thresholds, dtype=np.float64)[target])
    return pd.DataFrame(rows).reset_index(drop=True)
