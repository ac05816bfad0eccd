"""Matplotlib figures drawn from results computed elsewhere (this module computes no metric).
Each function returns a Figure; `classlens.atomic.save_figure` writes and closes it."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Past this many classes the per-cell numbers of a heatmap become unreadable: colour only.
MAX_ANNOTATED_CLASSES = 20


def training_curves(history) -> plt.Figure:
    """Loss and accuracy per epoch, train vs validation, from the history table."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(history["epoch"], history[metric], label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def confusion_heatmap(matrix: np.ndarray, class_names: Sequence[str], *, normalized: bool,
                      title: str) -> plt.Figure:
    """A confusion-matrix heatmap with class names (scikit-learn's ConfusionMatrixDisplay)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(class_names)
    size = max(5.0, min(0.45 * n + 2, 30.0))
    fig, ax = plt.subplots(figsize=(size, size))
    display = ConfusionMatrixDisplay(matrix, display_labels=list(class_names))
    display.plot(ax=ax, include_values=n <= MAX_ANNOTATED_CLASSES, cmap="Blues",
                 values_format=".2f" if normalized else "d", colorbar=True,
                 xticks_rotation="vertical" if n > 10 else "horizontal")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def image_grid(images: np.ndarray, titles: Sequence[str], *, columns: int = 5,
               suptitle: str = "") -> plt.Figure:
    """Images (N, H, W, C) uint8 in a grid, each with its title (e.g. true/predicted/confidence)."""
    n = max(len(images), 1)
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.5 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(_displayable(image), cmap="gray" if image.shape[-1] == 1 else None,
                  vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    if not len(images):
        axes.flat[0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _displayable(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.shape[-1] == 1 else image


def class_counts_chart(counts: dict[str, dict[str, int]]) -> plt.Figure:
    """Images per class, one bar per split side by side ({split: {class: count}})."""
    splits = list(counts)
    classes = list(next(iter(counts.values()), {}))
    n = max(len(classes), 1)
    horizontal = n > 20  # many classes: one row each, names readable
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.22 * n * len(splits) / 2 + 1.5))
                           if horizontal else (max(6.0, 0.5 * n + 2), 4))
    width = 0.8 / max(len(splits), 1)
    positions = np.arange(len(classes))
    for k, split in enumerate(splits):
        values = [counts[split][c] for c in classes]
        offset = positions - 0.4 + width * (k + 0.5)
        (ax.barh if horizontal else ax.bar)(offset, values, width, label=split)
    if horizontal:
        ax.set_yticks(positions, classes, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("images")
    else:
        long_names = n > 12 or max(len(c) for c in classes) > 6
        ax.set_xticks(positions, classes, rotation=45 if long_names else 0,
                      ha="right" if long_names else "center")
        ax.set_ylabel("images")
    ax.set_title("Images per class and split")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="x" if horizontal else "y")
    fig.tight_layout()
    return fig


def class_samples_grid(samples: Sequence[np.ndarray], class_names: Sequence[str], *,
                       title: str = "") -> plt.Figure:
    """One row per class (its name on the left), its sample images (N, H, W, C) across."""
    rows = max(len(samples), 1)
    columns = max([len(s) for s in samples] + [1])
    tile = 0.9 if rows <= 20 else 0.6
    fig, axes = plt.subplots(rows, columns, figsize=(tile * columns + 1.6, tile * rows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for row, (images, name) in enumerate(zip(samples, class_names)):
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        for col, image in enumerate(images):
            axes[row, col].imshow(_displayable(image), cmap="gray" if image.shape[-1] == 1
                                  else None, vmin=0, vmax=255, interpolation="nearest")
        if not len(images):
            axes[row, 0].text(0.5, 0.5, "none", ha="center", va="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
