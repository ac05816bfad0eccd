"""Learning-rate schedules: a constant rate cut on plateau, or warm-up then cosine decay, and the
callbacks that change or record the rate."""

from __future__ import annotations

import keras

from classlens.training.options import TrainConfig
from classlens.training.summary import MONITOR


class LogLearningRate(keras.callbacks.Callback):
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
    """What the optimizer gets for a phase of `steps` steps (`plan.total_steps`): `base_rate`
    itself (schedule `plateau`; ReduceLROnPlateau then cuts it), or warm-up then cosine decay
    (schedule `cosine`): linear from base_rate/10 to base_rate over `warmup_fraction` of the
    steps, then down to `min_learning_rate` at the last step (Keras' own CosineDecay)."""
    if cfg.schedule == "plateau":
        return base_rate
    warmup = int(steps * cfg.warmup_fraction)
    floor = min(cfg.min_learning_rate / base_rate, 1.0)
    if warmup == 0:
        return keras.optimizers.schedules.CosineDecay(base_rate, max(steps, 1), alpha=floor)
    return keras.optimizers.schedules.CosineDecay(
        base_rate / 10, max(steps - warmup, 1), alpha=floor, warmup_target=base_rate,
        warmup_steps=warmup)
