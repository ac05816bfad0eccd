"""Stage `explain`: gradient saliency for the most confident errors and the least confident
correct predictions, as one figure plus the raw maps."""

from __future__ import annotations

import pandas as pd

from classlens import paths, tracking
from classlens.analysis import split_by_correctness
from classlens.atomic import atomic_dir, save_figure, save_npy, write_csv
from classlens.config import Config
from classlens.data.prepared import load_split
from classlens.errors import InputError
from classlens.predictions import read_predictions


def select_examples(table, *, n_misclassified: int, n_correct: int):
    """Most confident errors, then least confident correct predictions, with a `group` column."""
    correct, wrong = split_by_correctness(table)
    chosen = pd.concat([
        wrong.head(n_misclassified).assign(group="misclassified"),
        correct.tail(n_correct).iloc[::-1].assign(group="correct"),
    ])
    return chosen.reset_index(drop=True)


def run(cfg: Config) -> None:
    import keras

    from classlens import figures
    from classlens.explain.saliency import vanilla_gradients

    if not paths.MODEL.exists():
        raise InputError(f"{paths.MODEL}: not found; run the train stage first (`dvc repro train`)")
    table = read_predictions(paths.PREDICTIONS)
    test = load_split("test")
    chosen = select_examples(table, n_misclassified=cfg.explain.n_misclassified,
                             n_correct=cfg.explain.n_correct)
    model = keras.models.load_model(paths.MODEL)
    images = test.images[chosen["position"].to_numpy()]
    maps = vanilla_gradients(model, images, chosen["pred"].to_numpy(),
                             reduce=cfg.explain.reduce, batch_size=cfg.explain.batch_size)
    titles = [f"{g}: true {t} / pred {p} ({c:.2f})" for g, t, p, c in
              zip(chosen["group"], chosen["true_label"], chosen["pred_label"],
                  chosen["confidence"])]
    index = chosen[["id", "path", "position", "group", "true_label", "pred_label", "confidence"]]
    with atomic_dir(paths.EXPLAIN_DIR) as out:
        save_npy(out / paths.SALIENCY_MAPS.name, maps)
        write_csv(out / paths.SALIENCY_INDEX.name, index)
        save_figure(out / paths.SALIENCY_PNG.name, figures.saliency_grid(images, maps, titles))

    with tracking.stage_run(paths.RUN_REF, cfg):
        tracking.replace_artifacts([paths.SALIENCY_PNG, paths.SALIENCY_INDEX, paths.SALIENCY_MAPS],
                                   "explain")
    print(f"explain: saliency maps for {len(chosen)} images")
