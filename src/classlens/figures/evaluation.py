"""Evaluation figures: confusion heatmaps, one-vs-rest curves, reliability diagram, per-class F1.
Each function returns a Figure; `classlens.atomic.save_figure` writes and closes it."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from classlens.figures.style import NAME_CHARS, plain_ticks  # noqa: E402
from classlens.naming import shortened  # noqa: E402

# Past this many classes the per-cell numbers of a heatmap become unreadable: colour only.
MAX_ANNOTATED_CLASSES = 20


def confusion_heatmap(matrix: np.ndarray, class_names: Sequence[str], *, normalized: bool,
                      title: str, order: Optional[Sequence[int]] = None) -> plt.Figure:
    """A confusion-matrix heatmap with class names (scikit-learn's ConfusionMatrixDisplay).

    Past `MAX_ANNOTATED_CLASSES` the cells carry colour only and the tick labels shrink, so
    100 classes stay readable; `order` permutes rows and columns alike (see `class_order`).
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(class_names)
    order = np.arange(n) if order is None else np.asarray(order)
    shown = np.asarray(matrix)[np.ix_(order, order)]
    labels = [shortened(class_names[i], NAME_CHARS) for i in order]
    size = max(5.0, min(0.45 * n + 2, 24.0))
    vertical = n > 10 or _too_wide(labels, size)
    # room for the tick labels on top of the matrix's own size, so long class names do not
    # squeeze the cells (about 0.085 in a character at 10 pt)
    margin = 0.085 * max(len(label) for label in labels)
    fig, ax = plt.subplots(figsize=(size + margin, size + (margin if vertical else 0.0)))
    display = ConfusionMatrixDisplay(shown, display_labels=labels)
    display.plot(ax=ax, include_values=n <= MAX_ANNOTATED_CLASSES, cmap="Blues",
                 values_format=".2f" if normalized else "d", colorbar=True,
                 xticks_rotation="vertical" if vertical else "horizontal",
                 im_kw={"vmin": 0.0, "vmax": 1.0} if normalized else None)
    if normalized and display.text_ is not None:
        # scikit-learn picks each number's colour against the matrix's own range, not the
        # colour scale's 0..1: small rates (a cross-label matrix) came out white on pale blue
        for (i, j), text in np.ndenumerate(display.text_):
            text.set_color("white" if shown[i, j] > 0.5 else "black")
    if n > 40:
        ax.tick_params(labelsize=max(4, int(400 / n)))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _too_wide(labels: Sequence[str], inches: float) -> bool:
    """Whether the labels side by side (about 0.085 in a character at 10 pt) would overlap
    under an axes of this figure width."""
    return sum(len(label) for label in labels) * 0.085 > 0.7 * inches


def class_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], scores: dict[str, float], *,
                 kind: str, highlight: int = 10, scope: str = "one-vs-rest") -> plt.Figure:
    """One-vs-rest ROC (`kind="roc"`: x = FPR, y = TPR) or precision-recall (`kind="pr"`:
    x = recall, y = precision) curves, one line per class. With many classes the `highlight`
    lowest-scoring classes are coloured and labelled, the rest drawn thin and grey.

    Args:
        curves: class name -> (x, y) points.
        scores: class name -> the area (ROC AUC or average precision) shown in the legend.
    """
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ranked = sorted(curves, key=lambda name: scores.get(name, 0.0))
    coloured = set(ranked[:highlight])
    cmap = plt.get_cmap("tab10" if len(coloured) <= 10 else "tab20")
    for i, name in enumerate(ranked):
        x, y = curves[name]
        if name in coloured:
            ax.plot(x, y, lw=1.6, color=cmap(i % cmap.N),
                    label=f"{shortened(name, NAME_CHARS)} ({scores.get(name, float('nan')):.3f})",
                    drawstyle="steps-post" if kind == "pr" else "default")
        else:
            ax.plot(x, y, lw=0.6, color="0.75",
                    drawstyle="steps-post" if kind == "pr" else "default")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="0.5")
        ax.set(xlabel="false positive rate", ylabel="true positive rate",
               title=f"ROC, {scope} (AUC)")
    else:
        ax.set(xlabel="recall", ylabel="precision",
               title=f"Precision-recall, {scope} (average precision)")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    ax.grid(alpha=0.3)
    if coloured:
        extra = f"; {len(curves) - len(coloured)} more in grey" if len(curves) > len(coloured) else ""
        ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left",
                  title=f"lowest {len(coloured)}{extra}", title_fontsize=7)
    fig.tight_layout()
    return fig


def reliability_diagram(before, after=None, *, temperature: Optional[float] = None,
                        confidence: str = "top-1 confidence",
                        outcome: str = "accuracy") -> plt.Figure:
    """Accuracy vs confidence per bin (bars; the diagonal is perfect calibration) before and
    after temperature scaling, with the confidence histogram under each.

    Args:
        before, after: `calibration.ReliabilityBins` (equal-width) of the test predictions;
            without `after`, one panel (multi-label: every label's probability pooled, with
            `confidence` and `outcome` naming the axes).
    """
    panels = [(before, "as predicted")]
    if after is not None:
        panels.append((after, f"temperature T = {temperature:.2f}"))
    fig, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 6.5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]}, squeeze=False)
    for col, (bins, label) in enumerate(panels):
        top, bottom = axes[0, col], axes[1, col]
        left = bins.edges[:-1]
        width = np.diff(bins.edges)
        filled = bins.counts > 0
        top.bar(left[filled], bins.accuracy[filled], width=width[filled], align="edge",
                color="tab:blue", edgecolor="white", label=outcome)
        top.bar(left[filled], (bins.mean_confidence - bins.accuracy)[filled],
                bottom=bins.accuracy[filled], width=width[filled], align="edge", fill=False,
                hatch="///", edgecolor="tab:red", lw=0.8, label="gap to mean confidence")
        top.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1)
        top.set(ylim=(0, 1), ylabel=outcome,
                title=f"{label}: ECE {bins.expected_error():.3f}, MCE {bins.max_error():.3f}")
        top.legend(loc="upper left", fontsize=8)
        top.grid(alpha=0.3)
        bottom.bar(left, bins.counts, width=width, align="edge", color="0.55", edgecolor="white")
        bottom.set(xlim=(0, 1), xlabel=confidence, ylabel="images")
        bottom.set_yscale("symlog")
        plain_ticks(bottom.yaxis)
    fig.tight_layout()
    return fig


def per_class_f1(names: Sequence[str], f1: Sequence[Optional[float]],
                 low: Sequence[Optional[float]], high: Sequence[Optional[float]], *,
                 floor: Optional[float] = None, title: str = "F1 per class") -> plt.Figure:
    """Per-class F1 as horizontal bars, worst first, with bootstrap intervals as error bars and
    the weak-class floor as a line (undefined F1 left out)."""
    rows = sorted((v, n, lo, hi) for n, v, lo, hi in zip(names, f1, low, high) if v is not None)
    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, max(2.5, min(0.22 * n + 1.2, 24.0))))
    y = np.arange(n)
    values = np.array([r[0] for r in rows], dtype=float)
    ax.barh(y, values, color="tab:blue", alpha=0.8)
    if all(r[2] is not None and r[3] is not None for r in rows) and n:
        err = np.array([[v - r[2], r[3] - v] for v, r in zip(values, rows)]).T
        ax.errorbar(values, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", lw=0.8,
                    capsize=2)
    if floor is not None:
        ax.axvline(floor, color="tab:red", ls="--", lw=1, label=f"weak-class floor {floor:g}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, [shortened(r[1], NAME_CHARS) for r in rows],
                  fontsize=8 if n <= 40 else max(4, int(320 / n)))
    ax.set(xlim=(0, 1.02), xlabel="F1 (bars: bootstrap interval)", title=title)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
