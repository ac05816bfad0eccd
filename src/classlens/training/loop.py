"""Compile and fit a classifier: Adam, the task's loss (`classlens.training.objective`), best-val checkpoint,
the learning-rate schedule of `classlens.training.schedule` (cut on plateau, or warm-up then
cosine decay) and early stopping with the best weights restored."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import keras
import numpy as np

from classlens.task import MULTICLASS
from classlens.training import objective
from classlens.training.options import TrainConfig
from classlens.training.plan import steps_per_epoch, total_steps
from classlens.training.schedule import LogLearningRate, learning_rate, plateau_callbacks
from classlens.training.summary import MONITOR, FitResult, best_epoch, history_table

if TYPE_CHECKING:
    from classlens.models.transfer import FineTune


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

    labels = np.asarray(labels)  # objective.targets: int64 (N,) or float32 (N, K)
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
        tf.TensorSpec(shape=(None, *labels.shape[1:]), dtype=tf.as_dtype(labels.dtype)),
    ))
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps_per_epoch(count, batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


class _PhaseMarker(keras.callbacks.Callback):
    """Adds `phase` to each epoch's logs, so the History and the MLflow callback (after it)
    record which phase an epoch belongs to."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["phase"] = self.phase


def _compile(model: keras.Model, rate, *, jit_compile, task: str) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=objective.loss(task),
        metrics=objective.metrics(task),
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
    task: str = MULTICLASS,
) -> FitResult:
    """Compile `model`, fit it, and leave it holding the weights of its best validation epoch.

    Phase 1 trains what is trainable now (all of a scratch CNN; the head of a transfer model) at
    `cfg.learning_rate` for `cfg.epochs`. With `fine_tune`, phase 2 starts from phase 1's best
    weights, unfreezes, recompiles at `fine_tune.learning_rate` and trains `fine_tune.epochs`
    more with the same callbacks; epochs are numbered on from phase 1, the best-validation
    checkpoint spans both phases, and the history has one row per epoch with its `phase`.
    The labels of `train` and `val` are `objective.targets` of `task` (`task.kind`).
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
            LogLearningRate(),
            early,
            marker,
            *extra_callbacks,
        ]
        examples = len(train[1])
        _compile(model, learning_rate(cfg, cfg.learning_rate,
                                      steps=total_steps(examples, cfg.batch_size, cfg.epochs)),
                 jit_compile=cfg.jit_compile, task=task)
        histories.append(model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs,
                                   callbacks=callbacks, shuffle=False,  # tf.data shuffles
                                   verbose=2).history)
        stopped_early = early.stopped_epoch > 0
        if fine_tune is not None and fine_tune.epochs > 0:
            model.load_weights(best)  # fine-tune from phase 1's best epoch
            fine_tune.unfreeze()
            # trainable flags take effect on compile
            _compile(model, learning_rate(cfg, fine_tune.learning_rate,
                                          steps=total_steps(examples, cfg.batch_size,
                                                            fine_tune.epochs)),
                     jit_compile=cfg.jit_compile, task=task)
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
    history = history_table(pd.concat(
        [pd.DataFrame(h).drop(columns="phase", errors="ignore").assign(phase=number)
         for number, h in enumerate(histories, start=1)], ignore_index=True))
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history.insert(1, "phase", history.pop("phase"))
    return FitResult(history=history, best_epoch=best_epoch(history), stopped_early=stopped_early,
                     phase_starts=phase_starts)


def score_provided(model: keras.Model, train: tuple[np.ndarray, np.ndarray],
                   val: tuple[np.ndarray, np.ndarray], *, batch_size: int,
                   task: str = MULTICLASS) -> FitResult:
    """A provided (already trained) model is not fitted: its loss and accuracy on the train and
    validation splits become a one-row history (epoch 0, phase 0). The model is not compiled,
    so it is saved without an optimizer."""
    from classlens.models.inference import predict_probabilities

    loss = objective.loss(task)
    row = {"epoch": 0, "phase": 0}
    for prefix, (images, y) in (("", train), ("val_", val)):
        probabilities = predict_probabilities(model, images, batch_size=batch_size)
        row[f"{prefix}loss"] = float(loss(np.asarray(y), probabilities))
        row[f"{prefix}accuracy"] = objective.accuracy(probabilities, np.asarray(y), task)
    return FitResult(history=history_table([row]), best_epoch=0, stopped_early=False,
                     phase_starts={0: 0})
