"""Layer activations: the feature maps chosen layers produce for an image (what the network
computes, before any attribution), read in batches, nested models included."""

from __future__ import annotations

import numpy as np

from classlens.explain.base import batch_signature
from classlens.explain.layers import capture_outputs


def layer_activations(model, images, layers: list[str], *, batch_size: int = 64
                      ) -> dict[str, np.ndarray]:
    """{layer path: (N, h, w, channels) float32} for the layers at `layers` (paths as in
    `classlens.explain.layers.iter_layers`).

    Args:
        model: a Keras model.
        images: (N, H, W, C) as the model takes them.
        layers: layer names or "nested_model/layer" paths.
        batch_size: images per forward pass.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1; received batch_size={batch_size!r}")
    sinks: dict[str, list] = {path: [] for path in layers}
    images = np.asarray(images, dtype=np.float32)
    found: dict[str, list[np.ndarray]] = {path: [] for path in layers}

    @tf.function(input_signature=batch_signature(model, with_targets=False))
    def forward(x):
        for sink in sinks.values():
            sink.clear()
        model(x, training=False)
        return {path: tf.cast(sink[-1], tf.float32) for path, sink in sinks.items()}

    with capture_outputs(model, sinks):
        for start in range(0, len(images), batch_size):
            for path, value in forward(images[start:start + batch_size]).items():
                found[path].append(value.numpy())
    return {path: np.concatenate(values) for path, values in found.items() if values}


def strongest_channels(activations: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` channels with the highest mean activation over the images shown,
    strongest first (a layer has too many channels to draw them all)."""
    strength = activations.reshape(-1, activations.shape[-1]).mean(axis=0)
    return np.argsort(-strength, kind="stable")[:count]
