"""Training on several devices or hosts with TensorFlow's distribution strategies.

`train.distribution`:
- `none`: one device; the train stage uses `model.fit` (classlens.training.loop.fit).
- `mirrored`: `tf.distribute.MirroredStrategy` over the GPUs of this host.
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, cluster from `TF_CONFIG`.
- `auto`: `mirrored` when more than one GPU is visible, else `none`.

Keras 3's `model.fit` fails under MultiWorkerMirroredStrategy (converting a `PerReplica` value;
keras-team/keras#20585), so every distributed mode uses the one custom step below: the Keras model
built under `strategy.scope()`, `strategy.experimental_distribute_dataset`, and a `tf.function`
calling `strategy.run` with `tf.nn.compute_average_loss`. Keras' own callbacks (best checkpoint,
early stopping with best weights restored, learning-rate reduction, MLflow per-epoch metrics) are
driven by hand with the same per-epoch logs `fit` would give them, so both paths behave alike.
`train.batch_size` is the global batch (split across replicas); scale the learning rate with it
if you raise it for more replicas (the linear rule is the usual starting point).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from classlens.errors import ConfigError, InputError
from classlens.task import MULTICLASS
from classlens.training import objective
from classlens.training.options import DISTRIBUTION, TrainConfig
from classlens.training.plan import total_steps
from classlens.training.summary import MONITOR, FitResult, best_epoch, history_table

log = logging.getLogger(__name__)

# Collective operations give up after this long (seconds; env CLASSLENS_COLLECTIVE_TIMEOUT_S
# overrides), so a dead worker fails the others instead of hanging them forever.
COLLECTIVE_TIMEOUT_S = 120.0


def resolve_mode(mode: str) -> str:
    """`auto` -> `mirrored` (several GPUs) or `none`; other modes are checked (with the
    constraint `load_params` applies, for direct callers) and returned."""
    import tensorflow as tf

    DISTRIBUTION.check("train.distribution", mode)
    if mode == "auto":
        return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if mode == "multi_worker" and not os.environ.get("TF_CONFIG"):
        raise ConfigError("train.distribution=multi_worker needs the cluster in TF_CONFIG "
                          "(see README, 'Multi-worker training'); it is not set")
    return mode


def is_chief() -> bool:
    """True unless TF_CONFIG names this process as a non-chief task (worker 0 is the chief when
    the cluster has no `chief` task)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    try:
        config = json.loads(raw)
        task, cluster = config.get("task", {}), config.get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        raise ConfigError("TF_CONFIG is not valid JSON with 'cluster' and 'task'") from None
    if task.get("type") == "chief":
        return True
    return "chief" not in cluster and task.get("type") == "worker" and task.get("index", 0) == 0


def make_strategy(mode: str):
    """The tf.distribute strategy for a resolved mode (`none` gives the default strategy)."""
    import tensorflow as tf

    if mode == "mirrored":
        return tf.distribute.MirroredStrategy()
    if mode == "multi_worker":
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=float(os.environ.get("CLASSLENS_COLLECTIVE_TIMEOUT_S",
                                                 COLLECTIVE_TIMEOUT_S)))
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return tf.distribute.get_strategy()


def _dataset(images: np.ndarray, labels: np.ndarray, *, batch_size: int, shuffle: bool,
             seed: int):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((np.asarray(images), np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    # every worker reads the same file and takes its share of each global batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch_size).with_options(options).prefetch(tf.data.AUTOTUNE)


def fit_distributed(
    build_model: Callable[[], "object"],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    cfg: TrainConfig,
    *,
    strategy,
    seed: int,
    extra_callbacks: Sequence["object"] = (),
    task: str = MULTICLASS,
):
    """Build the model under `strategy.scope()` and train it with the custom distributed step.

    Returns `(model, FitResult)`; the model holds the best validation epoch's weights, as with
    `classlens.training.loop.fit`. `extra_callbacks` (e.g. MLflow logging) should be given on
    the chief only.
    """
    import keras
    import tensorflow as tf

    from classlens.training.schedule import learning_rate, plateau_callbacks

    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate(
            cfg, cfg.learning_rate, steps=total_steps(len(train[1]), cfg.batch_size, cfg.epochs)))
        # compile only attaches the optimizer (ReduceLROnPlateau reads model.optimizer)
        model.compile(optimizer=optimizer, loss=objective.loss(task))
    per_example_loss = objective.loss(task, reduction="none")
    global_batch = cfg.batch_size

    train_dist = strategy.experimental_distribute_dataset(
        _dataset(*train, batch_size=global_batch, shuffle=True, seed=seed))
    val_dist = strategy.experimental_distribute_dataset(
        _dataset(*val, batch_size=global_batch, shuffle=False, seed=seed))

    def _sums(labels, probs):
        losses = per_example_loss(labels, probs)
        hits, decisions = objective.hits(probs, labels, task)
        return losses, tf.reduce_sum(losses), hits, decisions, tf.cast(tf.size(losses),
                                                                       tf.float32)

    def _train_replica(images, labels):
        with tf.GradientTape() as tape:
            probs = model(images, training=True)
            losses, loss_sum, hits, decisions, count = _sums(labels, probs)
            loss = tf.nn.compute_average_loss(losses, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss_sum, hits, decisions, count

    def _eval_replica(images, labels):
        return _sums(labels, model(images, training=False))[1:]

    def _reduced(step):
        @tf.function
        def run(batch):
            outputs = strategy.run(step, args=batch)
            return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in outputs]
        return run

    train_step, eval_step = _reduced(_train_replica), _reduced(_eval_replica)

    def _epoch(dataset, step) -> tuple[float, float]:
        totals = np.zeros(4)  # loss sum, hits, decisions, images
        for batch in dataset:
            totals += [float(v) for v in step(batch)]
        return totals[0] / max(totals[3], 1.0), totals[1] / max(totals[2], 1.0)

    scratch = tempfile.TemporaryDirectory(prefix="classlens-dist-ckpt-")
    best = Path(scratch.name) / "best.weights.h5"
    early = keras.callbacks.EarlyStopping(monitor=MONITOR, patience=cfg.early_stopping_patience,
                                          restore_best_weights=True)
    callbacks = keras.callbacks.CallbackList(
        [keras.callbacks.ModelCheckpoint(best, monitor=MONITOR, save_best_only=True,
                                         save_weights_only=True),
         *plateau_callbacks(cfg),
         early, *extra_callbacks],
        model=model, add_history=False, add_progbar=False)
    rows = []
    try:
        callbacks.on_train_begin()
        for epoch in range(cfg.epochs):
            callbacks.on_epoch_begin(epoch)
            loss, accuracy = _epoch(train_dist, train_step)
            val_loss, val_accuracy = _epoch(val_dist, eval_step)
            logs = {"accuracy": accuracy, "loss": loss, "val_accuracy": val_accuracy,
                    "val_loss": val_loss}
            callbacks.on_epoch_end(epoch, logs)  # may add learning_rate, set stop_training
            rows.append({"epoch": epoch + 1, "phase": 1, **logs})
            log.info(f"Epoch {epoch + 1}/{cfg.epochs} - loss {loss:.4f} - accuracy {accuracy:.4f} "
                  f"- val_loss {val_loss:.4f} - val_accuracy {val_accuracy:.4f}")
            if model.stop_training:
                break
        callbacks.on_train_end()
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError, tf.errors.AbortedError) as err:
        raise InputError(f"distributed training lost a worker or the cluster "
                         f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); check that "
                         "every TF_CONFIG task is running") from None
    finally:
        scratch.cleanup()
    history = history_table(rows)
    # Hand back a plain copy outside the strategy: using the distributed model afterwards
    # (predict for the MLflow signature, saving) would run collective ops that need every worker
    # to still be there.
    plain = build_model()
    plain.set_weights(model.get_weights())
    return plain, FitResult(history=history, best_epoch=best_epoch(history),
                            stopped_early=early.stopped_epoch > 0, phase_starts={1: 1})


def weights_digest(model) -> str:
    """A short hash of every weight, to check that workers ended identical."""
    import hashlib

    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def scratch_dir() -> Optional[Path]:
    """Where a non-chief worker writes its copy of the outputs (removed after the stage)."""
    return None if is_chief() else Path(tempfile.mkdtemp(prefix="classlens-worker-"))
