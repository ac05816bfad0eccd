"""Training figures: loss and accuracy per epoch, drawn from the history table."""

from __future__ import annotations


import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402

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
