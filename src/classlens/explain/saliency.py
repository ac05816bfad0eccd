"""Vanilla gradient saliency (Simonyan et al. 2014) of the target class's logit, batched."""

from __future__ import annotations

import numpy as np

from classlens.models import LOGITS_LAYER

REDUCTIONS = ("max", "mean")


def logits_model(model):
    """A model with the same input whose output is the `logits` layer (pre-softmax)."""
    import keras

    return keras.Model(model.inputs, model.get_layer(LOGITS_LAYER).output)


def vanilla_gradients(model, images: np.ndarray, targets: np.ndarray, *, reduce: str = "max",
                      batch_size: int = 64) -> np.ndarray:
    """|d logit[target] / d input|, reduced over channels by max or mean: (N, H, W) float32.

    Gradients are of the logit, not the softmax, so a map is not flattened by saturation.
    `model` must have a layer named `logits`; images are given as the model takes them.
    """
    import tensorflow as tf

    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {list(REDUCTIONS)}; received {reduce!r}")
    if len(images) != len(targets):
        raise ValueError(f"images and targets differ in length: {len(images)} != {len(targets)}")
    to_logits = logits_model(model)

    @tf.function(reduce_retracing=True)
    def batch_gradients(x, t):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = to_logits(x, training=False)
            chosen = tf.gather(logits, t, axis=1, batch_dims=1)
        return tf.abs(tape.gradient(chosen, x))

    maps = []
    for start in range(0, len(images), batch_size):
        x = tf.convert_to_tensor(np.asarray(images[start:start + batch_size], dtype=np.float32))
        t = tf.convert_to_tensor(np.asarray(targets[start:start + batch_size], dtype=np.int32))
        grads = batch_gradients(x, t).numpy()
        maps.append(grads.max(axis=-1) if reduce == "max" else grads.mean(axis=-1))
    if not maps:
        return np.zeros((0, *images.shape[1:3]), dtype=np.float32)
    return np.concatenate(maps).astype(np.float32)
