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
    """A tf.data pipeline over in-memory (or memory-mapped) arrays: cache, shuffle, batch,
    prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((np.asarray(images), np.asarray(labels))).cache()
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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
