"""Stage `evaluate`: metrics.json, per-class table, confusion matrix data and heatmaps."""

from __future__ import annotations

import numpy as np

from classlens import paths, tracking
from classlens.atomic import atomic_dir, save_figure, write_csv, write_json
from classlens.config import Config
from classlens.data.prepared import load_classes
from classlens.errors import InputError
from classlens.metrics import classify
from classlens.predictions import read_predictions


def run(cfg: Config) -> None:
    import pandas as pd

    from classlens import figures

    classes = load_classes()
    table = read_predictions(paths.PREDICTIONS)
    if not paths.PROBABILITIES.exists():
        raise InputError(f"{paths.PROBABILITIES}: not found; re-run `dvc repro predict`")
    probabilities = np.load(paths.PROBABILITIES)
    report = classify(table["true"].to_numpy(), probabilities, classes, top_k=cfg.evaluate.top_k)

    per_class = pd.DataFrame([{"class": name, **values}
                              for name, values in report.per_class.items()])
    records = pd.DataFrame({"actual": table["true_label"], "predicted": table["pred_label"]})
    with atomic_dir(paths.EVAL_DIR) as out:
        write_csv(out / paths.PER_CLASS.name, per_class)
        write_csv(out / paths.CONFUSION_RECORDS.name, records)
        write_json(out / paths.CONFUSION_MATRIX.name,
                   {"classes": classes, "counts": report.confusion.tolist(),
                    "row_normalized": report.confusion_normalized.round(6).tolist()})
        save_figure(out / paths.CONFUSION_COUNTS_PNG.name,
                    figures.confusion_heatmap(report.confusion, classes, normalized=False,
                                              title="Confusion matrix (counts)"))
        save_figure(out / paths.CONFUSION_NORMALIZED_PNG.name,
                    figures.confusion_heatmap(report.confusion_normalized, classes,
                                              normalized=True,
                                              title="Confusion matrix (row-normalised: recall)"))
    write_json(paths.METRICS, report.to_json())

    with tracking.stage_run(paths.RUN_REF, cfg):
        tracking.log_metrics(report.flat())
        tracking.log_table(per_class, "evaluate/per_class.json")
        tracking.replace_artifacts(
            [paths.METRICS, paths.PER_CLASS, paths.CONFUSION_MATRIX, paths.CONFUSION_COUNTS_PNG,
             paths.CONFUSION_NORMALIZED_PNG], "evaluate")
    print(f"evaluate: accuracy {report.accuracy:.4f}, macro F1 {report.macro['f1']:.4f}")
