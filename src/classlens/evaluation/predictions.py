"""The prediction table: one row per test image, built from probabilities (no TensorFlow).
Multi-class and binary share one layout (`COLUMNS`); multi-label has its own
(`MULTILABEL_COLUMNS`: label sets rather than one label)."""

from __future__ import annotations

import numpy as np

from classlens.data import label_sets
from classlens.evaluation.thresholds import apply_thresholds

COLUMNS = ["id", "path", "position", "true", "true_label", "pred", "pred_label", "confidence",
           "correct", "margin", "entropy", "loss"]
# Per-sample loss clips p(true) at float64 eps, as scikit-learn's log_loss: the mean of the
# `loss` column is the evaluate stage's `log_loss`.
_EPS = np.finfo(np.float64).eps
MULTILABEL_COLUMNS = ["id", "path", "position", "true_labels", "pred_labels", "missed",
                      "extra", "n_true", "n_pred", "n_wrong", "correct", "loss"]


def prediction_table(
    *,
    ids: list[str],
    source_paths: list[str],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str],
    top_k: int,
    pred: np.ndarray | None = None,
):
    """A DataFrame with `COLUMNS` then `top{i}_label`, `top{i}_prob` for i = 1..min(k, C).

    `position` is the row in the test split's arrays; `id`/`path` trace it back to its source.
    `margin` is top-1 minus top-2 probability (small: the model hesitated between two classes),
    `entropy` the Shannon entropy of the row in nats (0: certain, log C: uniform), `loss` the
    per-sample cross-entropy -log p(true class). `pred` is the decision when it is not the top
    class (binary: the positive class where its probability reaches the fitted threshold).
    """
    import pandas as pd
    from scipy.stats import entropy

    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    y_true = np.asarray(y_true, dtype=np.int64)
    rows = np.arange(len(y_true))
    second = np.sort(probabilities, axis=1)[:, -2] if probabilities.shape[1] > 1 else 0.0
    names = np.asarray(class_names, dtype=object)
    k = min(top_k, len(class_names))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    pred = order[:, 0] if pred is None else np.asarray(pred, dtype=np.int64)
    table = pd.DataFrame({
        "id": ids,
        "path": source_paths,
        "position": np.arange(len(ids)),
        "true": np.asarray(y_true, dtype=np.int64),
        "true_label": names[np.asarray(y_true)],
        "pred": pred,
        "pred_label": names[pred],
        "confidence": probabilities[np.arange(len(pred)), pred],
        "correct": pred == np.asarray(y_true),
        "margin": probabilities[rows, order[:, 0]] - second,
        "entropy": entropy(probabilities, axis=1),
        "loss": -np.log(np.clip(probabilities[rows, y_true], _EPS, 1.0)),
    })
    for i in range(k):
        table[f"top{i + 1}_label"] = names[order[:, i]]
        table[f"top{i + 1}_prob"] = probabilities[np.arange(len(pred)), order[:, i]]
    return table


def binary_decisions(probabilities: np.ndarray, *, positive: int, threshold: float) -> np.ndarray:
    """Binary: the positive class where its probability reaches `threshold`, else the other."""
    probabilities = np.asarray(probabilities)
    return np.where(probabilities[:, positive] >= threshold, positive, 1 - positive)


def two_columns(p_positive: np.ndarray, *, positive: int) -> np.ndarray:
    """A binary model's one sigmoid output (N, 1) as class probabilities (N, 2) in class order,
    so the multi-class table, metrics and figures read binary runs unchanged."""
    p = np.asarray(p_positive, dtype=np.float32).reshape(-1)
    columns = [1.0 - p, p] if positive == 1 else [p, 1.0 - p]
    return np.stack(columns, axis=1)


def multilabel_table(*, ids: list[str], source_paths: list[str], y_true: np.ndarray,
                     probabilities: np.ndarray, thresholds, class_names: list[str]):
    """The multi-label prediction table (`MULTILABEL_COLUMNS`): per image its true and predicted
    label sets (names joined by "|", "" for none), the labels `missed` (true, not predicted)
    and `extra` (predicted, not true), their counts, `correct` = the sets are equal (exact
    match), and `loss` = the mean binary cross-entropy over labels. A label is predicted where
    its probability reaches its threshold (`thresholds`, one per label)."""
    import pandas as pd

    y_true = np.asarray(y_true).astype(bool)
    y_pred = apply_thresholds(probabilities, thresholds).astype(bool)  # as evaluate decides
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1 - _EPS)  # for the loss
    missed, extra = y_true & ~y_pred, y_pred & ~y_true
    return pd.DataFrame({
        "id": ids,
        "path": source_paths,
        "position": np.arange(len(ids)),
        "true_labels": label_sets.cells(y_true, class_names),
        "pred_labels": label_sets.cells(y_pred, class_names),
        "missed": label_sets.cells(missed, class_names),
        "extra": label_sets.cells(extra, class_names),
        "n_true": y_true.sum(axis=1),
        "n_pred": y_pred.sum(axis=1),
        "n_wrong": (missed | extra).sum(axis=1),
        "correct": ~(missed | extra).any(axis=1),
        "loss": -(y_true * np.log(p) + ~y_true * np.log(1 - p)).mean(axis=1),
    })


def read_predictions(path):
    """Read the table written by the predict stage (ids and class names kept as strings); a
    multi-label table (`MULTILABEL_COLUMNS`) is recognised by its `true_labels` column."""
    import pandas as pd

    from classlens.errors import InputError

    if not path.exists():
        raise InputError(f"{path}: not found; run the predict stage first (`dvc repro predict`)")
    text = ["true_label", "pred_label", "true_labels", "pred_labels", "missed", "extra"]
    table = pd.read_csv(path, dtype={"id": str, "path": str, **dict.fromkeys(text, str)},
                        keep_default_na=False)
    expected = MULTILABEL_COLUMNS if "true_labels" in table.columns else COLUMNS
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; re-run `dvc repro predict`")
    table["correct"] = table["correct"].astype(str).str.lower() == "true"
    return table


def read_array(path, *, shape: tuple):
    """A predict-stage array (`.npy`), checked against `shape` (None: any size on that axis)."""
    from classlens.errors import InputError

    if not path.exists():
        raise InputError(f"{path}: not found; re-run the predict stage (`dvc repro predict`)")
    array = np.load(path)
    if array.ndim != len(shape) or any(want is not None and have != want
                                       for have, want in zip(array.shape, shape)):
        expected = tuple("N" if s is None else s for s in shape)
        raise InputError(f"{path}: expected shape {expected}, found {array.shape}; re-run "
                         "`dvc repro predict`")
    return array
