"""Batched prediction over a split's images (streamed from the memory map)."""

from __future__ import annotations

import numpy as np


def predict_probabilities(model, images: np.ndarray, *, batch_size: int) -> np.ndarray:
    """(N, C) float32 class probabilities, reading `images` in batches of `batch_size`."""
    import tensorflow as tf

    if len(images) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    from classlens.data.rows import read_rows  # a memory map: positioned reads, flat memory

    n_batches = -(-len(images) // batch_size)
    ds = tf.data.Dataset.from_generator(
        lambda: (read_rows(images, slice(i, i + batch_size))
                 for i in range(0, len(images), batch_size)),
        output_signature=tf.TensorSpec(shape=(None, *images.shape[1:]), dtype=images.dtype),
    ).apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(tf.data.AUTOTUNE)
    return model.predict(ds, verbose=0).astype(np.float32)
