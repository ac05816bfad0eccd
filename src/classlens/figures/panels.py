"""Panel grids: small images in labelled rows and columns, drawn as ONE mosaic image in a single
Axes plus colour bars. Hundreds of matplotlib Axes (one per panel) take tens of seconds to lay
out; a mosaic takes well under one, and its size in pixels is known before drawing.

A figure holds sections (a titled group of columns sharing row labels); a section wider than
`max_columns` wraps onto further blocks. Each column has a header (e.g. true / predicted class)
and one cell per row (an RGB array in [0, 1], or None for an empty cell). Every cell is fitted
into a `tile` x `tile` pixel box with its aspect ratio kept (nearest-neighbour resampling: the
pixels of an 8x8 digit stay visible as pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from classlens.figures import style as _plain_text  # noqa: E402, F401 (names as text)
from classlens.naming import shortened  # noqa: E402

DPI = 110  # classlens.atomic.save_figure writes at this resolution: 1 canvas pixel = 1 pixel
GAP = 6  # pixels between tiles
LEFT = 118  # room for the row labels
HEADER = 36  # three lines of column header
SECTION = 22  # a section's title line
TITLE = 26
BAR_AREA = 150  # right of the mosaic: colour bars with their tick labels and titles
FRAME = 0.82  # grey of the line around each tile
ALERT_COLOUR = "#c0392b"  # headers of columns to notice (e.g. misclassified images)


@dataclass
class Column:
    header: str
    cells: list  # one per row label: (h, w, 3) floats in [0, 1], or None
    alert: bool = False  # header drawn in ALERT_COLOUR


@dataclass
class Section:
    title: str
    row_labels: list[str]
    columns: list[Column] = field(default_factory=list)


@dataclass(frozen=True)
class ColourBar:
    cmap: str
    low: float  # data limits of the colour scale
    high: float
    label: str
    ticks: Sequence[float] = ()
    tick_labels: Sequence[str] = ()


def fit_tile(rgb: np.ndarray, tile: int) -> np.ndarray:
    """Resample (nearest) so the longer side is `tile` pixels, the aspect ratio kept."""
    h, w = rgb.shape[:2]
    scale = tile / max(h, w)
    rows = np.minimum((np.arange(max(1, round(h * scale))) / scale).astype(int), h - 1)
    cols = np.minimum((np.arange(max(1, round(w * scale))) / scale).astype(int), w - 1)
    return rgb[rows][:, cols]


def _blocks(sections: Sequence[Section], max_columns: int):
    for section in sections:
        for start in range(0, max(len(section.columns), 1), max_columns):
            yield (section.title if start == 0 else ""), section, \
                section.columns[start:start + max_columns]


def panel_figure(sections: Sequence[Section], *, tile: int = 72, max_columns: int = 12,
                 colour_bars: Sequence[ColourBar] = (), title: str = "") -> plt.Figure:
    """The sections as one mosaic (see the module docstring), colour bars on the right.

    The figure is (LEFT + columns x (tile + GAP) + BAR_AREA) pixels wide and grows by
    (tile + GAP) per row of tiles, so callers bound its size by `tile` and `max_columns`.
    """
    blocks = [b for b in _blocks(sections, max_columns) if b[2]]
    if not blocks:
        fig, ax = plt.subplots(figsize=(3, 0.6), dpi=DPI)
        ax.axis("off")
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center")
        return fig
    n_columns = max(len(columns) for _, _, columns in blocks)
    width = LEFT + n_columns * (tile + GAP)
    texts, tiles = [], []
    y = TITLE if title else 0
    for section_title, section, columns in blocks:
        if section_title:
            texts.append((LEFT, y + SECTION - 6, section_title,
                          {"fontsize": 8.5, "fontweight": "bold", "ha": "left"}))
            y += SECTION
        for c, column in enumerate(columns):
            texts.append((LEFT + c * (tile + GAP) + tile / 2, y + HEADER - 3, column.header,
                          {"fontsize": 6.5, "ha": "center", "linespacing": 1.1,
                           "color": ALERT_COLOUR if column.alert else "black"}))
        y += HEADER
        for r, label in enumerate(section.row_labels):
            texts.append((LEFT - 8, y + tile / 2, label,
                          {"fontsize": 7, "ha": "right", "va": "center", "linespacing": 1.1}))
            for c, column in enumerate(columns):
                if column.cells[r] is not None:
                    tiles.append((y, LEFT + c * (tile + GAP), fit_tile(column.cells[r], tile)))
            y += tile + GAP
        y += GAP
    height = y
    canvas = np.ones((height, width, 3))
    for top, left, rgb in tiles:  # a one-pixel grey frame keeps white tiles visible
        h, w = rgb.shape[:2]
        canvas[max(top - 1, 0):top + h + 1, max(left - 1, 0):left + w + 1] = FRAME
        canvas[top:top + h, left:left + w] = rgb[..., :3]

    total_width = width + (BAR_AREA if colour_bars else 0)
    fig = plt.figure(figsize=(total_width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, width / total_width, 1))
    ax.imshow(canvas, interpolation="nearest", aspect="equal")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    for x, y_text, text, style in texts:
        ax.text(x, y_text, text, va=style.pop("va", "bottom"), clip_on=False, **style)
    if title:
        ax.text(LEFT, TITLE - 8, title, fontsize=10, ha="left", va="bottom")
    _colour_bars(fig, colour_bars, x=width + 16, total_width=total_width, height=height)
    return fig


def _colour_bars(fig, bars: Sequence[ColourBar], *, x: int, total_width: int, height: int):
    """Vertical colour bars stacked at the top right, each with its label beside it."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if not bars:
        return
    top = TITLE + SECTION
    each = max(40, min(230, (height - top - 10) / len(bars) - 30))
    for k, bar in enumerate(bars):
        y0 = top + k * (each + 30)
        cax = fig.add_axes((x / total_width, 1 - (y0 + each) / height, 12 / total_width,
                            each / height))
        colours = fig.colorbar(ScalarMappable(Normalize(bar.low, bar.high), bar.cmap), cax=cax)
        if bar.ticks:
            colours.set_ticks(list(bar.ticks), labels=list(bar.tick_labels) or None)
        colours.ax.tick_params(labelsize=6.5)
        colours.set_label(bar.label, fontsize=7)


def short(name: str, limit: int = 10) -> str:
    """A class name cut to `limit` characters (an ellipsis marks the cut) to fit a header."""
    return shortened(name, limit)
