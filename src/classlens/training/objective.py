"""What training minimises and reports, by `task.kind` (classlens.task): the loss, the per-epoch
metrics, and the label format the loss takes. One owner, so `fit`, the distributed step and a
provided model's scoring row all agree.

- multiclass: sparse categorical cross-entropy on integer labels; `accuracy` = top-1 accuracy.
- binary: binary cross-entropy on (N, 1) float targets (1 = the positive class); `accuracy` at
  0.5 (above 0.5 is positive, as Keras' BinaryAccuracy; the fitted threshold comes after
  training, from the validation split).
- multilabel: binary cross-entropy per label on (N, K) float targets; `accuracy` = label accuracy
  at 0.5 (1 - Hamming loss), and `map`, Keras' PR-AUC averaged over labels (mean average
  precision, threshold-free, interpolated over 200 thresholds).
"""

from __future__ import annotations

import numpy as np

from classlens.task import BINARY, MULTICLASS, MULTILABEL, sigmoid_output


def targets(labels: np.ndarray, kind: str, *, positive: int = 1) -> np.ndarray:
    """The prepared labels as the loss of `kind` takes them: int64 (N,) class indices for
    multiclass, float32 (N, 1) for binary (1 where the label is `positive`), float32 (N, K)
    multi-hot for multilabel."""
    labels = np.asarray(labels)
    if kind == BINARY:
        return (labels == positive).astype(np.float32).reshape(-1, 1)
    if kind == MULTILABEL:
        return labels.astype(np.float32)
    return labels.astype(np.int64)


def loss(kind: str, *, reduction: str = "sum_over_batch_size"):
    import keras

    if sigmoid_output(kind):
        return keras.losses.BinaryCrossentropy(reduction=reduction)
    return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)


def metrics(kind: str) -> list:
    """The compiled metrics; each task has one named `accuracy` (history.csv, the card)."""
    import keras

    if kind == MULTICLASS:
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    found = [keras.metrics.BinaryAccuracy(name="accuracy")]
    if kind == MULTILABEL:
        found.append(keras.metrics.AUC(curve="PR", multi_label=True, name="map"))
    return found


def accuracy(probabilities: np.ndarray, y: np.ndarray, kind: str) -> float:
    """`accuracy` as `metrics` defines it, from NumPy arrays (a provided model's scoring row)."""
    if sigmoid_output(kind):
        return float(((probabilities > 0.5) == (y > 0.5)).mean())
    return float((probabilities.argmax(axis=1) == y).mean())


def hits(probabilities, y, kind: str):
    """(correct decisions, decisions) of a batch as TensorFlow scalars, for the distributed step:
    per image for multiclass, per label for binary and multilabel (so their ratio is
    `accuracy` above)."""
    import tensorflow as tf

    if sigmoid_output(kind):
        right = tf.equal(probabilities > 0.5, tf.cast(y, tf.float32) > 0.5)
    else:
        right = tf.equal(tf.argmax(probabilities, axis=1, output_type=tf.int64),
                         tf.cast(y, tf.int64))
    return tf.reduce_sum(tf.cast(right, tf.float32)), tf.cast(tf.size(right), tf.float32)
