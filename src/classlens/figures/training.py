"""Training figures: loss, accuracy and learning rate per epoch, drawn from the history table,
with the best epoch (chosen by the caller: `classlens.training.summary.best_epoch`) marked."""

from __future__ import annotations

from typing import Optional

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from classlens.figures.style import plain_ticks  # noqa: E402
from classlens.naming import epoch_metric_name  # noqa: E402

# the learning-rate column (Keras' `lr` in an older history.csv becomes `train/lr`)
_LEARNING_RATE = ("learning_rate", "train/lr")
_COLOURS = {"train": "tab:blue", "val": "tab:orange"}
BEST_COLOUR = "tab:green"


def _present(history, column: str) -> bool:
    return column in history and bool(history[column].notna().any())


def _column(history, split: str, metric: str) -> Optional[str]:
    """The history column of `metric` on `split` ("train" or "val"), or None (absent or empty)."""
    column = f"{split}/{metric}"
    return column if _present(history, column) else None


def training_curves(history, *, best_epoch: Optional[int] = None) -> plt.Figure:
    """Loss and accuracy per epoch (training and validation) and the learning rate.

    Args:
        history: the history table: `epoch`, `phase` and `train/loss`, `train/accuracy`,
            `val/loss`, `val/accuracy`, `learning_rate` (Keras' `loss`, `val_loss`... also read).
        best_epoch: the epoch whose weights were kept; a labelled vertical line on every panel
            (None, or a one-row history: not marked).

    A panel is drawn for each quantity the table holds (learning rate on a log axis); the
    start of the fine-tuning phase, when there is one, is a dashed grey line.
    """
    history = history.rename(columns=epoch_metric_name)  # Keras' own names, as history.csv's
    epochs = history["epoch"].to_numpy()
    panels = [(m, [(s, _column(history, s, m)) for s in ("train", "val")])
              for m in ("loss", "accuracy")]
    panels = [(m, [(s, c) for s, c in cols if c]) for m, cols in panels]
    panels = [(m, cols) for m, cols in panels if cols]
    rate = next((c for c in _LEARNING_RATE if _present(history, c)), None)
    n = len(panels) + (rate is not None)
    fig, axes = plt.subplots(1, max(n, 1), figsize=(3.9 * max(n, 1), 3.4), squeeze=False)
    axes = list(axes[0])
    # a one-row history (a provided model, scored not trained) needs markers to be seen
    style = {"marker": "o"} if len(history) == 1 else {}
    phase2 = epochs[history["phase"].to_numpy() == 2] if "phase" in history else []
    mark = best_epoch is not None and len(history) > 1 and best_epoch in set(epochs.tolist())
    for ax, (metric, columns) in zip(axes, panels):
        for split, column in columns:
            ax.plot(epochs, history[column], color=_COLOURS[split],
                    label="training" if split == "train" else "validation", **style)
        if mark:
            val = dict(columns).get("val")
            if val:
                ax.plot([best_epoch], [history[val].to_numpy()[epochs == best_epoch][0]], "o",
                        color=BEST_COLOUR, zorder=3)
        ax.set_ylabel(metric)
        ax.set_title(metric.capitalize())
    if rate is not None:
        ax = axes[len(panels)]
        ax.step(epochs, history[rate], where="mid", color="tab:purple", **style)
        values = history[rate].dropna().to_numpy(dtype=float)
        if (values > 0).all() and np.ptp(values) > 0:
            ax.set_yscale("log")
            plain_ticks(ax.yaxis)
        ax.set_ylabel("learning rate")
        ax.set_title("Learning rate")
    for ax in axes:
        if len(phase2):
            ax.axvline(phase2[0] - 0.5, color="grey", linestyle="--", label="fine-tuning starts")
        if mark:
            ax.axvline(best_epoch, color=BEST_COLOUR, linestyle=":", linewidth=1.5,
                       label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(epochs) <= 12:
            ax.set_xticks(epochs)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
