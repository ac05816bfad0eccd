"""Model builders. Every architecture ends in a dense layer named `logits` followed by a softmax
layer named `probabilities`, so explanations can take gradients of the logits."""

from __future__ import annotations

from classlens.config import ModelConfig
from classlens.errors import ConfigError

LOGITS_LAYER = "logits"


def build_model(cfg: ModelConfig, *, input_shape: tuple[int, ...], num_classes: int, seed: int):
    """Build the (uncompiled) Keras model that `cfg.architecture` names."""
    from classlens.models import cnn

    builders = {"cnn": cnn.build_cnn}
    if cfg.architecture not in builders:
        raise ConfigError(
            f"model.architecture must be one of {sorted(builders)}; received {cfg.architecture!r}"
        )
    return builders[cfg.architecture](
        input_shape=input_shape,
        num_classes=num_classes,
        filters=list(cfg.filters),
        convs_per_block=cfg.convs_per_block,
        kernel_size=cfg.kernel_size,
        block_dropout=cfg.block_dropout,
        head_dropout=cfg.head_dropout,
        augment=cfg.augment,
        seed=seed,
    )
