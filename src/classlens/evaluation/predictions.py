"""The prediction table: one row per test image, built from probabilities (no TensorFlow)."""

from __future__ import annotations

import numpy as np

COLUMNS = ["id", "path", "position", "true", "true_label", "pred", "pred_label", "confidence",
           "correct", "margin", "entropy", "loss"]
# Per-sample loss clips p(true) at float64 eps, as scikit-learn's log_loss: the mean of the
# `loss` column is the evaluate stage's `log_loss`.
_EPS = np.finfo(np.float64).eps


def prediction_table(
    *,
    ids: list[str],
    source_paths: list[str],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str],
    top_k: int,
):
    """A DataFrame with `COLUMNS` then `top{i}_label`, `top{i}_prob` for i = 1..min(k, C).

    `position` is the row in the test split's arrays; `id`/`path` trace it back to its source.
    `margin` is top-1 minus top-2 probability (small: the model hesitated between two classes),
    `entropy` the Shannon entropy of the row in nats (0: certain, log C: uniform), `loss` the
    per-sample cross-entropy -log p(true class).
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
    pred = order[:, 0]
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
        "margin": probabilities[rows, pred] - second,
        "entropy": entropy(probabilities, axis=1),
        "loss": -np.log(np.clip(probabilities[rows, y_true], _EPS, 1.0)),
    })
    for i in range(k):
        table[f"top{i + 1}_label"] = names[order[:, i]]
        table[f"top{i + 1}_prob"] = probabilities[np.arange(len(pred)), order[:, i]]
    return table


def read_predictions(path):
    """Read the table written by the predict stage (ids and class names kept as strings)."""
    import pandas as pd

    from classlens.errors import InputError

    if not path.exists():
        raise InputError(f"{path}: not found; run the predict stage first (`dvc repro predict`)")
    table = pd.read_csv(path, dtype={"id": str, "path": str, "true_label": str,
                                     "pred_label": str}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
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
