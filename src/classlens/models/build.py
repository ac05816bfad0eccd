"""`build_model`: the registry of buildable architectures (`model.architecture`)."""

from __future__ import annotations

from classlens.errors import one_of
from classlens.models.options import MobileNetOptions, ModelOptions
from classlens.task import MULTICLASS, output_activation, output_units


def build_model(cfg: ModelOptions, *, input_shape: tuple[int, ...], num_classes: int, seed: int,
                task: str = MULTICLASS):
    """Build the (uncompiled) Keras model that `cfg.architecture` names; a transfer model comes
    with its backbone frozen. (`architecture: file` is loaded, not built: see `models.provided`.)
    `task` (`task.kind`) sets the width and activation after `logits`: one sigmoid for binary,
    one sigmoid per class for multilabel, a softmax over the classes for multiclass."""
    from classlens.models import cnn, transfer

    units, activation = output_units(task, num_classes), output_activation(task)

    if cfg.architecture == "cnn":
        return cnn.build_cnn(
            input_shape=input_shape,
            num_classes=units,
            activation=activation,
            filters=list(cfg.filters),
            convs_per_block=cfg.convs_per_block,
            kernel_size=cfg.kernel_size,
            block_dropout=cfg.block_dropout,
            padding=cfg.padding,
            batch_norm=cfg.batch_norm,
            head=cfg.head,
            dense_units=cfg.dense_units,
            head_dropout=cfg.head_dropout,
            augment=cfg.augment,
            seed=seed,
        )
    if transfer.is_transfer(cfg.architecture):
        return transfer.build_transfer(
            architecture=cfg.architecture,
            input_shape=input_shape,
            num_classes=units,
            activation=activation,
            weights=cfg.weights,
            alpha=cfg.alpha if isinstance(cfg, MobileNetOptions) else None,
            input_size=cfg.input_size,
            head_dropout=cfg.head_dropout,
            augment=cfg.augment,
            seed=seed,
        )
    one_of(["cnn", *sorted(transfer.BACKBONES)]).check("model.architecture", cfg.architecture)
