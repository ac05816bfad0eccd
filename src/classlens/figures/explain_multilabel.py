"""Figures of the explain stage for a multi-label run, drawn from maps computed in
`classlens.explain` (this module computes nothing). An image carries any number of labels, so
each map explains one label: every predicted label and every missed one; the figures say which.

`label_maps_figure` gives each image a block of its own (one per row): the block's title holds
the image's true and predicted label sets, its first tile the image, then one map per explained
label, headed by the label, what happened to it (`predicted`, `extra`: predicted but not true,
`missed`: true but not predicted; the last two in red) and its probability against its
threshold. The comparison grid reuses `figures.explain.comparison_figure` with
`label_set_header` columns.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from classlens.data import label_sets
from classlens.figures.explain import colour_bar, image_rgb, overlay_rgb
from classlens.figures.panels import Column, Section, panel_figure, short

LABEL_TILE = 72  # pixels a side of each tile
MAX_LABEL_IMAGES = 6  # blocks a figure (about 140 pixels each); every map is in maps_<method>.npy
MAX_LABEL_COLUMNS = 14  # the image and up to 13 maps a block row; more labels wrap
SEPARATOR = ", "  # between the names of a label set in a title ("|" in the files)
_TITLE_CHARS = 150
ROW_LABELS = {"misclassified": "most wrong", "correct": "least confident\nexact match",
              "per_class": "example of\na label"}
OUTCOMES = ("predicted", "extra", "missed")  # a map's label: found, predicted but not true, missed


def outcome(kind: str, *, true: bool) -> str:
    """What happened to the explained label: `predicted` (and true), `extra`, or `missed`."""
    if kind == "missed":
        return "missed"
    return "predicted" if true else "extra"


def label_header(label: str, what: str, probability: float, threshold: float) -> str:
    """A map's header: the label it explains, what happened to it (`OUTCOMES`), and its
    probability p against its threshold t."""
    return f"{short(label, 10)}\n{what}\np {probability:.2f} t {threshold:.2f}"


def label_set_title(true_labels: str, pred_labels: str) -> str:
    """A block's title: the image's true and predicted label sets ("none" for an empty set)."""
    def names(text):
        found = [short(n, 16) for n in label_sets.names(text)]
        return SEPARATOR.join(found) if found else "none"

    title = f"true: {names(true_labels)}    predicted: {names(pred_labels)}"
    return short(title, _TITLE_CHARS)


def label_set_header(true_labels: str, pred_labels: str, last_line: str) -> str:
    """A comparison column's header: the image's true and predicted sets, then `last_line`
    (which label the column's maps explain)."""
    return (f"true {short(str(true_labels) or '-', 8)}\npred {short(str(pred_labels) or '-', 8)}"
            f"\n{last_line}")


def label_maps_figure(images: np.ndarray, maps: np.ndarray, image_of: Sequence[int],
                      headers: Sequence[str], alerts: Sequence[bool], titles: Sequence[str],
                      row_labels: Sequence[str], image_headers: Sequence[str], *, signed: bool,
                      title: str = "", max_images: int = MAX_LABEL_IMAGES):
    """One method on a multi-label run: per image (a block, titled `titles[i]`, its row labelled
    `row_labels[i]`) the image headed `image_headers[i]`, then the maps of its rows
    (`maps[r]` with `image_of[r] == i`), headed `headers[r]`, in red where `alerts[r]`."""
    image_of = np.asarray(image_of)
    sections = []
    for i, image in enumerate(images[:max_images]):
        columns = [Column(image_headers[i], [image_rgb(image)])]
        columns += [Column(headers[r], [overlay_rgb(image, maps[r], signed=signed)],
                           alert=bool(alerts[r])) for r in np.flatnonzero(image_of == i)]
        sections.append(Section(titles[i], [row_labels[i]], columns))
    return panel_figure(sections, tile=LABEL_TILE, max_columns=MAX_LABEL_COLUMNS,
                        colour_bars=[colour_bar(signed=signed, target="label")], title=title)
