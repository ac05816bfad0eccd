"""The report's parts that depend on the task: a multi-label run's headline cards, and the
Decisions section of binary and multi-label runs (the fitted thresholds against a fixed 0.5, and
binary's operating point). Laid out from all_metrics.json alone (`results.Metrics`)."""

from __future__ import annotations

from typing import Optional

from classlens.evaluation.results import Metrics
from classlens.formatting import format_number
from classlens.reporting.html import Table, card_html, esc, table_html


def multilabel_cards(m: Metrics, analysis: dict, interval) -> tuple[list[str], list[str]]:
    """(big, small) headline cards of a multi-label run; `interval(path)` gives a card's
    interval line. The gate card is added by the caller."""
    h, cal = m.headline, m.calibration or {}
    big = [
        card_html("exact match (accuracy)", m.accuracy, interval("accuracy"),
                  tip="share of test images whose predicted label set is exactly the true one"),
        card_html("macro F1 (over labels)", m.average("macro_avg", "f1"),
                  interval("macro_avg.f1")),
        card_html("mAP", h.get("mean_average_precision"), interval("mean_average_precision"),
                  tip="mean over labels of average precision (threshold-free)"),
        card_html("test images (n)", m.n_samples, name="n_samples"),
        card_html("ECE (mean over labels)", cal.get("ece")),
    ]
    weakest = m.weakest_class()
    small = [
        card_html("micro F1", m.average("micro_avg", "f1"), interval("micro_avg.f1")),
        card_html("samples F1", m.average("samples_avg", "f1")),
        card_html("Hamming loss", h.get("hamming_loss"),
                  tip="share of wrong (image, label) decisions"),
        card_html("labels per image", h.get("label_cardinality_true"),
                  f"predicted {format_number(h.get('label_cardinality_predicted'))}"),
        card_html("images without a label", h.get("no_true_label_fraction"),
                  f"predicted {format_number(h.get('no_predicted_label_fraction'))}"),
        card_html("weakest label", weakest[0], f"F1 {format_number(weakest[1])}")
        if weakest else "",
        card_html("not exactly right", analysis.get("n_misclassified"),
                  name="n_misclassified"),
        card_html("label suspects", analysis.get("n_label_suspects"), name="n_label_suspects"),
    ]
    return big, small


def binary_cards(m: Metrics) -> list[str]:
    """The operating point's rates as small cards (binary runs)."""
    point = m.averages.get("operating_point") or {}
    if not point:
        return []
    at = f"at threshold {format_number(point.get('threshold'))}"
    return [card_html("recall (TPR)", point.get("tpr"), at),
            card_html("false-positive rate", point.get("fpr"), at),
            card_html("specificity", point.get("specificity"), at)]


def decisions_html(m: Metrics) -> Optional[str]:
    """The Decisions section, or None for a multi-class run (argmax decides, no threshold)."""
    untuned = m.averages.get("untuned")
    if not untuned:
        return None
    point = m.averages.get("operating_point")
    if point:  # binary: the positive class is the one the operating point counts
        positive = _positive_class(m, point)
        tuned = m.per_class.get(positive, {})
        rows = [{"": "fitted threshold", "threshold": point.get("threshold"),
                 "accuracy": m.accuracy, "F1": tuned.get("f1"),
                 "precision": tuned.get("precision"), "recall": tuned.get("recall")},
                {"": "fixed 0.5", "threshold": untuned.get("threshold"),
                 "accuracy": untuned.get("accuracy"), "F1": untuned.get("f1"),
                 "precision": untuned.get("precision"), "recall": untuned.get("recall")}]
        matrix = [{"": f"true {positive}", f"predicted {positive}": point.get("tp"),
                   "predicted other": point.get("fn"), "rate": f"TPR {_n(point.get('tpr'))}"},
                  {"": "true other", f"predicted {positive}": point.get("fp"),
                   "predicted other": point.get("tn"),
                   "rate": f"FPR {_n(point.get('fpr'))}, specificity "
                           f"{_n(point.get('specificity'))}"}]
        tables = [Table(f"Tuned against 0.5 (positive class {positive})", rows,
                        note="The fitted threshold comes from the validation split; both rows "
                             "are scored on the test split."),
                  Table("The 2x2 at the fitted threshold", matrix,
                        note=f"precision {_n(point.get('precision'))}")]
    else:
        rows = [{"": "fitted thresholds", "exact match": m.accuracy,
                 "macro F1": m.average("macro_avg", "f1"),
                 "micro F1": m.average("micro_avg", "f1")},
                {"": "every label at 0.5", "exact match": untuned.get("accuracy"),
                 "macro F1": untuned.get("f1_macro"), "micro F1": untuned.get("f1_micro")}]
        thresholds = [{"label": name, "threshold": values.get("threshold"),
                       "F1": values.get("f1"), "support": values.get("support")}
                      for name, values in m.per_class.items()]
        tables = [Table("Tuned against 0.5", rows,
                        note="Each label's threshold was fitted on the validation split; both "
                             "rows are scored on the test split."),
                  Table("Threshold per label", thresholds)]
    return ("<p class='note'>A label is predicted when its probability reaches its threshold; "
            "the model card says how the thresholds were fitted.</p><div class='row'>"
            + "".join(table_html(t) for t in tables) + "</div>")


def _positive_class(m: Metrics, point: dict) -> str:
    """The class the operating point counts as positive (per_class is in class order)."""
    names = list(m.per_class)
    return names[int(point.get("positive_index", 1))]


def _n(value) -> str:
    return esc(format_number(value))
