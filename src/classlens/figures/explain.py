"""Figures of the explain stage, drawn from maps and trust numbers computed in
`classlens.explain` (this module computes nothing). Each function returns a Figure;
`classlens.atomic.save_figure` writes and closes it.

Magnitude maps (gradients, SmoothGrad, Grad-CAM) are drawn from 0 to their maximum ("inferno");
signed maps (Integrated Gradients, occlusion) on a diverging scale centred on 0 (red: evidence
for the class, blue: against). Each map is scaled on its own, so colours compare places within
a map, not maps with each other.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MAGNITUDE_CMAP = "inferno"
SIGNED_CMAP = "RdBu_r"
OVERLAY_ALPHA = 0.55
# Panels are upscaled (nearest neighbour) to about this many pixels a side, and drawn as one
# mosaic image in a single Axes: hundreds of matplotlib Axes (one per panel) take tens of
# seconds to lay out, a mosaic well under one.
TILE_PIXELS = 96
GAP = 6
CAPTION = 16


def _upscale(rgb: np.ndarray) -> np.ndarray:
    factor = max(1, round(TILE_PIXELS / max(rgb.shape[:2])))
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1)


def image_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 1 or 3) 0-255 image -> (H, W, 3) floats in [0, 1]."""
    rgb = np.clip(np.asarray(image, dtype=np.float32) / 255.0, 0.0, 1.0)
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb[..., :3]


def map_rgb(heat: np.ndarray, *, signed: bool) -> np.ndarray:
    """A map in colour: magnitudes 0..max on `inferno`, signed maps on `RdBu_r` centred on 0."""
    heat = np.asarray(heat, dtype=np.float64)
    if signed:
        limit = float(np.abs(heat).max()) or 1.0
        scaled, cmap = (heat / limit + 1.0) / 2.0, SIGNED_CMAP
    else:
        top = float(heat.max()) or 1.0
        scaled, cmap = np.clip(heat / top, 0.0, 1.0), MAGNITUDE_CMAP
    return matplotlib.colormaps[cmap](scaled)[..., :3]


def overlay_rgb(image: np.ndarray, heat: np.ndarray, *, signed: bool) -> np.ndarray:
    return (1 - OVERLAY_ALPHA) * image_rgb(image) + OVERLAY_ALPHA * map_rgb(heat, signed=signed)


def mosaic(cells: Sequence[Sequence[Optional[tuple[np.ndarray, str]]]], *,
           title: str = "") -> plt.Figure:
    """Rows of (rgb panel, caption) cells (None: empty) drawn as one image with captions."""
    panels = [_upscale(rgb) for row in cells for cell in row if cell is not None
              for rgb in (cell[0],)]
    if not panels:
        fig, ax = plt.subplots(figsize=(3, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center")
        return fig
    tile_h = max(p.shape[0] for p in panels)
    tile_w = max(p.shape[1] for p in panels)
    n_rows, n_cols = len(cells), max(len(row) for row in cells)
    height = n_rows * (tile_h + CAPTION + GAP) + GAP
    width = n_cols * (tile_w + GAP) + GAP
    canvas = np.ones((height, width, 3))
    captions = []
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            rgb, caption = _upscale(cell[0]), cell[1]
            top = GAP + r * (tile_h + CAPTION + GAP) + CAPTION
            left = GAP + c * (tile_w + GAP)
            canvas[top:top + rgb.shape[0], left:left + rgb.shape[1]] = rgb
            captions.append((left + tile_w / 2, top - 3, caption))
    dpi = 110
    fig = plt.figure(figsize=(width / dpi, (height + (20 if title else 0)) / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, height / (height + (20 if title else 0))))
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    for x, y, caption in captions:
        ax.text(x, y, caption, ha="center", va="bottom", fontsize=5.5, clip_on=False)
    if title:
        fig.suptitle(title, fontsize=8, y=0.995)
    return fig


def attribution_overlays(images: np.ndarray, predicted_maps: np.ndarray,
                         true_maps: Sequence[Optional[np.ndarray]], titles: Sequence[str], *,
                         method: str, signed: bool, predicted_labels: Sequence[str],
                         true_labels: Sequence[str]) -> plt.Figure:
    """One row per image: the image (class and confidence in its caption), the map for the
    predicted class and its overlay, and for a misclassified image the map for the true class
    and its overlay beside them."""
    cells = []
    for i, image in enumerate(images):
        row = [(image_rgb(image), titles[i]),
               (map_rgb(predicted_maps[i], signed=signed), f"map: pred {predicted_labels[i]}"),
               (overlay_rgb(image, predicted_maps[i], signed=signed), "overlay")]
        if true_maps[i] is not None:
            row += [(map_rgb(true_maps[i], signed=signed), f"map: true {true_labels[i]}"),
                    (overlay_rgb(image, true_maps[i], signed=signed), "overlay")]
        cells.append(row)
    scale = "signed: red for, blue against" if signed else "magnitude"
    return mosaic(cells, title=f"{method} ({scale})")


def comparison_grid(images: np.ndarray, maps: Mapping[str, np.ndarray],
                    signed: Mapping[str, bool], titles: Sequence[str]) -> plt.Figure:
    """Methods by images: one row per image (its predicted class explained), the image then
    each method's overlay, the method named above each panel."""
    cells = [[(image_rgb(image), titles[i])]
             + [(overlay_rgb(image, method_maps[i], signed=signed[method]), method)
                for method, method_maps in maps.items()]
             for i, image in enumerate(images)]
    return mosaic(cells, title="predicted class, each method")


def faithfulness_curves(fractions: np.ndarray, deletion: Mapping[str, np.ndarray],
                        insertion: Mapping[str, np.ndarray], random_deletion: np.ndarray,
                        random_insertion: np.ndarray) -> plt.Figure:
    """Mean deletion and insertion curves per method, with the random-order curve dashed:
    below it is better for deletion, above it for insertion."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, curves, reference, title in (
            (axes[0], deletion, random_deletion, "deletion (lower is better)"),
            (axes[1], insertion, random_insertion, "insertion (higher is better)")):
        for method, curve in curves.items():
            ax.plot(fractions, curve, label=method)
        ax.plot(fractions, reference, "k--", label="random order")
        ax.set_xlabel("fraction of pixels removed" if "deletion" in title
                      else "fraction of pixels inserted")
        ax.set_ylabel("predicted-class probability")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def randomization_curves(layers: Sequence[str], counts: Sequence[int],
                         spearman: Mapping[str, Sequence[Optional[float]]], *,
                         threshold: float) -> plt.Figure:
    """Mean rank correlation with the trained model's maps as layers are re-initialised from
    the top; a faithful method falls towards 0, the dotted line is the flagging threshold."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(counts) + 3), 4.2))
    x = np.arange(len(counts))
    for method, values in spearman.items():
        ax.plot(x, [np.nan if v is None else v for v in values], marker="o", label=method)
    ax.axhline(threshold, color="k", linestyle=":", label=f"flag above {threshold}")
    ax.set_xticks(x, [layers[c - 1] for c in counts], rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("re-initialised from the top down to layer")
    ax.set_ylabel("Spearman rank correlation")
    ax.set_ylim(-0.3, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def activation_grid(images: np.ndarray, activations: np.ndarray, channels: np.ndarray,
                    titles: Sequence[str], *, layer: str) -> plt.Figure:
    """One row per image: the image, then the feature maps of the chosen channels of `layer`
    (each on its own scale)."""
    cells = [[(image_rgb(image), titles[i])]
             + [(map_rgb(activations[i, ..., ch], signed=bool(activations[i, ..., ch].min() < 0)),
                 f"channel {ch}")
                for ch in channels]
             for i, image in enumerate(images)]
    return mosaic(cells, title=f"activations of {layer}")
