"""The evaluate stage for a multi-label run (its prediction table lists label sets): every
number once (`multilabel_report`, scikit-learn underneath), written in the multi-class run's
layout so the gate, `classlens compare`, the card and the report read either:

- metrics.json / all_metrics.json: labels under `per_class`; `accuracy` is exact match;
- per_class.csv: one row per label (precision, recall, F1 with its interval, support, AP, ROC
  AUC, its fitted threshold, ECE, tp/fp/fn/tn);
- confusion_matrix.json: the cross-label confusion (`counts[a][b]`: images carrying a on which b
  was predicted without being true; the diagonal: a found) with its rates, and every label's
  2x2 under `per_label`; confusion.csv: one (actual, predicted) record per true label
  (predicted itself, or `(missed)`) and per extra label (`(none)`, the label), for DVC's
  confusion plot;
- calibration.json: every label's probability pooled against its 0/1 truth (equal-width bins),
  and each label's ECE;
- roc/, pr/: one file per label (each label against its absence); figures/.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from classlens import paths
from classlens.atomic import atomic_files, atomic_path, save_figure, write_csv, write_json
from classlens.config import Config
from classlens.data.prepared import load_classes, load_split
from classlens.errors import InputError
from classlens.evaluation import results
from classlens.evaluation.calibration import reliability_bins
from classlens.evaluation.curves import curve_tables, one_vs_rest
from classlens.evaluation.multilabel import multilabel_report
from classlens.evaluation.predictions import read_array
from classlens.evaluation.untuned import UNTUNED, at_fixed_threshold
from classlens.naming import class_keys, file_stems
from classlens.serving.preprocessing import PreprocessingRecord
from classlens.tracking.log import log_for_compare, log_metrics, log_table, replace_artifacts
from classlens.tracking.naming import classification_metrics
from classlens.task import decisions
from classlens.tracking.runs import stage_run

MISSED, NONE = "(missed)", "(none)"  # confusion.csv's stand-ins for "no label"


def run(cfg: Config, table) -> None:
    import pandas as pd

    classes = load_classes()
    y_true = np.asarray(load_split("test").labels).astype(bool)
    if y_true.shape != (len(table), len(classes)):
        raise InputError(f"{paths.PREDICTIONS}: {len(table)} rows but the prepared test labels "
                         f"are {y_true.shape}; re-run `dvc repro predict`")
    probabilities = read_array(paths.PROBABILITIES, shape=(len(table), len(classes)))
    thresholds = PreprocessingRecord.read(paths.PREPROCESSING).threshold_values
    ev = cfg.evaluate
    report = multilabel_report(y_true, probabilities, thresholds, label_names=classes,
                               bootstrap_resamples=ev.bootstrap_resamples, ci_level=ev.ci_level,
                               seed=ev.bootstrap_seed, calibration_bins=ev.calibration_bins)
    per_label = pd.DataFrame(report.per_label_rows()).rename(columns={"label": "class"})
    y_pred = decisions(probabilities, thresholds)
    pooled = reliability_bins(probabilities.ravel(), y_true.ravel(),
                              n_bins=ev.calibration_bins)
    cross = report.cross_label_json()
    _, _, curves = one_vs_rest(y_true, probabilities, classes)

    metrics = report.results()
    metrics.averages[UNTUNED] = at_fixed_threshold(y_true, probabilities)
    with atomic_path(paths.METRICS) as headline, atomic_files(paths.EVAL_DIR) as out:
        results.write_headline(headline, metrics)
        results.write(out / paths.ALL_METRICS.name, metrics)
        write_csv(out / paths.PER_CLASS.name, per_label)
        write_csv(out / paths.CONFUSION_RECORDS.name, confusion_records(y_true, y_pred, classes))
        write_json(out / paths.CONFUSION_MATRIX.name, {
            "classes": classes, "multilabel": True, "counts": cross["counts"],
            "row_normalized": cross["rates"], "support": cross["support"],
            "per_label": {name: {k: report.per_label[name][k] for k in ("tp", "fp", "fn", "tn")}
                          for name in classes},
            "undefined": cross["undefined"], "class_keys": class_keys(classes)})
        write_json(out / paths.CALIBRATION_BINS.name, {
            "pooled": pooled.to_json(),
            "per_label_ece": {name: report.per_label[name]["ece"] for name in classes}})
        stems = file_stems(classes)
        for folder in (paths.ROC_DIR, paths.PR_DIR):
            (out / folder.name).mkdir()
        for name, c in curves.items():
            roc, pr = curve_tables(c, max_points=ev.curve_points)
            if len(roc):
                write_csv(out / paths.ROC_DIR.name / f"{stems[name]}.csv", roc)
            write_csv(out / paths.PR_DIR.name / f"{stems[name]}.csv", pr)
        (out / paths.EVAL_FIGURES.name).mkdir()
        _draw(out / paths.EVAL_FIGURES.name, report, curves, pooled)

    with stage_run(paths.RUN_REF, asdict(cfg)):
        log_metrics(classification_metrics(metrics.to_json()))
        replace_artifacts([paths.METRICS, *paths.EVAL_OUTPUTS], "evaluate")
        log_for_compare([paths.METRICS, paths.CONFUSION_NORMALIZED_PNG, paths.PER_CLASS_F1_PNG,
                         paths.RELIABILITY_PNG])
        log_table(per_label, "evaluate/per_class.json")
    print(f"evaluate: exact match {report.subset_accuracy:.4f}, macro F1 "
          f"{report.averages['macro_avg']['f1']:.4f}, mAP "
          f"{_shown(report.mean_average_precision)}, Hamming loss {report.hamming_loss:.4f}, "
          f"labels per image {report.label_cardinality[0]:.2f} true / "
          f"{report.label_cardinality[1]:.2f} predicted")


def _shown(value) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def confusion_records(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]):
    """(actual, predicted) records: per true label the label itself when predicted, else
    `(missed)`; per predicted label that is not true, `(none)` and the label."""
    import pandas as pd

    names = np.asarray(classes, dtype=object)
    image, label = np.nonzero(y_true)
    actual = list(names[label])
    predicted = list(np.where(y_pred[image, label], names[label], MISSED))
    image, label = np.nonzero(y_pred & ~y_true)
    actual += [NONE] * len(label)
    predicted += list(names[label])
    return pd.DataFrame({"actual": actual, "predicted": predicted})


def _draw(out: Path, report, curves: dict, pooled) -> None:
    from classlens.figures import evaluation as figures

    classes = report.label_names
    rates = np.nan_to_num(report.cross_label_rates)
    counts = report.cross_label
    column = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
    for path, matrix, normalized, title in (
        (paths.CONFUSION_COUNTS_PNG, counts, False,
         "Cross-label confusion (counts): row label true, column label predicted"),
        (paths.CONFUSION_NORMALIZED_PNG, rates, True,
         "Cross-label confusion (share of the row label's images)"),
        (paths.CONFUSION_COLUMN_NORMALIZED_PNG, column, True,
         "Cross-label confusion (column-normalised)"),
    ):
        save_figure(out / path.name, figures.confusion_heatmap(
            matrix, classes, normalized=normalized, title=title))
    save_figure(out / paths.RELIABILITY_PNG.name, figures.reliability_diagram(
        pooled, confidence="label probability (every label of every image)",
        outcome="share carrying the label"))
    values = report.per_label
    auc = {n: v["roc_auc"] for n, v in values.items() if v["roc_auc"] is not None}
    ap = {n: v["average_precision"] for n, v in values.items()
          if v["average_precision"] is not None}
    save_figure(out / paths.ROC_PNG.name, figures.class_curves(
        {n: (c.fpr, c.tpr) for n, c in curves.items() if n in auc}, auc, kind="roc",
        scope="per label"))
    save_figure(out / paths.PR_PNG.name, figures.class_curves(
        {n: (c.recall, c.precision) for n, c in curves.items()}, ap, kind="pr",
        scope="per label"))
    rows = report.per_label_rows()
    save_figure(out / paths.PER_CLASS_F1_PNG.name, figures.per_class_f1(
        [r["label"] for r in rows], [r["f1"] for r in rows], [r.get("f1_low") for r in rows],
        [r.get("f1_high") for r in rows], title="F1 per label"))

