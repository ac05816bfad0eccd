"""Compile and fit a classifier: Adam, sparse categorical cross-entropy, best-val checkpoint,
learning-rate reduction on plateau and early stopping with the best weights restored."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from classlens.config import TrainConfig

MONITOR = "val_loss"


def seed_everything(seed: int, *, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow; optionally make TF ops deterministic (slower)."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_dataset(images: np.ndarray, labels: np.ndarray, *, batch_size: int, shuffle: bool,
                 seed: int):
    """A tf.data pipeline of (images, labels) batches, read from `images` one batch at a time.

    `images` may be in memory or a split's memory map (`prepared.load_split`); a memory map is
    read with positioned file reads (`classlens.data.rows`), so memory holds a few batches, not
    the split. Whether a split is first read into memory is the caller's choice (the train
    stage: `data.memory_cache_mb`); the batches are identical either way. With `shuffle`, each
    epoch draws a fresh permutation seeded by (seed, epoch number), so reruns see the same
    batches; inside a batch rows are read in file order (sequential reads; the order of the
    rows of a batch does not change the step).
    """
    import itertools

    import tensorflow as tf

    from classlens.data.rows import RowFile

    labels = np.asarray(labels, dtype=np.int64)
    count = len(labels)
    rows = RowFile.of(images)
    source = rows if rows is not None else images
    epochs = itertools.count()

    def batches():
        order = (np.random.default_rng([seed, next(epochs)]).permutation(count) if shuffle
                 else np.arange(count))
        for start in range(0, count, batch_size):
            take = np.sort(order[start:start + batch_size])
            yield np.asarray(source[take]), labels[take]

    ds = tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec(shape=(None, *images.shape[1:]), dtype=tf.as_dtype(images.dtype)),
        tf.TensorSpec(shape=(None,), dtype=tf.int64),
    ))
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


@dataclass
class FitResult:
    history: "object"  # pandas DataFrame: epoch, loss, accuracy, val_loss, val_accuracy, learning_rate
    best_epoch: int
    stopped_early: bool


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    cfg: TrainConfig,
    *,
    seed: int,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Compile `model`, fit it, and leave it holding the weights of its best validation epoch."""
    import pandas as pd

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    train_ds = make_dataset(*train, batch_size=cfg.batch_size, shuffle=True, seed=seed)
    val_ds = make_dataset(*val, batch_size=cfg.batch_size, shuffle=False, seed=seed)
    with tempfile.TemporaryDirectory(prefix="classlens-ckpt-") as scratch:
        best = Path(scratch) / "best.weights.h5"
        early = keras.callbacks.EarlyStopping(
            monitor=MONITOR, patience=cfg.early_stopping_patience, restore_best_weights=True
        )
        callbacks = [
            keras.callbacks.ModelCheckpoint(best, monitor=MONITOR, save_best_only=True,
                                            save_weights_only=True),
            keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, factor=cfg.reduce_lr_factor,
                                              patience=cfg.reduce_lr_patience,
                                              min_lr=cfg.min_learning_rate),
            early,
            *extra_callbacks,
        ]
        keras_history = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs,
                                  callbacks=callbacks, shuffle=False, verbose=2)  # tf.data shuffles
        model.load_weights(best)  # the best-val checkpoint is the model we keep
    history = pd.DataFrame(keras_history.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    best_epoch = int(history[MONITOR].idxmin()) + 1
    return FitResult(history=history, best_epoch=best_epoch, stopped_early=early.stopped_epoch > 0)
