"""Figures draw computed results and stay readable at 100 classes."""

from __future__ import annotations

import numpy as np

from classlens.figures import evaluation as figures
from classlens.figures.images import image_grid
from classlens.evaluation.calibration import reliability_bins
from classlens.evaluation.class_order import class_order


def test_heatmap_at_100_classes_has_no_cell_text_and_follows_the_order():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 5, (100, 100)) + np.eye(100, dtype=int) * 50
    names = [f"class_{i}" for i in range(100)]
    normalized = counts / counts.sum(1, keepdims=True)
    order = class_order(normalized, "clustered")
    fig = figures.confusion_heatmap(normalized, names, normalized=True, title="t", order=order)
    ax = fig.axes[0]
    assert not [t for t in ax.texts if t.get_text()]  # colour only past MAX_ANNOTATED_CLASSES
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [names[i] for i in order]
    assert ax.get_yticklabels()[0].get_fontsize() <= 5
    small = figures.confusion_heatmap(np.eye(3, dtype=int), ["a", "b", "c"], normalized=False, title="t")
    assert [t.get_text() for t in small.axes[0].texts if t.get_text()][:1] == ["1"]


def test_curves_reliability_and_grid_figures_draw():
    curves = {f"c{i}": (np.array([0, 0.5, 1]), np.array([0, 0.8, 1])) for i in range(30)}
    fig = figures.class_curves(curves, {k: 0.5 + i / 100 for i, k in enumerate(curves)},
                               kind="roc", highlight=10)
    assert len(fig.axes[0].get_legend().get_texts()) == 10  # only the lowest 10 are labelled
    bins = reliability_bins(np.array([0.9, 0.6, 0.3]), np.array([True, False, True]))
    fig = figures.reliability_diagram(bins, bins, temperature=1.5)
    assert "T = 1.50" in fig.axes[1].get_title()
    grid = image_grid(np.zeros((7, 8, 8, 1), np.uint8), [f"t{i}" for i in range(7)],
                              columns=3, suptitle="s")
    assert [t.get_text() for t in grid.axes[0].texts] == [f"t{i}" for i in range(7)]
    empty = image_grid(np.zeros((0, 8, 8, 1), np.uint8), [])
    assert empty.axes[0].texts[0].get_text() == "nothing to show"


def _history(names: dict[str, str]):
    import pandas as pd

    epochs = np.arange(1, 7)
    frame = pd.DataFrame({"epoch": epochs, "phase": [1, 1, 1, 1, 2, 2],
                          "train/loss": 1.0 / epochs, "val/loss": [1.0, 0.6, 0.4, 0.5, 0.55, 0.6],
                          "train/accuracy": 1 - 0.5 / epochs, "val/accuracy": 0.9 - 0.4 / epochs,
                          "learning_rate": [1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4]})
    return frame.rename(columns=names)


def test_training_curves_mark_the_best_epoch_and_show_the_learning_rate():
    from classlens.figures.training import training_curves

    keras_names = {"train/loss": "loss", "val/loss": "val_loss", "train/accuracy": "accuracy",
                   "val/accuracy": "val_accuracy"}
    for history in (_history({}), _history(keras_names)):  # new names, and Keras' old ones
        fig = training_curves(history, best_epoch=3)
        assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy", "Learning rate"]
        assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy", "learning rate"]
        assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)
        assert fig.axes[2].get_yscale() == "log"
        for ax in fig.axes:
            labels = ax.get_legend_handles_labels()[1]
            assert "best epoch 3" in labels and "fine-tuning starts" in labels
            best = [line for line in ax.get_lines() if line.get_label() == "best epoch 3"]
            assert best[0].get_xdata()[0] == 3  # the vertical line sits at the best epoch
        assert {"training", "validation"} <= set(fig.axes[0].get_legend_handles_labels()[1])
    unmarked = training_curves(_history({}))
    assert "best epoch" not in " ".join(unmarked.axes[0].get_legend_handles_labels()[1])
    # a provided model: one scoring row, no learning rate, no training numbers
    import pandas as pd

    scored = pd.DataFrame({"epoch": [0], "phase": [0], "val/loss": [0.3], "val/accuracy": [0.9],
                           "train/loss": [np.nan], "learning_rate": [np.nan]})
    fig = training_curves(scored, best_epoch=0)
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert fig.axes[0].get_legend_handles_labels()[1] == ["validation"]
