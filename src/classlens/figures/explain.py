"""Figures of the explain stage, drawn from maps and trust numbers computed in
`classlens.explain` (this module computes nothing). Each function returns a Figure;
`classlens.atomic.save_figure` writes and closes it. Captions: `explain_captions`.

Maps are drawn over the image (dimmed to grey), opaque where the map is strong and transparent
where it is near 0, so the digit or object stays visible under weak evidence. Magnitude maps
(gradients, SmoothGrad, Grad-CAM) run from 0 to their maximum ("inferno"); signed maps
(Integrated Gradients, occlusion) on a diverging scale centred on 0 (red: evidence for the class,
blue: against). Each map is scaled on its own (the colour bar says so), so colours compare
places within one map, not maps with each other.

Layout (`figures.panels`): explained images are columns (header: true / predicted class and
confidence, red when misclassified), in sections by how they were chosen; rows are the image and
its maps. Figures are drawn for a page about 1300 pixels wide, at most `MAX_COLUMNS` images a
row and `MAX_IMAGES` images a figure.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from classlens.figures.panels import ColourBar, Column, Section, panel_figure, short  # noqa: E402

MAGNITUDE_CMAP = "inferno"
SIGNED_CMAP = "RdBu_r"
MAX_ALPHA = 0.85  # opacity of a map at its strongest; near 0 the image shows through
DIM = 0.6  # the image under a map, dimmed so the map's colours stand out
TILE = 72  # pixels a side of each panel
MAX_COLUMNS = 14
MAX_IMAGES = 42  # three rows of columns; the maps of every image are in maps_<method>.npy
GROUP_TITLES = {"misclassified": "Most confident errors",
                "correct": "Least confident correct predictions",
                "per_class": "Examples per class"}


def image_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 1 or 3) 0-255 image -> (H, W, 3) floats in [0, 1]."""
    rgb = np.clip(np.asarray(image, dtype=np.float32) / 255.0, 0.0, 1.0)
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb[..., :3]


def scaled(heat: np.ndarray, *, signed: bool) -> np.ndarray:
    """A map scaled on its own: signed maps to [-1, 1] by their largest |value|, magnitude
    maps to [0, 1] by their maximum (negatives clipped)."""
    heat = np.asarray(heat, dtype=np.float64)
    if signed:
        return heat / (float(np.abs(heat).max()) or 1.0)
    return np.clip(heat / (float(heat.max()) or 1.0), 0.0, 1.0)


def map_rgb(heat: np.ndarray, *, signed: bool) -> np.ndarray:
    """A map alone in colour (see `colour_bar` for its scale)."""
    values = scaled(heat, signed=signed)
    cmap = matplotlib.colormaps[SIGNED_CMAP if signed else MAGNITUDE_CMAP]
    return cmap((values + 1) / 2 if signed else values)[..., :3]


def overlay_rgb(image: np.ndarray, heat: np.ndarray, *, signed: bool) -> np.ndarray:
    """A magnitude map over the dimmed grey image, its opacity growing with the value; a signed
    map alone (white at 0: red and blue stay readable, the image is in the row above)."""
    if signed:
        return map_rgb(heat, signed=True)
    grey = image_rgb(image).mean(axis=-1, keepdims=True) * DIM
    values = scaled(heat, signed=False)  # once: the opacity and the colour (map_rgb's scale)
    alpha = MAX_ALPHA * values[..., None]
    return (1 - alpha) * grey + alpha * matplotlib.colormaps[MAGNITUDE_CMAP](values)[..., :3]


def colour_bar(*, signed: bool, what: str = "attribution", target: str = "class") -> ColourBar:
    """The scale of `map_rgb`: per-map maximum (or largest |value| for signed maps); `target`:
    what signed evidence is for (a class, or a label in a multi-label run)."""
    if signed:
        return ColourBar(SIGNED_CMAP, -1.0, 1.0, f"{what}, scaled per map",
                         (-1, 0, 1), ("\u2212max\n(against)", "0", f"+max\n(for {target})"))
    return ColourBar(MAGNITUDE_CMAP, 0.0, 1.0, f"{what}, scaled per map",
                     (0, 0.5, 1), ("0", "\u00bd max", "max"))


def header(true_label: str, pred_label: str, confidence: float) -> str:
    """A column header: true and predicted class, confidence of the prediction."""
    return (f"true {short(str(true_label), 8)}\npred {short(str(pred_label), 8)}\n"
            f"conf. {confidence:.2f}")


def _sections(groups: Sequence[str], columns: Sequence[Column], row_labels, *,
              max_images: int) -> list[Section]:
    """Columns grouped in sections by selection group, first appearance order, at most
    `max_images` columns in all."""
    sections: dict[str, Section] = {}
    for group, column in list(zip(groups, columns))[:max_images]:
        sections.setdefault(group, Section(GROUP_TITLES.get(group, group),
                                           row_labels(group))).columns.append(column)
    return list(sections.values())


def method_figure(images: np.ndarray, predicted_maps: np.ndarray,
                  true_maps: Sequence[Optional[np.ndarray]], headers: Sequence[str],
                  wrong: Sequence[bool], groups: Sequence[str], *, signed: bool,
                  title: str = "", max_images: int = MAX_IMAGES) -> plt.Figure:
    """One method: per image (a column) the image, the map for the predicted class and, for a
    misclassified image, the map for its true class."""
    with_true = {g for g, t in zip(groups, true_maps) if t is not None}
    columns = [Column(headers[i], [image_rgb(image),
                                   overlay_rgb(image, predicted_maps[i], signed=signed),
                                   None if true_maps[i] is None
                                   else overlay_rgb(image, true_maps[i], signed=signed)],
                      alert=bool(wrong[i]))
               for i, image in enumerate(images[:max_images])]  # only what is drawn

    def labels(group):
        rows = ["image", "map for the\npredicted class", "map for the\ntrue class"]
        return rows if group in with_true else rows[:2]

    sections = _sections(groups, columns, labels, max_images=max_images)
    for section in sections:  # drop the true-class cell where the section has no such row
        for column in section.columns:
            column.cells = column.cells[:len(section.row_labels)]
    return panel_figure(sections, tile=TILE, max_columns=MAX_COLUMNS,
                        colour_bars=[colour_bar(signed=signed)], title=title)


def comparison_figure(images: np.ndarray, maps: Mapping[str, np.ndarray],
                      signed: Mapping[str, bool], titles: Mapping[str, str],
                      headers: Sequence[str], wrong: Sequence[bool], *, title: str = "",
                      max_images: int = MAX_COLUMNS, target: str = "class") -> plt.Figure:
    """Every method on the same images: per image (a column) the image, then each method's
    map for the predicted class (rows, named by `titles`; `target`: see `colour_bar`)."""
    shown = min(len(images), max_images)
    columns = [Column(headers[i], [image_rgb(images[i])]
                      + [overlay_rgb(images[i], maps[m][i], signed=signed[m]) for m in maps],
                      alert=bool(wrong[i])) for i in range(shown)]
    kinds = sorted({signed[m] for m in maps})  # magnitude first
    return panel_figure([Section("", ["image"] + [titles.get(m, m) for m in maps], columns)],
                        tile=TILE - 8, max_columns=max_images,
                        colour_bars=[colour_bar(signed=k, target=target) for k in kinds],
                        title=title)


def activation_figure(images: np.ndarray, activations: np.ndarray, channels: np.ndarray,
                      headers: Sequence[str], *, title: str = "") -> plt.Figure:
    """Feature maps of one layer: per image a row, the image then the chosen channels (columns
    headed by channel index), each map alone on its own scale, its aspect ratio kept."""
    signed = bool((activations[..., channels] < 0).any())
    sections = [Section("", [headers[i]], [Column("input", [image_rgb(image)])]
                        + [Column(f"channel {ch}", [map_rgb(activations[i, ..., ch],
                                                            signed=signed)])
                           for ch in channels])
                for i, image in enumerate(images)]
    return panel_figure(sections, tile=TILE - 8, max_columns=len(channels) + 1,
                        colour_bars=[colour_bar(signed=signed, what="activation")], title=title)


def faithfulness_curves(fractions: np.ndarray, deletion: Mapping[str, np.ndarray],
                        insertion: Mapping[str, np.ndarray], random_deletion: np.ndarray,
                        random_insertion: np.ndarray, *,
                        tracked: str = "predicted-class probability") -> plt.Figure:
    """Mean deletion and insertion curves per method, with the random-order curve dashed:
    below it is better for deletion, above it for insertion; `tracked` names the y axis."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, curves, reference, title in (
            (axes[0], deletion, random_deletion, "deletion (lower is better)"),
            (axes[1], insertion, random_insertion, "insertion (higher is better)")):
        for method, curve in curves.items():
            ax.plot(fractions, curve, label=method)
        ax.plot(fractions, reference, "k--", label="random order")
        ax.set_xlabel("fraction of pixels removed" if "deletion" in title
                      else "fraction of pixels inserted")
        ax.set_ylabel(tracked)
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
