"""Stage `evaluate`: every metric of the test predictions computed once (`classify`), then
written (data/eval/all_metrics.json and the compact metrics.json through `evaluation.results`,
tables, plot data), drawn (heatmaps, curves, reliability diagram, under data/eval/figures/) and
logged to MLflow (under `test/`) from that one result."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from classlens import paths
from classlens.atomic import atomic_files, atomic_path, save_figure, write_csv, write_json
from classlens.config import Config
from classlens.data.prepared import load_classes
from classlens.evaluation import results
from classlens.evaluation.class_order import class_order
from classlens.evaluation.classification import ClassificationReport, classify
from classlens.evaluation.curves import curve_tables
from classlens.evaluation.multilabel import binary_operating_point
from classlens.evaluation.predictions import binary_decisions, read_array, read_predictions
from classlens.evaluation.untuned import UNTUNED, at_fixed_threshold
from classlens.serving.preprocessing import PreprocessingRecord
from classlens.task import BINARY
from classlens.naming import class_keys, file_stems
from classlens.tracking.log import log_for_compare, log_metrics, log_table, replace_artifacts
from classlens.tracking.naming import classification_metrics
from classlens.tracking.runs import stage_run


def run(cfg: Config) -> None:
    import pandas as pd

    table = read_predictions(paths.PREDICTIONS)
    if "true_labels" in table.columns:  # a multi-label run's table (label sets)
        from classlens.pipeline import evaluate_multilabel

        return evaluate_multilabel.run(cfg, table)
    classes = load_classes()
    probabilities = read_array(paths.PROBABILITIES, shape=(len(table), len(classes)))
    val_probabilities = read_array(paths.VAL_PROBABILITIES, shape=(None, len(classes)))
    val_labels = read_array(paths.VAL_LABELS, shape=(len(val_probabilities),))
    ev = cfg.evaluate
    record = (PreprocessingRecord.read(paths.PREPROCESSING) if paths.PREPROCESSING.exists()
              else None)  # predictions scored without the pipeline's model: multi-class
    binary = record is not None and record.task == BINARY
    if binary:  # decided at the fitted threshold, from the probabilities as multi-class is
        positive, threshold = record.positive_index, record.threshold_values[0]
        decided = binary_decisions(probabilities, positive=positive, threshold=threshold)
    report = classify(table["true"].to_numpy(), probabilities, classes, top_k=ev.top_k,
                      bootstrap_resamples=ev.bootstrap_resamples,
                      bootstrap_seed=ev.bootstrap_seed, bootstrap_level=ev.ci_level,
                      val_true=val_labels, val_probabilities=val_probabilities,
                      calibration_bins=ev.calibration_bins,
                      y_pred=decided if binary else None)
    per_class = pd.DataFrame(report.per_class_rows())
    records = pd.DataFrame({"actual": table["true_label"], "predicted": table["pred_label"]})
    order = class_order(report.confusion_normalized, ev.confusion_order)

    metrics = report.results()
    if binary:  # the fitted threshold's 2x2 with its rates, and what 0.5 gives
        is_positive = (table["true"].to_numpy() == positive)[:, None]
        point = binary_operating_point(is_positive[:, 0], probabilities[:, positive], threshold)
        metrics.averages["operating_point"] = {  # positive_index: which class it counts
            "positive_index": positive,
            **{k: v for k, v in point.to_json().items() if k != "undefined"}}
        metrics.undefined.update({f"operating_point.{k}": why
                                  for k, why in point.undefined.items()})
        metrics.averages[UNTUNED] = at_fixed_threshold(is_positive,
                                                       probabilities[:, [positive]])
    # metrics.json (at the root) and data/eval/ are staged together and moved in one after the
    # other at the end: a failure before leaves both as they were
    with atomic_path(paths.METRICS) as headline, atomic_files(paths.EVAL_DIR) as out:
        results.write_headline(headline, metrics)
        results.write(out / paths.ALL_METRICS.name, metrics)
        write_csv(out / paths.PER_CLASS.name, per_class)
        write_csv(out / paths.CONFUSION_RECORDS.name, records)
        write_json(out / paths.CONFUSION_MATRIX.name,
                   {"classes": classes, "counts": report.confusion.tolist(),
                    "row_normalized": report.confusion_normalized.round(6).tolist(),
                    "column_normalized": report.confusion_column_normalized.round(6).tolist(),
                    "order": {"method": ev.confusion_order, "classes": [classes[i] for i in order]},
                    # what each class is called in MLflow (test/f1/<metric_key>) and in file
                    # names (roc/<file_stem>.csv, galleries): any label made safe, recorded here
                    "class_keys": class_keys(classes)})
        write_json(out / paths.CALIBRATION_BINS.name, report.calibration.bins_json())
        _write_curves(out, report, max_points=ev.curve_points)
        (out / paths.EVAL_FIGURES.name).mkdir()
        _draw(out / paths.EVAL_FIGURES.name, report, order, ev.confusion_order)

    with stage_run(paths.RUN_REF, asdict(cfg)):
        log_metrics(classification_metrics(metrics.to_json()))
        replace_artifacts([paths.METRICS, *paths.EVAL_OUTPUTS], "evaluate")
        log_for_compare([paths.METRICS, paths.CONFUSION_NORMALIZED_PNG, paths.PER_CLASS_F1_PNG,
                         paths.RELIABILITY_PNG])
        log_table(per_class, "evaluate/per_class.json")
    cal = report.calibration
    print(f"evaluate: accuracy {report.accuracy:.4f}, macro F1 {report.macro['f1']:.4f}, "
          f"ECE {cal.before.expected_error():.4f} -> {cal.after.expected_error():.4f} at "
          f"T={cal.temperature:.3f}")
    note = metrics.calibration_note()
    if note:
        print(f"evaluate: {note}")


def _write_curves(out: Path, report: ClassificationReport, *, max_points: int) -> None:
    """ROC and PR plot data, one CSV per class (`dvc plots` draws a folder as one plot per file);
    classes whose curve is undefined (absent from the test split) get no file."""
    stems = file_stems(report.class_names)
    for folder in (paths.ROC_DIR, paths.PR_DIR):
        (out / folder.name).mkdir()
    for name, curves in report.curves.items():
        roc, pr = curve_tables(curves, max_points=max_points)
        if len(roc):
            write_csv(out / paths.ROC_DIR.name / f"{stems[name]}.csv", roc)
        write_csv(out / paths.PR_DIR.name / f"{stems[name]}.csv", pr)


def _draw(out: Path, report: ClassificationReport, order: np.ndarray, order_name: str) -> None:
    from classlens.figures import evaluation as figures

    classes = report.class_names
    suffix = "" if order_name == "given" else f", {order_name} order"
    for path, matrix, normalized, title in (
        (paths.CONFUSION_COUNTS_PNG, report.confusion, False, "Confusion matrix (counts)"),
        (paths.CONFUSION_NORMALIZED_PNG, report.confusion_normalized, True,
         "Confusion matrix (row-normalised: recall)"),
        (paths.CONFUSION_COLUMN_NORMALIZED_PNG, report.confusion_column_normalized, True,
         "Confusion matrix (column-normalised: precision)"),
    ):
        save_figure(out / path.name, figures.confusion_heatmap(
            matrix, classes, normalized=normalized, title=title + suffix, order=order))
    cal = report.calibration
    save_figure(out / paths.RELIABILITY_PNG.name,
                figures.reliability_diagram(cal.before, cal.after, temperature=cal.temperature))
    auc = {n: v["roc_auc"] for n, v in report.per_class.items() if v["roc_auc"] is not None}
    ap = {n: v["average_precision"] for n, v in report.per_class.items()
          if v["average_precision"] is not None}
    save_figure(out / paths.ROC_PNG.name, figures.class_curves(
        {n: (c.fpr, c.tpr) for n, c in report.curves.items() if n in auc}, auc, kind="roc"))
    save_figure(out / paths.PR_PNG.name, figures.class_curves(
        {n: (c.recall, c.precision) for n, c in report.curves.items()}, ap, kind="pr"))
    rows = report.per_class_rows()
    save_figure(out / paths.PER_CLASS_F1_PNG.name, figures.per_class_f1(
        [r["class"] for r in rows], [r["f1"] for r in rows], [r.get("f1_low") for r in rows],
        [r.get("f1_high") for r in rows]))
