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
    # a one-row history (a provided model, scored not trained) needs markers to be seen
    style = {"marker": "o"} if len(history) == 1 else {}
    phase2 = history["epoch"][history["phase"] == 2] if "phase" in history else []
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(history["epoch"], history[metric], label=f"train {metric}", **style)
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], label=f"validation {metric}",
                    **style)
        if len(phase2):
            ax.axvline(phase2.iloc[0] - 0.5, color="grey", linestyle="--",
                       label="fine-tuning starts")
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


def saliency_grid(images: np.ndarray, maps: np.ndarray, titles: Sequence[str]) -> plt.Figure:
    """One row per image: the image, its saliency map, and the map over the image."""
    n = max(len(images), 1)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.4 * n), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, (image, heat, title) in enumerate(zip(images, maps, titles)):
        shown = _displayable(image)
        gray = image.shape[-1] == 1
        axes[row, 0].imshow(shown, cmap="gray" if gray else None, vmin=0, vmax=255,
                            interpolation="nearest")
        axes[row, 0].set_title(title, fontsize=8)
        axes[row, 1].imshow(heat, cmap="inferno", interpolation="nearest")
        axes[row, 1].set_title("saliency |d logit / d pixel|", fontsize=8)
        axes[row, 2].imshow(shown, cmap="gray" if gray else None, vmin=0, vmax=255,
                            interpolation="nearest")
        axes[row, 2].imshow(heat, cmap="inferno", alpha=0.55, interpolation="nearest")
        axes[row, 2].set_title("overlay", fontsize=8)
    fig.tight_layout()
    return fig


def _displayable(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.shape[-1] == 1 else image
