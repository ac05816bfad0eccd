"""Compile and fit a classifier: Adam, sparse categorical cross-entropy, best-val checkpoint,
learning-rate reduction on plateau and early stopping with the best weights restored."""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

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
class FineTune:
    """Phase 2 of `fit`: after phase 1, `unfreeze()` opens part of the model (a transfer model's
    top backbone layers), which is recompiled at `learning_rate` and trained `epochs` more."""

    epochs: int
    learning_rate: float
    unfreeze: Callable[[], object]


@dataclass
class FitResult:
    # pandas DataFrame: epoch, phase, loss, accuracy, val_loss, val_accuracy, learning_rate
    history: "object"
    best_epoch: int
    stopped_early: bool
    phase_starts: dict[int, int] = field(default_factory=dict)  # phase -> its first epoch


class _PhaseMarker(keras.callbacks.Callback):
    """Adds `phase` to each epoch's logs, so the History and the MLflow callback (after it)
    record which phase an epoch belongs to."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["phase"] = self.phase


class _LogLearningRate(keras.callbacks.Callback):
    """Adds the optimizer's current rate to each epoch's logs when no callback did (a schedule
    changes it every step; ReduceLROnPlateau logs its own)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "learning_rate" not in logs:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))


def plateau_callbacks(cfg: TrainConfig) -> list[keras.callbacks.Callback]:
    """ReduceLROnPlateau for schedule `plateau`; none for `cosine` (the schedule sets the rate)."""
    if cfg.schedule != "plateau":
        return []
    return [keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, factor=cfg.reduce_lr_factor,
                                              patience=cfg.reduce_lr_patience,
                                              min_lr=cfg.min_learning_rate)]


def learning_rate(cfg: TrainConfig, base_rate: float, *, steps: int):
    """What the optimizer gets for a phase of `steps` steps: `base_rate` itself (schedule
    `plateau`; ReduceLROnPlateau then cuts it), or warm-up then cosine decay (schedule `cosine`):
    linear from base_rate/10 to base_rate over `warmup_fraction` of the steps, then down to
    `min_learning_rate` at the last step (Keras' own CosineDecay)."""
    if cfg.schedule == "plateau":
        return base_rate
    warmup = int(steps * cfg.warmup_fraction)
    floor = min(cfg.min_learning_rate / base_rate, 1.0)
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(base_rate, max(steps, 1), alpha=floor)
    return keras.optimizers.schedules.CosineDecay(
        base_rate / 10, max(steps - warmup, 1), alpha=floor, warmup_target=base_rate,
        warmup_steps=warmup)


def _compile(model: keras.Model, rate, *, jit_compile) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile="auto" if jit_compile is None else jit_compile,
    )


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    cfg: TrainConfig,
    *,
    seed: int,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    fine_tune: Optional[FineTune] = None,
) -> FitResult:
    """Compile `model`, fit it, and leave it holding the weights of its best validation epoch.

    Phase 1 trains what is trainable now (all of a scratch CNN; the head of a transfer model) at
    `cfg.learning_rate` for `cfg.epochs`. With `fine_tune`, phase 2 starts from phase 1's best
    weights, unfreezes, recompiles at `fine_tune.learning_rate` and trains `fine_tune.epochs`
    more with the same callbacks; epochs are numbered on from phase 1, the best-validation
    checkpoint spans both phases, and the history has one row per epoch with its `phase`.
    """
    import pandas as pd

    train_ds = make_dataset(*train, batch_size=cfg.batch_size, shuffle=True, seed=seed)
    val_ds = make_dataset(*val, batch_size=cfg.batch_size, shuffle=False, seed=seed)
    marker = _PhaseMarker()
    histories = []
    phase_starts = {1: 1}
    stopped_early = False
    with tempfile.TemporaryDirectory(prefix="classlens-ckpt-") as scratch:
        best = Path(scratch) / "best.weights.h5"
        early = keras.callbacks.EarlyStopping(
            monitor=MONITOR, patience=cfg.early_stopping_patience, restore_best_weights=True
        )
        callbacks = [
            # its `best` is kept across fit() calls: the checkpoint is the best of both phases
            keras.callbacks.ModelCheckpoint(best, monitor=MONITOR, save_best_only=True,
                                            save_weights_only=True),
            *plateau_callbacks(cfg),
            _LogLearningRate(),
            early,
            marker,
            *extra_callbacks,
        ]
        steps = len(train_ds)
        _compile(model, learning_rate(cfg, cfg.learning_rate, steps=steps * cfg.epochs),
                 jit_compile=cfg.jit_compile)
        histories.append(model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs,
                                   callbacks=callbacks, shuffle=False,  # tf.data shuffles
                                   verbose=2).history)
        stopped_early = early.stopped_epoch > 0
        if fine_tune is not None and fine_tune.epochs > 0:
            model.load_weights(best)  # fine-tune from phase 1's best epoch
            fine_tune.unfreeze()
            # trainable flags take effect on compile
            _compile(model, learning_rate(cfg, fine_tune.learning_rate,
                                          steps=steps * fine_tune.epochs),
                     jit_compile=cfg.jit_compile)
            done = len(histories[0]["loss"])
            marker.phase = 2
            phase_starts[2] = done + 1
            histories.append(model.fit(train_ds, validation_data=val_ds, initial_epoch=done,
                                       epochs=done + fine_tune.epochs, callbacks=callbacks,
                                       shuffle=False, verbose=2).history)
            stopped_early = stopped_early or early.stopped_epoch > 0
        with warnings.catch_warnings():  # a phase-1 checkpoint holds phase 1's optimizer
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model.load_weights(best)  # the best-val checkpoint is the model we keep
    history = pd.concat([pd.DataFrame(h).drop(columns="phase", errors="ignore")
                         .assign(phase=number) for number, h in enumerate(histories, start=1)],
                        ignore_index=True)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history.insert(1, "phase", history.pop("phase"))
    best_epoch = int(history[MONITOR].idxmin()) + 1
    return FitResult(history=history, best_epoch=best_epoch, stopped_early=stopped_early,
                     phase_starts=phase_starts)


def score_provided(model: keras.Model, train: tuple[np.ndarray, np.ndarray],
                   val: tuple[np.ndarray, np.ndarray], *, batch_size: int) -> FitResult:
    """A provided (already trained) model is not fitted: its loss and accuracy on the train and
    validation splits become a one-row history (epoch 0, phase 0). The model is not compiled,
    so it is saved without an optimizer."""
    import pandas as pd

    from classlens.models.inference import predict_probabilities

    loss = keras.losses.SparseCategoricalCrossentropy()
    row = {"epoch": 0, "phase": 0}
    for prefix, (images, labels) in (("", train), ("val_", val)):
        probabilities = predict_probabilities(model, images, batch_size=batch_size)
        row[f"{prefix}loss"] = float(loss(np.asarray(labels), probabilities))
        row[f"{prefix}accuracy"] = float((probabilities.argmax(axis=1) == labels).mean())
    return FitResult(history=pd.DataFrame([row]), best_epoch=0, stopped_early=False,
                     phase_starts={0: 0})
