"""The `train` section of params.yaml and the names it accepts (no TensorFlow; `classlens.config`
composes it).

Fields without a default are MISSING: their values live in conf/, so a key absent from
params.yaml fails at load time with its dotted name. The fields with a default may be left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from classlens.errors import one_of

# none: one device (model.fit); mirrored: the GPUs of this host; multi_worker: the cluster in
# TF_CONFIG; auto: mirrored when several GPUs are visible, else none (training.distributed)
DISTRIBUTION_MODES = ("none", "mirrored", "multi_worker", "auto")
DISTRIBUTION = one_of(DISTRIBUTION_MODES)  # checked at load time and by distributed.resolve_mode
SCHEDULES = ("plateau", "cosine")  # training.schedule


@dataclass
class TrainConfig:
    name: str = MISSING  # the option's name (its conf/train/ file)
    epochs: int = MISSING
    batch_size: int = MISSING
    learning_rate: float = MISSING
    early_stopping_patience: int = MISSING
    reduce_lr_patience: int = MISSING
    reduce_lr_factor: float = MISSING
    min_learning_rate: float = MISSING
    deterministic: bool = MISSING
    distribution: str = MISSING  # DISTRIBUTION_MODES
    mixed_precision: bool = MISSING  # mixed_float16 when a GPU is present (ignored on CPU)
    # plateau: constant rate, cut by reduce_lr_* when val_loss stalls; cosine: linear warm-up over
    # warmup_fraction of the steps, then cosine decay to min_learning_rate by the last epoch
    schedule: str = "plateau"
    warmup_fraction: float = 0.0
    # XLA: None = Keras' "auto" (on where a GPU is, off on CPU, where it measured 3.6x slower)
    jit_compile: Optional[bool] = None
