"""A preview of the configured augmentations: a few training images, each beside several
augmented versions, so a user sees what the model actually trains on.

The augmentations are the model's own layers (named `aug_*`, see `classlens.models.cnn`), called
with `training=True` exactly as `fit` does — not a re-implementation that could drift from them.
"""

from __future__ import annotations

import numpy as np

from classlens.figures.style import NAME_CHARS
from classlens.naming import shortened

AUGMENT_PREFIX = "aug_"


def pick_examples(labels: np.ndarray, *, n: int) -> np.ndarray:
    """Indices of up to `n` training images, the first of each class in label order (so the
    preview shows different classes), filled up with further images if there are few classes."""
    labels = np.asarray(labels)
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:n]
    rest = [i for i in range(len(labels)) if i not in set(firsts)][:max(0, n - len(firsts))]
    return np.asarray(sorted(firsts + rest), dtype=np.int64)


def augmentation_layers(model) -> list:
    """The model's augmentation layers, in order (top level and inside nested models)."""
    found = []
    for layer in model.layers:
        if layer.name.startswith(AUGMENT_PREFIX):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(augmentation_layers(layer))
    return found


def augmented_versions(layers: list, images: np.ndarray, *, versions: int) -> np.ndarray:
    """(N, versions, H, W, C) uint8: each of `images` (uint8 N×H×W×C) passed `versions` times
    through `layers` with training=True (each pass draws new random transformations)."""
    from keras import ops

    batch = np.asarray(images, dtype=np.float32)
    out = np.empty((len(batch), versions, *batch.shape[1:]), dtype=np.uint8)
    for v in range(versions):
        x = batch
        for layer in layers:
            x = layer(x, training=True)
        out[:, v] = np.clip(np.rint(ops.convert_to_numpy(x)), 0, 255).astype(np.uint8)
    return out


def preview_figure(originals: np.ndarray, augmented: np.ndarray, *, titles: list[str],
                   description: str):
    """Draw each original (first column) beside its augmented versions; returns the Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, versions = augmented.shape[0], augmented.shape[1]
    fig, axes = plt.subplots(rows, versions + 1, figsize=(1.6 * (versions + 1), 1.7 * rows + 0.6),
                             squeeze=False)
    gray = originals.shape[-1] == 1
    for r in range(rows):
        for c in range(versions + 1):
            image = originals[r] if c == 0 else augmented[r, c - 1]
            ax = axes[r, c]
            ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None,
                      vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("original" if c == 0 else f"augmented {c}", fontsize=8)
        axes[r, 0].set_ylabel(shortened(titles[r], NAME_CHARS), fontsize=8)  # a class name: cut if long
    fig.suptitle(description, fontsize=9)
    fig.tight_layout()
    return fig
