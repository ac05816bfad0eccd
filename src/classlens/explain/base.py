"""The interface every attribution method shares: a model and `batch_size` in the constructor,
`explain(images, targets)` returning one float map per image.

Input is checked once here, at the public boundary; subclasses implement `_explain` on trusted,
float32 arrays. `batch_size` bounds how many model inputs go through one forward/backward pass —
images times noise samples (SmoothGrad), path steps (Integrated Gradients) or occluded copies
(occlusion) — so memory stays bounded whatever the method multiplies a batch by.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from classlens.models.names import LOGITS_LAYER


class Explainer:
    """Base class: (model, images (N, H, W, C), targets (N,)) -> maps (N, H, W) float32.

    Args:
        model: a Keras classifier with a layer named `logits` (the scores before its softmax or
            sigmoid), or ending in a softmax or sigmoid layer whose input is then the logits.
        batch_size: at most this many model inputs per forward/backward pass (default 64).
    """

    #: registry name (see `classlens.explain.METHODS`)
    name: str = ""
    #: True when maps are signed (evidence for and against); False for magnitudes
    signed: bool = False

    def __init__(self, model, *, batch_size: int = 64):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer; received "
                             f"batch_size={batch_size!r}")
        self.model = model
        self.batch_size = int(batch_size)
        self.logits = logits_model(model)
        self.num_classes = int(self.logits.output.shape[-1])

    def explain(self, images, targets) -> np.ndarray:
        """One attribution map per image for its target class: (N, H, W) float32.

        Args:
            images: (N, H, W, C) as the model takes them (uint8 or float; cast to float32).
            targets: (N,) class indices whose logit is explained.
        """
        x, t = self._check(images, targets)
        if len(x) == 0:
            return np.zeros(x.shape[:3], dtype=np.float32)
        return np.asarray(self._explain(x, t), dtype=np.float32)

    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ boundary checks

    def _check(self, images, targets) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(images)
        if x.ndim != 4:
            raise ValueError(f"`images` must be a (N, height, width, channels) array; received "
                             f"images.shape={x.shape}")
        expected = tuple(self.model.inputs[0].shape[1:])
        if any(e is not None and e != got for e, got in zip(expected, x.shape[1:])):
            raise ValueError(f"`images` must have shape (N, {', '.join(map(str, expected))}) for "
                             f"this model; received images.shape={x.shape}")
        t = np.asarray(targets)
        if t.shape != (len(x),) or (t.size and not np.issubdtype(t.dtype, np.integer)):
            raise ValueError(f"`targets` must be {len(x)} integer class indices, one per image; "
                             f"received targets.shape={t.shape}, dtype={t.dtype}")
        if t.size and (t.min() < 0 or t.max() >= self.num_classes):
            raise ValueError(f"`targets` must be in [0, {self.num_classes - 1}]; received "
                             f"min={t.min()}, max={t.max()}")
        return x.astype(np.float32, copy=False), t.astype(np.int32)

    # ------------------------------------------------------------------ shared machinery

    def _batches(self, n_rows: int) -> Iterator[slice]:
        for start in range(0, n_rows, self.batch_size):
            yield slice(start, min(start + self.batch_size, n_rows))


def logits_model(model):
    """A model with `model`'s input whose output is the pre-activation scores.

    The layer named `logits` (every classlens architecture has one); otherwise the input of a
    final softmax or sigmoid layer (a brought-in classifier). Gradients after the activation
    would be flattened by saturation, so attribution methods never use it. A sigmoid label's
    logit is its own score (no other label enters it), so its gradients explain that label.
    """
    import keras

    names = {layer.name for layer in model.layers}
    if LOGITS_LAYER in names:
        return keras.Model(model.inputs, model.get_layer(LOGITS_LAYER).output)
    last = model.layers[-1]
    ends_in_activation = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation)
        and getattr(last.activation, "__name__", "") in ("softmax", "sigmoid"))
    if ends_in_activation:
        return keras.Model(model.inputs, last.input)
    raise ValueError(f"`model` must have a layer named {LOGITS_LAYER!r} or end in a softmax or "
                     f"sigmoid layer, so maps explain logits; received model {model.name!r} "
                     f"ending in {type(last).__name__} {last.name!r}")


def row_batches(n_images: int, per_image: int, batch_size: int) -> Iterator[tuple[np.ndarray,
                                                                                  np.ndarray]]:
    """(image index, sub index) arrays covering `n_images * per_image` rows, `batch_size` rows at a
    time: how SmoothGrad samples, path steps and occluded copies of many images share passes."""
    total = n_images * per_image
    for start in range(0, total, batch_size):
        rows = np.arange(start, min(start + batch_size, total))
        yield rows // per_image, rows % per_image


def add_rows(total: np.ndarray, image_idx: np.ndarray, values: np.ndarray) -> None:
    """total[image_idx[r]] += values[r] for rows grouped by image (as `row_batches` yields them):
    one vectorised sum per run of equal indices (np.add.at is far slower)."""
    starts = np.flatnonzero(np.r_[True, image_idx[1:] != image_idx[:-1]])
    total[image_idx[starts]] += np.add.reduceat(values, starts, axis=0)


def batch_signature(model, *, with_targets: bool = True) -> list:
    """tf.function input signature: a float32 batch of any size of `model`'s input shape (and
    int32 targets), so a compiled function is traced once, not once per batch size."""
    import tensorflow as tf

    images = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
    return [images, tf.TensorSpec((None,), tf.int32)] if with_targets else [images]


def gradient_function(logits) -> Callable:
    """A compiled (x, t) -> (d logit[t] / d x, logit[t]) over a batch."""
    import tensorflow as tf

    @tf.function(input_signature=batch_signature(logits))
    def gradients(x, t):
        with tf.GradientTape() as tape:
            tape.watch(x)
            chosen = tf.gather(logits(x, training=False), t, axis=1, batch_dims=1)
        return tf.cast(tape.gradient(chosen, x), tf.float32), tf.cast(chosen, tf.float32)

    return gradients


def target_logit_function(logits) -> Callable:
    """A compiled (x, t) -> logit[t] over a batch, for perturbation methods."""
    import tensorflow as tf

    @tf.function(input_signature=batch_signature(logits))
    def scores(x, t):
        return tf.cast(tf.gather(logits(x, training=False), t, axis=1, batch_dims=1), tf.float32)

    return scores


def reduce_channels(values: np.ndarray, how: str) -> np.ndarray:
    """(N, H, W, C) -> (N, H, W): `max` or `mean` of |values|, or `sum` (signed)."""
    if how == "max":
        return np.abs(values).max(axis=-1)
    if how == "mean":
        return np.abs(values).mean(axis=-1)
    if how == "sum":
        return values.sum(axis=-1)
    raise ValueError(f"`reduce` must be one of ['max', 'mean', 'sum']; received reduce={how!r}")
