"""The experiment report: one self-contained HTML page built from results the stages computed
(evaluate, analyze, explain, gate, train, prepare). This module only lays them out: a headline
block (test accuracy and macro F1 with their intervals, n, ECE, the gate's verdict), then one
section per topic. An empty part says so once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from classlens.evaluation.results import Metrics, MetricsLike
from classlens.formatting import format_number, format_value, plural
from classlens.reporting.html import (
    Figure,
    Table,
    card_html,
    esc,
    figure_html,
    figures_html,
    markdown_html,
    page_html,
    table_html,
)
from classlens.reporting.report_galleries import ClassGalleries, galleries_html
from classlens.reporting.report_tasks import binary_cards, decisions_html, multilabel_cards

SECTIONS = [
    ("summary", "Summary"),
    ("gate", "Gate"),
    ("training", "Training"),
    ("data", "Data"),
    ("per-class", "Per class"),
    ("decisions", "Decisions"),  # binary and multi-label: thresholds (report_tasks)
    ("confusion", "Confusion"),
    ("curves", "ROC and precision-recall"),
    ("calibration", "Calibration"),
    ("errors", "Errors"),
    ("galleries", "Galleries"),
    ("label-suspects", "Label suspects"),
    ("explanations", "Explanations"),
    ("model-card", "Model card"),
]


@dataclass
class ReportContent:
    """Everything the report shows, already computed; each part may be empty."""

    title: str
    metrics: MetricsLike  # the full evaluation result (`results.Metrics`, or a dict in its layout)
    run: dict[str, str]  # run name, MLflow run id, params digest... (shown as provenance)
    per_class: Table
    analysis: dict  # data/analysis/summary.json
    figures: dict[str, list[Figure]] = field(default_factory=dict)  # section id -> figures
    tables: dict[str, list[Table]] = field(default_factory=dict)  # section id -> tables
    notes: dict[str, list[str]] = field(default_factory=dict)  # section id -> sentences on top
    gate: Optional[dict] = None  # data/gate/gate.json; None: the gate has not run
    class_galleries: list[ClassGalleries] = field(default_factory=list)
    model_card: str = ""  # Markdown (the completed model card); empty: none


def _interval_text(m: Metrics, path: str) -> str:
    interval = m.interval(path)
    if not interval or interval[0] is None or interval[1] is None:
        return ""
    return f"{m.interval_label} {interval[0]:.4f}\u2013{interval[1]:.4f}"


def _gate_card(gate: Optional[dict]) -> str:
    if gate is None:
        return card_html("gate", "not run", tip="the gate stage writes data/gate/gate.json")
    verdict = str(gate.get("verdict", "unusable"))
    if verdict == "unusable":
        return card_html("gate verdict", "not judged", "see Gate", tone="unusable",
                         tip=gate.get("reason", ""))
    failed, warned = len(gate.get("failed", [])), len(gate.get("warned", []))
    sub = f"vs {gate.get('baseline', '?')} \u00b7 {failed} failed, {warned} warned"
    return card_html("gate verdict", verdict, sub, tone=verdict)


def _summary(content: ReportContent) -> str:
    m, a = Metrics.of(content.metrics), content.analysis
    headline, undefined = m.headline, m.undefined
    cal = m.calibration or {}
    scaled = cal.get("temperature") or {}
    note = m.calibration_note()
    ece_sub = (f"after temperature scaling: {format_number(scaled.get('ece'))}"
               if scaled.get("ece") is not None else "")
    big = [
        card_html("test accuracy", m.accuracy, _interval_text(m, "accuracy")),
        card_html("macro F1", m.average("macro_avg", "f1"), _interval_text(m, "macro_avg.f1")),
        card_html("test images (n)", m.n_samples, name="n_samples"),
        card_html(f"ECE ({cal.get('n_bins')} bins, as predicted)" if cal.get("n_bins") else "ECE",
                  cal.get("ece"), ece_sub),
        _gate_card(content.gate),
    ]
    weakest = m.weakest_class()
    if m.multilabel:
        big, small = multilabel_cards(m, a, lambda path: _interval_text(m, path))
        big.append(_gate_card(content.gate))
        return _summary_html(m, a, big, small, undefined, note)
    small = [card_html("balanced accuracy", headline.get("balanced_accuracy"))]
    small += [card_html(key.replace("_", " "), value) for key, value in m.top_k()[:1]]
    small += [
        card_html("log loss", headline.get("log_loss")),
        card_html("Cohen's kappa", headline.get("cohen_kappa"),
                  tip=undefined.get("cohen_kappa", "")),
        card_html("ROC AUC (one-vs-rest, macro)", headline.get("roc_auc_ovr_macro"),
                  tip=undefined.get("roc_auc_ovr_macro", "")),
        card_html("temperature (fit on validation)", scaled.get("value")),
        card_html("weakest class", weakest[0], f"F1 {format_number(weakest[1])}")
        if weakest else "",
        card_html("misclassified", a.get("n_misclassified"), name="n_misclassified"),
        card_html("label suspects", a.get("n_label_suspects"), name="n_label_suspects"),
        *binary_cards(m),
    ]
    return _summary_html(m, a, big, small, undefined, note)


def _summary_html(m: Metrics, a: dict, big: list[str], small: list[str], undefined: dict,
                  note: str) -> str:
    boot = m.bootstrap
    ci_note = (f"Intervals: {boot.level_text} percentile bootstrap ({boot.resamples} "
               f"resamples of the test split, seed {boot.seed})." if boot and boot.level else "")
    weak = a.get("weak_classes", [])
    floor = format_value(a.get("weak_f1_floor"), compact=True)
    kind = ("weak label", "weak labels") if m.multilabel else ("weak class", "weak classes")
    weak_line = (f"<p><b>{esc(plural(len(weak), *kind))}</b> (F1 below "
                 f"{esc(floor)}): {esc(', '.join(weak))} \u2014 see Errors.</p>" if weak else
                 f"<p>No class has F1 below {esc(floor)}.</p>" if a.get("weak_f1_floor") else "")
    undefined_list = "".join(f"<li><code>{esc(k)}</code>: {esc(v)}</li>"
                             for k, v in undefined.items())
    undefined_html = (f"<details><summary>{esc(plural(len(undefined), 'undefined number'))}, "
                      f"shown as \u2014</summary><ul>{undefined_list}</ul></details>"
                      if undefined else "")
    callout = f"<p class='callout'>{esc(note)}</p>" if note else ""
    return (f"<div class='cards big'>{''.join(big)}</div>{callout}"
            f"<div class='cards'>{''.join(small)}</div><p class='note'>{esc(ci_note)}</p>"
            f"{weak_line}{undefined_html}")


def _gate(content: ReportContent) -> str:
    gate = content.gate
    if gate is None:
        return "<p class='empty'>The gate has not run (no data/gate/gate.json).</p>"
    verdict = str(gate.get("verdict", "unusable"))
    if verdict == "unusable":
        return (f"<p><span class='badge unusable'>not judged</span> "
                f"{esc(gate.get('reason', ''))}</p>")
    order = {"fail": 0, "warn": 1, "pass": 2}
    rows = [{**r, "change": format_number(r.get("change"), name="change", signed=True)}
            for r in sorted(gate.get("rows", []), key=lambda r: order.get(r.get("verdict"), 3))]
    columns = ["metric", "baseline", "now", "change", "limit", "verdict"]
    if any(r.get("reason") for r in rows):
        columns.append("reason")
    failed, warned = gate.get("failed", []), gate.get("warned", [])
    said = (f"{plural(len(rows), 'rule')} checked against {gate.get('baseline', '?')}: "
            f"{len(failed)} failed, {len(warned)} warned.")
    return (f"<p class='lead'><span class='badge {esc(verdict)}'>{esc(verdict)}</span> "
            f"{esc(said)}</p>" + table_html(Table("", rows, columns=columns), heading=False))


def _notes(content: ReportContent, sid: str) -> str:
    return "".join(f"<p>{esc(line)}</p>" for line in content.notes.get(sid, []))


def _tables(content: ReportContent, sid: str, *, side_by_side: bool = False) -> str:
    parts = [table_html(t) for t in content.tables.get(sid, [])]
    return f"<div class='row'>{''.join(parts)}</div>" if side_by_side and parts else "".join(parts)


def _figs(content: ReportContent, sid: str, empty: str = "") -> str:
    return figures_html(content.figures.get(sid, []), empty=empty)


def _label_suspects(content: ReportContent) -> str:
    n = content.analysis.get("n_label_suspects")
    intro = ("<p class='note'>Annotations the model finds implausible, each label taken as a "
             "yes/no task (confident-learning thresholds per label): a given label it finds "
             "improbable (suggestion: remove) or an absent one it finds probable (add). "
             "Suspects to review, not verdicts.</p>" if Metrics.of(content.metrics).multilabel
             else "<p class='note'>Images whose given label the model finds implausible "
             "(confident-learning thresholds per class): suspects to review, not verdicts.</p>")
    if not n:
        return intro + "<p class='empty'>No label suspects.</p>"
    return intro + _tables(content, "label-suspects") + _figs(content, "label-suspects")


def _explanations(content: ReportContent) -> str:
    """The trust table, then one attribution figure per method behind tabs (one shown at a
    time, at its drawn size), then the figures comparing the methods."""
    methods = content.figures.get("explanations-methods", [])
    others = content.figures.get("explanations", [])
    if not methods and not others:
        return (_tables(content, "explanations")
                + "<p class='empty'>no explanation figures (run the explain stage)</p>")
    tabs = ""
    if methods:
        heads = "".join(
            f"<input type='radio' name='method' id='method-{i}'{' checked' if i == 0 else ''}>"
            f"<label for='method-{i}'>{esc(f.title or f'method {i + 1}')}</label>"
            for i, f in enumerate(methods))
        panels = "".join(f"<div class='panel'>{figure_html(f)}</div>" for f in methods)
        tabs = (f"<h3>Attribution maps, one method at a time</h3><div class='tabs'>{heads}"
                f"{panels}</div>")
    return _tables(content, "explanations") + tabs + figures_html(others)


def render(content: ReportContent) -> str:
    """The report as one HTML string."""
    weak = content.analysis.get("weak_classes", [])
    per_class = table_html(content.per_class, table_id="per-class-table", sortable=True,
                           highlight=weak)
    body = {
        "summary": _summary(content),
        "gate": _gate(content),
        "training": _notes(content, "training") + _figs(content, "training",
                                                        "no training curves"),
        "data": (_notes(content, "data") + "<div class='row'>" + _tables(content, "data")
                 + "".join(figure_html(f) for f in content.figures.get("data-row", []))
                 + "</div>" + _tables(content, "data-lists") + _figs(content, "data")),
        "decisions": decisions_html(Metrics.of(content.metrics)),
        "per-class": ("<p class='note'>Click a column header to sort. Rows of weak ones are "
                      "tinted. f1_low/f1_high: bootstrap interval.</p>"
                      f"<div class='row'>{per_class}"
                      f"{''.join(figure_html(f) for f in content.figures.get('per-class', []))}"
                      "</div>"),
        "confusion": (_figs(content, "confusion", "no confusion matrices")
                      + "".join(f"<details><summary>{esc(f.title or f.caption)}</summary>"
                                f"{figure_html(f)}</details>"
                                for f in content.figures.get("confusion-more", []))
                      + _tables(content, "confusion", side_by_side=True)),
        "curves": _figs(content, "curves", "no curves"),
        "calibration": (_notes(content, "calibration") + "<div class='row'>"
                        + _tables(content, "calibration")
                        + "".join(figure_html(f) for f in content.figures.get("calibration", []))
                        + "</div>"),
        "errors": _tables(content, "errors"),
        "galleries": galleries_html(content.figures.get("galleries", []),
                                    content.figures.get("galleries-pairs", []),
                                    content.class_galleries,
                                    multilabel=Metrics.of(content.metrics).multilabel),
        "label-suspects": _label_suspects(content),
        "explanations": _explanations(content),
        "model-card": (f"<div class='md'>{markdown_html(content.model_card)}</div>"
                       if content.model_card else "<p class='empty'>no model card</p>"),
    }
    prov = " \u00b7 ".join(f"{esc(k)}: {esc(v)}" for k, v in content.run.items())
    label = "label" if Metrics.of(content.metrics).multilabel else "class"  # section titles
    return page_html(content.title, prov, [(sid, name.replace("class", label), body[sid])
                                           for sid, name in SECTIONS if body[sid] is not None])
