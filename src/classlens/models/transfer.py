"""Transfer learning: a keras.applications backbone (nested sub-model `backbone`, frozen, and
with pretrained weights called with training=False) under a new head, and the choice of layers
to unfreeze for fine-tuning.

The model takes the prepared uint8 images as they are:

    image (H, W, C) -> resize (to the backbone input size, if it differs) -> augmentation
    (training only) -> gray_to_rgb (C == 1) -> preprocess (the backbone's preprocess_input)
    -> backbone -> features (its last feature map) -> gap -> head_dropout -> logits -> probabilities

`features` is the backbone's output as a top-level tensor (Grad-CAM takes gradients of `logits`
with respect to it); the backbone's own conv layers stay reachable through
`model.get_layer("backbone")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import keras
from keras import layers

from classlens.errors import ConfigError, InputError
from classlens.models.backbones import (
    BACKBONE_LAYER,
    BACKBONES,
    backbone_input_size,
    create_backbone,
    preprocess_model,
)
from classlens.models.cnn import augmentation
from classlens.models.names import FEATURES_LAYER, LOGITS_LAYER
from classlens.models.options import AugmentConfig, ModelOptions


def build_transfer(
    *,
    architecture: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    weights: Optional[str],
    alpha: Optional[float],
    input_size: Optional[int],
    head_dropout: float,
    augment: AugmentConfig,
    seed: int,
    activation: str = "softmax",
) -> keras.Model:
    """Build a transfer model with its backbone frozen (ready for phase 1, feature extraction;
    with random init, `weights=None`, the backbone's batch norm trains from the start).

    Args:
        architecture: a key of `BACKBONES` (`mobilenet`, `resnet50`, ...).
        input_shape: (height, width, channels) of the prepared images; 1 or 3 channels.
        num_classes: width of the `logits` layer.
        activation: after `logits`: "softmax" (multiclass) or "sigmoid" (binary, multilabel).
        weights: "imagenet", None (random init) or a local weights-file path.
        alpha: MobileNet width multiplier (None: Keras' default 1.0).
        input_size: square side fed to the backbone; None: the image size raised to the
            backbone's minimum.
        head_dropout: dropout rate before `logits` (0 disables it).
        augment: augmentation layers (training only), applied after resizing.
        seed: seeds augmentation and dropout.
    """
    height, width, channels = input_shape
    if channels not in (1, 3):
        raise InputError(
            f"prepared images have {channels} channels; {architecture} takes 1 (grayscale, "
            "repeated to RGB inside the model) or 3 (RGB)"
        )
    size = backbone_input_size(architecture, (height, width), input_size)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if (height, width) != size:
        x = layers.Resizing(*size, interpolation="bilinear", name="resize")(x)
    for layer in augmentation(augment, seed=seed):
        x = layer(x)
    if channels == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = preprocess_model(architecture, size)(x)
    base = create_backbone(architecture, size=size, weights=weights, alpha=alpha)
    pretrained = weights is not None
    _freeze(base, batch_norm_trainable=not pretrained)
    # Pretrained: training=False, so batch norm keeps the statistics it learnt (ImageNet) in both
    # phases. Random init has no statistics worth keeping (its BN would pass activations through
    # unnormalised, and they vanish layer by layer), so BN then normalises with batch statistics
    # while training and learns its scale and offset; every other layer follows the phases.
    x = base(x, training=False if pretrained else None)
    x = layers.Identity(name=FEATURES_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, seed=seed, name="head_dropout")(x)
    # float32 even under mixed precision: the logits feed the loss and the explanations.
    logits = layers.Dense(num_classes, dtype="float32", name=LOGITS_LAYER)(x)
    outputs = layers.Activation(activation, dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name=f"{architecture}_transfer")


def layers_to_unfreeze(model: keras.Model, unfreeze: Union[int, str]) -> list[str]:
    """Names of the backbone layers that fine-tuning trains, batch-norm layers excluded.

    Args:
        model: a model from `build_transfer`.
        unfreeze: N (the top N layers of the backbone, counting every layer as Keras lists them),
            a layer name (that layer and all above it), or "all".
    """
    base = model.get_layer(BACKBONE_LAYER)
    stack = [layer for layer in base.layers if not isinstance(layer, layers.InputLayer)]
    if unfreeze == "all":
        chosen = stack
    elif isinstance(unfreeze, int):
        chosen = stack[-unfreeze:]
    else:
        names = [layer.name for layer in stack]
        if unfreeze not in names:
            top = [layer.name for layer in stack if layer.weights][-4:]
            raise ConfigError(
                f"key 'model.fine_tune.unfreeze': no layer {unfreeze!r} in the {base.name} "
                f"({len(stack)} layers; the top ones with weights: {', '.join(top)}); give a "
                "layer name, a number of top layers, or all"
            )
        chosen = stack[names.index(unfreeze):]
    return [layer.name for layer in chosen
            if layer.weights and not isinstance(layer, layers.BatchNormalization)]


def _freeze(base: keras.Model, *, batch_norm_trainable: bool) -> None:
    """Freeze every backbone layer (batch norm too, unless `batch_norm_trainable`)."""
    base.trainable = True  # a frozen container hides all its layers' weights: freeze per layer
    for layer in base.layers:
        layer.trainable = batch_norm_trainable and isinstance(layer, layers.BatchNormalization)


def unfreeze_layers(model: keras.Model, names: list[str]) -> None:
    """Make exactly `names` of the backbone's non-batch-norm layers trainable (the others
    frozen); batch-norm layers keep what `build_transfer` set (frozen when pretrained)."""
    wanted = set(names)
    for layer in model.get_layer(BACKBONE_LAYER).layers:
        if not isinstance(layer, layers.BatchNormalization):
            layer.trainable = layer.name in wanted


def is_transfer(architecture: str) -> bool:
    return architecture in BACKBONES


@dataclass
class FineTune:
    """The plan of phase 2 of `classlens.training.loop.fit`: after phase 1, `unfreeze()` opens
    `layers` (the top backbone layers with weights), and the model is recompiled at
    `learning_rate` and trained `epochs` more."""

    epochs: int
    learning_rate: float
    layers: list[str]
    unfreeze: Callable[[], object]


def fine_tune_plan(model: keras.Model, cfg: ModelOptions) -> Optional[FineTune]:
    """Phase 2 for `training.loop.fit` (None for the scratch CNN or `fine_tune.epochs: 0`). The
    layers are resolved here, before phase 1, so a bad layer name fails before any training."""
    if not is_transfer(cfg.architecture) or cfg.fine_tune.epochs == 0:
        return None
    names = layers_to_unfreeze(model, cfg.fine_tune.unfreeze)
    return FineTune(epochs=cfg.fine_tune.epochs, learning_rate=cfg.fine_tune.learning_rate,
                    layers=names, unfreeze=lambda: unfreeze_layers(model, names))
