"""Stage `report`: one self-contained HTML page per experiment (`data/report/report.html`) from
what prepare, train, evaluate, analyze, explain and gate wrote, and the model card completed
with the evaluated metrics (`data/report/model_card.md`, also a section of the page); both
logged to the experiment's MLflow run.

The explanation figures and their captions come from the explain stage's list
(`data/explain/figures.json`); without it, from the PNGs in `data/explain/`. None is fine.
"""

from __future__ import annotations

from dataclasses import asdict

from classlens import paths
from classlens.atomic import atomic_dir, write_text
from classlens.config import Config
from classlens.data import report as data_report
from classlens.evaluation import results
from classlens.explain.trust import HEADLINE_COLUMNS, trust_rows
from classlens.pipeline.report_inputs import (
    class_galleries,
    data_part,
    explain_figures,
    figure_file,
    gallery_figures,
    read_csv,
    read_json,
    title,
    training_part,
)
from classlens.reporting.html import Table
from classlens.reporting.model_card import completed_card
from classlens.reporting.report_page import ReportContent, render
from classlens.tracking.log import replace_artifacts
from classlens.tracking.runs import RunRef, run_name, stage_run

TRUST_COLUMNS = [c for c in HEADLINE_COLUMNS if c != "flagged"]  # the flags column says it


# captions that depend on the task (a multi-label run's confusion is the cross-label one)
WORDS = {
    "rows": "Each row sums to 1: the diagonal is the recall of the true class.",
    "columns": "Each column sums to 1: the diagonal is the precision of the predicted class.",
    "counts": "Test images per (true, predicted) pair.",
    "against": "one class against the rest",
    "weak": "Weak classes and why",
    "weak_note": "Low precision: the model over-predicts the class (steals_from: the classes "
                 "whose images it takes). Low recall: its images go elsewhere (absorbed_by).",
    "confidence": "confidence",
    "confidence_note": "",
    "explained": "predicted-class probability",
    "reliability": "Reliability diagram before and after temperature scaling (bottom: "
                   "confidence histogram).",
}
MULTILABEL_WORDS = {
    "rows": "Row: a true label; a cell: the share of its images on which the column label was "
            "predicted without being true (instead of it, or as well); the diagonal: the share "
            "on which the label itself was found (its recall).",
    "columns": "The same counts, each column divided by its sum.",
    "counts": "Images carrying the row label on which the column label was predicted without "
              "being true; the diagonal: the row label found.",
    "against": "each label against its absence",
    "weak": "Weak labels and why",
    "weak_note": "Low precision: the label is predicted on images without it (alarms_on_images_of:"
                 " the labels those images carry). Low recall: it is missed (extras_on_its_images:"
                 " what is predicted on its images instead or as well).",
    "confidence": "certainty",
    "explained": "the explained label's probability",
    "confidence_note": "One row per (image, label) decision. Certainty: how far the label's "
                       "probability is from its threshold, as a share of the way to 0 or 1.",
    "reliability": "Reliability of every label's probability, pooled over labels and images "
                   "(bottom: how many probabilities fall in each bin).",
}


def collect(cfg: Config) -> ReportContent:
    """Read every input of the report (raises InputError naming a missing one)."""
    metrics = results.load(paths.ALL_METRICS)
    a = analysis = read_json(paths.ANALYSIS_SUMMARY)
    ref = RunRef.read(paths.RUN_REF)
    confusion = read_json(paths.CONFUSION_MATRIX)
    gate = read_json(paths.GATE_JSON) if paths.GATE_JSON.exists() else None
    calibration = metrics.calibration or {}
    scaled = calibration.get("temperature") or {}
    cal_rows = [
        {"": "as predicted", "ECE": calibration.get("ece"), "MCE": calibration.get("mce"),
         "adaptive ECE": calibration.get("adaptive_ece"), "NLL": calibration.get("nll"),
         "accuracy": metrics.accuracy},
        {"": f"temperature {scaled.get('value', float('nan')):.3f}", "ECE": scaled.get("ece"),
         "MCE": scaled.get("mce"), "adaptive ECE": scaled.get("adaptive_ece"),
         "NLL": scaled.get("nll"), "accuracy": scaled.get("accuracy")},
    ]
    words = MULTILABEL_WORDS if metrics.multilabel else WORDS
    if metrics.multilabel:  # no temperature: each label's ECE, and their mean in the headline
        cal_table = Table("Calibration per label", [
            {"label": name, "ECE": values.get("ece"), "support": values.get("support")}
            for name, values in metrics.per_class.items()],
            note=f"{calibration.get('n_bins')} equal-width bins of each label's probability "
                 "against its 0/1 truth; the headline ECE is their mean.")
    else:
        cal_table = Table("Calibration of the top-1 confidence", cal_rows,
                          note=f"{calibration.get('n_bins')} equal-width bins; adaptive "
                               "ECE uses as many equal-mass bins; the temperature is "
                               f"fitted on {scaled.get('n_validation')} validation "
                               "images and leaves every prediction unchanged.")
    trust_tables = []
    if paths.EXPLAIN_TRUST.exists():
        trust = read_json(paths.EXPLAIN_TRUST)
        trust_tables.append(Table(
            "Trust checks per method", trust_rows(trust, TRUST_COLUMNS),
            note=f"On {trust.get('images')} explained images. AUCs: {words['explained']} "
                 "as pixels are deleted (lower is better) or inserted (higher is better) in the "
                 "map's order; *_random: the same in random orders. spearman_final: rank "
                 "correlation with the maps of the fully re-initialised model (near 0 is "
                 "good). A method with flags did no better than random or barely depends on "
                 "the model: trust its maps least."))
    data_notes, data_tables, data_lists = data_part()
    methods, explain_others = explain_figures()
    name = run_name()
    return ReportContent(
        title=title(cfg, name),
        metrics=metrics,
        run={"run": name or "\u2014", "MLflow run id": ref.run_id,
             "MLflow experiment": f"{cfg.tracking.experiment} ({ref.experiment_id})",
             "params digest": ref.params_digest},
        per_class=Table(f"Metrics per {'label' if metrics.multilabel else 'class'}",
                        read_csv(paths.PER_CLASS, head=None).rows),
        analysis=analysis,
        gate=gate,
        notes={"training": training_part() + ([
            "Accuracy while training is label accuracy: the share of right (image, label) "
            "decisions at 0.5, before the thresholds were fitted."] if metrics.multilabel
            else []), "data": data_notes},
        class_galleries=class_galleries(metrics, analysis, confusion),
        figures={
            "training": figure_file(paths.TRAINING_CURVES, "Loss, accuracy and learning rate per "
                                "epoch on the training and validation splits.", width="full"),
            "data-row": figure_file(paths.PREPARED_REPORT / data_report.CLASS_COUNTS_PNG,
                                "Images per class in each split.", max_px=600),
            "data": (figure_file(paths.PREPARED_REPORT / data_report.SAMPLES_PNG, "The first training images "
                             "of each class, as prepared (resized, colour-converted).",
                             title="Samples", max_px=480)
                     + figure_file(paths.AUGMENT_PREVIEW, "Training images (left) and random "
                               "augmentations of each, as the model's augmentation layers apply "
                               "them during training only.", title="Augmentation preview",
                               max_px=620)),
            "per-class": figure_file(paths.PER_CLASS_F1_PNG, "F1 with bootstrap "
                                 "intervals."),
            "confusion": (figure_file(paths.CONFUSION_NORMALIZED_PNG, words["rows"],
                                      title="Row-normalised", max_px=560)
                          + figure_file(paths.CONFUSION_COLUMN_NORMALIZED_PNG, words["columns"],
                                        title="Column-normalised", max_px=560)),
            "confusion-more": figure_file(paths.CONFUSION_COUNTS_PNG, words["counts"],
                                          title="Counts"),
            "curves": (figure_file(paths.ROC_PNG, f"ROC, {words['against']}.", max_px=560)
                       + figure_file(paths.PR_PNG, f"Precision-recall, {words['against']}.",
                                     max_px=560)),
            "calibration": figure_file(paths.RELIABILITY_PNG, words["reliability"], max_px=720),
            "galleries": gallery_figures(analysis, ("errors", "correct")),
            "galleries-pairs": gallery_figures(analysis, ("pair",)),
            "label-suspects": gallery_figures(analysis, ("suspects",)),
            "explanations-methods": methods,
            "explanations": explain_others,
        },
        tables={
            "data": data_tables,
            "data-lists": data_lists,
            "confusion": [read_csv(paths.CONFUSED_PAIRS,
                                   "Most confused pairs (true \u2192 predicted)",
                                   "rate: share of the true class's images"),
                          read_csv(paths.CONFUSED_PAIRS_SYMMETRIC,
                                   "Most confused pairs (a \u2194 b)",
                                   "rate: errors either way over the images of both classes")],
            "calibration": [cal_table],
            "errors": [
                read_csv(paths.WEAK_CLASSES, words["weak"],
                         f"F1 below {a.get('weak_f1_floor')}. {words['weak_note']}"),
                read_csv(paths.CONFIDENTLY_WRONG, f"Confidently wrong ({words['confidence']} > "
                                                  f"{a.get('confidently_wrong_threshold')})",
                         words["confidence_note"]),
                read_csv(paths.LOW_CONFIDENCE, f"Low confidence ({words['confidence']} < "
                                               f"{a.get('low_confidence_threshold')})",
                         words["confidence_note"]),
            ],
            "label-suspects": [read_csv(paths.LABEL_SUSPECTS, f"Suspects ranked by "
                                    f"{a.get('suspect_score')}", "lower score = more suspicious")],
            "explanations": trust_tables,
        },
        model_card=completed_card(paths.MODEL_CARD, metrics, confusion=confusion),
    )


def run(cfg: Config) -> None:
    content = collect(cfg)
    page = render(content)
    with atomic_dir(paths.REPORT_DIR) as out:  # both files or neither
        write_text(out / paths.REPORT_MODEL_CARD.name, content.model_card)
        write_text(out / paths.REPORT.name, page)
    with stage_run(paths.RUN_REF, asdict(cfg)):
        replace_artifacts([paths.REPORT, paths.REPORT_MODEL_CARD], "report")
    print(f"report: {paths.REPORT} ({len(page) / 1e6:.1f} MB, "
          f"{len(content.figures.get('explanations-methods', []))} attribution methods)")
