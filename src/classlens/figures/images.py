"""Image figures: grids of images with titles, class counts per split, samples per class."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from classlens.figures.style import NAME_CHARS  # noqa: E402
from classlens.naming import shortened  # noqa: E402



def image_grid(images: np.ndarray, titles: Sequence[str], *, columns: int = 5,
               suptitle: str = "") -> plt.Figure:
    """Images (N, H, W, C) uint8 in a grid, each with its title (e.g. true/predicted/confidence).

    Drawn as one mosaic in a single axes (captions as text under each tile): a figure per image
    grid costs milliseconds instead of one matplotlib axes per image, which matters for the
    dozens of galleries of a 100-class dataset.
    """
    n = len(images)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    cell_w, cell_h = 2.2, 2.5  # inches per tile, caption included
    fig = plt.figure(figsize=(cell_w * columns, cell_h * rows + (0.5 if suptitle else 0.1)))
    top = 1 - (0.5 / fig.get_figheight() if suptitle else 0.02)
    ax = fig.add_axes((0.0, 0.0, 1.0, top))
    ax.set_axis_off()
    if not n:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
    else:
        h, w = images.shape[1:3]
        pad_x, pad_y = max(1, w // 8), max(2, int(h * 0.45))  # room for two caption lines
        rgb = images.shape[-1] != 1
        mosaic = np.full((rows * (h + pad_y), columns * (w + pad_x)) + ((3,) if rgb else ()),
                         255, dtype=np.uint8)
        for i, image in enumerate(images):
            r, c = divmod(i, columns)
            y0, x0 = r * (h + pad_y), c * (w + pad_x)
            mosaic[y0:y0 + h, x0:x0 + w] = image if rgb else image[..., 0]
        ax.imshow(mosaic, cmap=None if rgb else "gray", vmin=0, vmax=255,
                  interpolation="nearest", aspect="auto")
        for i, title in enumerate(titles[:n]):
            r, c = divmod(i, columns)
            ax.text(c * (w + pad_x) + w / 2, r * (h + pad_y) + h + pad_y * 0.08, title,
                    ha="center", va="top", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, y=1 - 0.15 / fig.get_figheight(), va="top")
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
        ax.set_yticks(positions, [shortened(c, NAME_CHARS) for c in classes], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("images")
    else:
        long_names = n > 12 or max(len(c) for c in classes) > 6
        ax.set_xticks(positions, [shortened(c, NAME_CHARS) for c in classes],
                      rotation=45 if long_names else 0,
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
        axes[row, 0].set_ylabel(shortened(name, NAME_CHARS), rotation=0, ha="right",
                                va="center", fontsize=8)
        for col, image in enumerate(images):
            axes[row, col].imshow(_displayable(image), cmap="gray" if image.shape[-1] == 1
                                  else None, vmin=0, vmax=255, interpolation="nearest")
        if not len(images):
            axes[row, 0].text(0.5, 0.5, "none", ha="center", va="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
