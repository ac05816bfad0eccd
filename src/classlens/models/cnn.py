"""The scratch CNN: conv blocks with (optional) batch norm, pooling and dropout, a global-average-
pooling or flatten head, an optional hidden dense layer, a dense `logits` layer and a softmax
(or a sigmoid: binary, multilabel).
Takes prepared uint8 images as they are (0..255)."""

from __future__ import annotations

import keras
from keras import layers

from classlens.errors import ConfigError
from classlens.models.options import AugmentConfig


def augmentation(cfg: AugmentConfig, *, seed: int) -> list[layers.Layer]:
    """Keras preprocessing layers for `cfg`; they act only when called with training=True."""
    stack: list[layers.Layer] = []
    if cfg.flip_horizontal:
        stack.append(layers.RandomFlip("horizontal", seed=seed, name="aug_flip"))
    if cfg.rotate > 0:
        stack.append(layers.RandomRotation(cfg.rotate, fill_mode="constant", seed=seed,
                                           name="aug_rotate"))
    if cfg.zoom > 0:
        stack.append(layers.RandomZoom(cfg.zoom, fill_mode="constant", seed=seed,
                                       name="aug_zoom"))
    if cfg.translate > 0:
        stack.append(layers.RandomTranslation(cfg.translate, cfg.translate, fill_mode="constant",
                                              seed=seed, name="aug_translate"))
    return stack


def build_cnn(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    filters: list[int],
    convs_per_block: int,
    kernel_size: int,
    block_dropout: float,
    head_dropout: float,
    augment: AugmentConfig,
    seed: int,
    activation: str = "softmax",
    padding: str = "same",
    batch_norm: bool = True,
    head: str = "gap",
    dense_units: int = 0,
) -> keras.Model:
    """Build the CNN.

    Args:
        input_shape: (height, width, channels) of the prepared images.
        num_classes: width of the `logits` layer.
        activation: after `logits`: "softmax" (multiclass) or "sigmoid" (binary, multilabel).
        filters: one conv block per entry, with that many filters.
        convs_per_block: conv-BN-ReLU units per block before its max-pool.
        kernel_size, block_dropout, head_dropout: as named.
        augment: augmentation layers (training only).
        seed: seeds the augmentation and dropout layers.
        padding: "same" (each conv keeps its map's size) or "valid" (each conv trims
            kernel_size - 1 pixels: less compute, as the tutorials' CNNs do).
        batch_norm: batch normalization after each conv (the conv then has no bias).
        head: "gap" (global average pooling: any input size, few weights) or "flatten" (keeps
            where things are: more weights, better on small centred images such as
            Fashion-MNIST).
        dense_units: a hidden ReLU dense layer of this width before `logits` (0: none).
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for layer in augmentation(augment, seed=seed):
        x = layer(x)
    for b, width in enumerate(filters, start=1):
        for c in range(1, convs_per_block + 1):
            if padding == "valid" and min(x.shape[1:3]) < kernel_size:
                raise ConfigError(
                    f"model.padding 'valid': the {input_shape[0]}x{input_shape[1]} images shrink "
                    f"to {x.shape[1]}x{x.shape[2]} before conv {c} of block {b}, smaller than "
                    f"model.kernel_size {kernel_size}; use padding 'same' or fewer filters "
                    "entries (blocks)")
            x = layers.Conv2D(width, kernel_size, padding=padding, use_bias=not batch_norm,
                              name=f"block{b}_conv{c}")(x)
            # momentum 0.9 (not Keras' 0.99): small datasets give few steps per epoch, and the
            # moving statistics must settle within a handful of epochs for validation to mean much.
            # synchronized: under a distribution strategy the batch statistics are the global
            # batch's, so every worker's moving averages (and weights) stay identical; no effect
            # on one device.
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9, synchronized=True,
                                              name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        if b == len(filters):  # the last feature map, by name, for Grad-CAM
            x = layers.Identity(name="features")(x)
        # "same" padding lets deep stacks run on tiny images (8x8 -> 4 -> 2 -> 1 -> 1).
        x = layers.MaxPooling2D(padding="same", name=f"block{b}_pool")(x)
        if block_dropout > 0:
            x = layers.Dropout(block_dropout, seed=seed, name=f"block{b}_dropout")(x)
    if head == "flatten":
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dense_units > 0:
        x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, seed=seed, name="head_dropout")(x)
    # float32 even under mixed precision: the logits feed the loss and the explanations.
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    outputs = layers.Activation(activation, dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="cnn")
