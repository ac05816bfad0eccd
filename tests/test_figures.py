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


# ---------------------------------------------------------------- explain figures (issue 15)


def _figure_pixels(fig) -> tuple[int, int]:
    width, height = fig.get_size_inches() * fig.dpi
    return round(width), round(height)


def test_method_figure_is_compact_with_a_colour_bar_and_alerts():
    from classlens.figures import explain as figures

    rng = np.random.default_rng(0)
    n = 60  # more than MAX_IMAGES: the figure stops growing
    images = rng.integers(0, 255, (n, 28, 28, 1)).astype(np.uint8)
    maps = rng.normal(size=(n, 28, 28))
    wrong = [i < 8 for i in range(n)]
    groups = ["misclassified"] * 8 + ["correct"] * 8 + ["per_class"] * (n - 16)
    headers = [figures.header("a_very_long_class_name", "b", 0.5)] * n
    fig = figures.method_figure(images, maps, [maps[i] if wrong[i] else None for i in range(n)],
                                headers, wrong, groups, signed=True, title="Occlusion")
    width, height = _figure_pixels(fig)
    assert width <= 1400 and height <= 1000, (width, height)  # was 554 x 2396 for 20 images
    canvas, bar = fig.axes
    assert "scaled per map" in bar.get_ylabel()
    assert [t.get_text() for t in bar.get_yticklabels()][0].startswith("\u2212max")
    texts = {t.get_text(): t for t in canvas.texts}
    assert {"Most confident errors", "Least confident correct predictions",
            "Examples per class", "Occlusion"} <= set(texts)
    assert "map for the\ntrue class" in texts  # only the errors' section has that row
    assert [t.get_text() for t in canvas.texts].count("map for the\ntrue class") == 1
    shown = [t for t in canvas.texts if t.get_text().startswith("true ")]
    assert len(shown) == figures.MAX_IMAGES
    assert shown[0].get_color() != shown[-1].get_color()  # misclassified headers stand out
    assert "a_very_\u2026" in shown[0].get_text()  # long names cut to fit the column
    magnitude = figures.method_figure(images[:3], np.abs(maps[:3]), [None] * 3, headers[:3],
                                      [False] * 3, ["correct"] * 3, signed=False)
    assert [t.get_text() for t in magnitude.axes[1].get_yticklabels()] == ["0", "\u00bd max",
                                                                           "max"]


def test_activation_figure_keeps_the_aspect_of_each_map():
    from classlens.figures import explain as figures
    from classlens.figures.panels import fit_tile

    assert fit_tile(np.zeros((4, 8, 3)), 64).shape == (32, 64, 3)  # 1:2 stays 1:2
    assert fit_tile(np.zeros((224, 224, 3)), 72).shape == (72, 72, 3)  # large images shrink
    images = np.zeros((2, 8, 8, 1), np.uint8)
    activations = np.random.default_rng(0).random((2, 4, 4, 32))
    fig = figures.activation_figure(images, activations, np.arange(16), ["x", "y"],
                                    title="Activations of conv")
    width, height = _figure_pixels(fig)
    assert width <= 1500 and height >= 2 * 64  # 17 square tiles a row, two rows: not squashed
    assert fig.axes[1].get_ylabel() == "activation, scaled per map"
    canvas = fig.axes[0].get_images()[0].get_array()
    assert canvas.shape[0] == height  # one canvas pixel per figure pixel: nothing rescaled


def test_captions_say_what_every_method_shows():
    from classlens.explain import METHODS
    from classlens.figures import explain_captions as captions

    options = {"gradients": {"reduce": "max"},
               "smoothgrad": {"samples": 32, "noise": 0.15, "reduce": "max", "seed": 0},
               "integrated_gradients": {"steps": 64, "baseline": "black"},
               "gradcam": {"layer": "auto"}, "gradcam_plus_plus": {"layer": "auto"},
               "occlusion": {"patch": 2, "stride": 1, "baseline": "blur"}}
    for name in METHODS:
        signed = name in ("integrated_gradients", "occlusion")
        text = captions.method_caption(name, options[name], signed=signed, layer="features",
                                       shown=20, total=20)
        title = captions.method_title(name)
        assert text.startswith(f"{title}:") and title == captions.METHOD_TITLES[name]
        assert ("Red =" in text) == signed and "scaled per map" in text.lower()
        assert "{" not in text and ("white = 0" if signed else "transparent near 0") in text
    assert "layer 'features'" in captions.method_caption("gradcam", options["gradcam"],
                                                          signed=False, layer="features",
                                                          shown=1, total=1)
    assert "blurred one" in captions.method_caption("occlusion", options["occlusion"],
                                                    signed=True, shown=1, total=1)
    assert "first 42 of 60" in captions.method_caption("gradients", options["gradients"],
                                                       signed=False, shown=42, total=60)
