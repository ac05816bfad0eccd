"""The experiment report: one self-contained HTML page (images embedded as base64, a few lines of
inline JavaScript to sort tables, nothing fetched from the network) built from results computed
by the evaluate, analyze and explain stages. This module only lays them out."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from classlens.evaluation.results import Metrics, MetricsLike
from classlens.formatting import format_value

SECTIONS = [
    ("summary", "Summary"),
    ("per-class", "Per class"),
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
class Figure:
    caption: str
    png: bytes


@dataclass
class Table:
    caption: str
    rows: list[dict]  # records; None shows as an em dash
    columns: Optional[list[str]] = None
    note: str = ""
    total: Optional[int] = None  # rows before truncation, when `rows` is the head of a list


@dataclass
class ReportContent:
    """Everything the report shows, already computed; each list may be empty."""

    title: str
    metrics: MetricsLike  # metrics.json (`results.Metrics`, or a dict in its layout)
    run: dict[str, str]  # run id, experiment, params digest... (shown as provenance)
    per_class: Table
    analysis: dict  # data/analysis/summary.json
    figures: dict[str, list[Figure]] = field(default_factory=dict)  # section id -> figures
    tables: dict[str, list[Table]] = field(default_factory=dict)  # section id -> tables
    model_card: str = ""  # Markdown (the completed model card); empty: none


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d232a;
 background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header .prov{font-size:12px;opacity:.85}nav{position:sticky;top:0;background:#fff;
 border-bottom:1px solid #dde1e6;padding:8px 28px;z-index:2}nav a{margin-right:14px;color:#1f3a5f;
 text-decoration:none;font-weight:600}main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 20px;margin:16px 0}
h2{margin:4px 0 12px;font-size:18px;color:#1f3a5f}h3{font-size:15px;margin:16px 0 6px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px}
.card{border:1px solid #dde1e6;border-radius:6px;padding:8px 12px;background:#fafbfc}
.card .k{font-size:12px;color:#5b6570}.card .v{font-size:20px;font-weight:650}
.card .ci{font-size:12px;color:#5b6570}table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid #e6e9ed;text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.t{text-align:left}th{background:#eef1f5;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:' \\2195';
 color:#9aa4ae}table.sortable th.asc:after{content:' \\25B2';color:#1f3a5f}
table.sortable th.desc:after{content:' \\25BC';color:#1f3a5f}tr.weak td{background:#fff3f0}
.scroll{max-height:560px;overflow:auto;border:1px solid #e6e9ed;border-radius:4px;
 display:inline-block;max-width:100%}
figure{margin:8px 0 16px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#5b6570}.note{color:#5b6570;font-size:12px}.empty{color:#8a949e;
 font-style:italic}.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));
 gap:12px}
.md table td,.md table th{text-align:left;white-space:normal}.md h1{font-size:17px}
.md h2{font-size:15px;color:#1d232a}
"""

# Click a header to sort by that column (numbers numerically, an em dash last); the page also
# honours `#sort=<table id>:<column>:<asc|desc>` so a link (and the tests) can open it sorted.
_SCRIPT = """
(function(){
function key(td){var t=td.getAttribute('data-v');if(t===null)t=td.textContent;
 var n=parseFloat(t);return isNaN(n)?t:n;}
function sortTable(table,col,dir){var body=table.tBodies[0];
 var rows=Array.prototype.slice.call(body.rows);
 rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
  var ex=(x==='\\u2014'),ey=(y==='\\u2014');if(ex||ey)return ex===ey?0:(ex?1:-1);
  if(typeof x===typeof y)return (x<y?-1:x>y?1:0)*dir;return (typeof x==='number'?-1:1)*dir;});
 rows.forEach(function(r){body.appendChild(r);});
 Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
  th.classList.remove('asc','desc');if(i===col)th.classList.add(dir>0?'asc':'desc');});
 table.setAttribute('data-sorted',table.tHead.rows[0].cells[col].textContent+':'+
  (dir>0?'asc':'desc'));}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(table){
 Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
  th.addEventListener('click',function(){sortTable(table,i,th.classList.contains('asc')?-1:1);});
 });});
var m=/sort=([^:]+):([^:]+):(asc|desc)/.exec(decodeURIComponent(location.hash));
if(m){var t=document.getElementById(m[1]);if(t){var heads=t.tHead.rows[0].cells;
 for(var i=0;i<heads.length;i++){if(heads[i].textContent===m[2]){
  sortTable(t,i,m[3]==='asc'?1:-1);}}}}
document.body.setAttribute('data-report-ready','1');
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(table: Table, *, table_id: str = "", sortable: bool = False,
           highlight: Sequence[str] = ()) -> str:
    if not table.rows:
        return f"<h3>{_e(table.caption)}</h3><p class='empty'>none</p>"
    columns = table.columns or list(table.rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in table.rows:
        cells = []
        for c in columns:
            value = row.get(c)
            sort_value = "" if value is None or not isinstance(value, (int, float)) else (
                f" data-v='{value!r}'")
            text = "" if isinstance(value, (int, float)) or value is None else " class='t'"
            cells.append(f"<td{sort_value}{text}>{_e(format_value(value))}</td>")
        first = str(row.get(columns[0]))
        css = " class='weak'" if first in highlight else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    attrs = (f" id='{_e(table_id)}'" if table_id else "") + (" class='sortable'" if sortable else "")
    shown = (f" (first {len(table.rows)} of {table.total})"
             if table.total is not None and table.total > len(table.rows) else "")
    note = f"<p class='note'>{_e(table.note)}</p>" if table.note else ""
    return (f"<h3>{_e(table.caption)}{_e(shown)}</h3>{note}<div class='scroll'><table{attrs}>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (f"<figure><img alt='{_e(figure.caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{_e(figure.caption)}</figcaption></figure>")


def _figures(content: ReportContent, section: str, *, empty: str = "no figures") -> str:
    figures = content.figures.get(section, [])
    if not figures:
        return f"<p class='empty'>{_e(empty)}</p>"
    return "<div class='grid2'>" + "".join(_figure(f) for f in figures) + "</div>"


def _tables(content: ReportContent, section: str) -> str:
    return "".join(_table(t) for t in content.tables.get(section, []))


def _card(label: str, value: Any, interval: Optional[tuple] = None, title: str = "") -> str:
    ci = ""
    if interval and interval[0] is not None:
        ci = f"<div class='ci'>[{interval[0]:.4f}, {interval[1]:.4f}]</div>"
    tip = f" title='{_e(title)}'" if title else ""
    return (f"<div class='card'{tip}><div class='k'>{_e(label)}</div>"
            f"<div class='v'>{_e(format_value(value))}</div>{ci}</div>")


def _summary(content: ReportContent) -> str:
    m, a = Metrics.of(content.metrics), content.analysis
    headline = m.headline
    cal = m.calibration or {}
    scaled = cal.get("temperature") or {}
    undefined = m.undefined
    cards = [
        _card("accuracy", m.accuracy, m.interval("accuracy")),
        _card("macro F1", m.average("macro_avg", "f1"), m.interval("macro_avg.f1")),
        _card("balanced accuracy", headline.get("balanced_accuracy")),
    ]
    cards += [_card(key.replace("_", " "), value) for key, value in m.top_k()[:1]]
    cards += [
        _card("log loss", headline.get("log_loss")),
        _card("Cohen's kappa", headline.get("cohen_kappa"),
              title=undefined.get("cohen_kappa", "")),
        _card("ROC AUC (one-vs-rest, macro)", headline.get("roc_auc_ovr_macro"),
              title=undefined.get("roc_auc_ovr_macro", "")),
        _card("ECE (15 bins)" if cal.get("n_bins") == 15 else "ECE", cal.get("ece")),
        _card("ECE after temperature", scaled.get("ece")),
        _card("temperature (fit on validation)", scaled.get("value")),
        _card("test images", m.n_samples),
        _card("misclassified", a.get("n_misclassified")),
        _card("weak classes", len(a.get("weak_classes", []))),
        _card("label suspects", a.get("n_label_suspects")),
    ]
    boot = m.bootstrap
    ci_note = (f"Brackets: {boot.level_text} percentile bootstrap intervals ({boot.resamples} "
               f"resamples, seed {boot.seed})." if boot is not None and boot.level else "")
    weak = a.get("weak_classes", [])
    weak_line = (f"<p><b>Weak classes</b> (F1 below {a.get('weak_f1_floor')}): "
                 f"{_e(', '.join(weak))} \u2014 see Errors.</p>" if weak else
                 f"<p>No class has F1 below {a.get('weak_f1_floor')}.</p>")
    undefined_list = "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>"
                             for k, v in undefined.items())
    undefined_html = (f"<details><summary>{len(undefined)} undefined number(s), shown as "
                      f"\u2014</summary><ul>{undefined_list}</ul></details>" if undefined else "")
    return (f"<div class='cards'>{''.join(cards)}</div><p class='note'>{_e(ci_note)}</p>"
            f"{weak_line}{undefined_html}")


def _markdown(text: str) -> str:
    """Markdown (CommonMark plus tables) to HTML with markdown-it-py; raw HTML in the text is
    escaped, not passed through. HTML comments and <details>/<summary> folds (the model card's
    section markers and its collapsed layer table on GitHub) are dropped first, so they do not
    show as text; the page shows everything unfolded."""
    import re

    from markdown_it import MarkdownIt

    text = re.sub(r"<!--.*?-->|</?details>|<summary>.*?</summary>", "", text, flags=re.S)
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def render(content: ReportContent) -> str:
    """The report as one HTML string."""
    weak = content.analysis.get("weak_classes", [])
    body = {
        "summary": _summary(content),
        "per-class": ("<p class='note'>Click a column header to sort. Rows of weak classes are "
                      "tinted. f1_low/f1_high: bootstrap interval.</p>"
                      + _table(content.per_class, table_id="per-class-table", sortable=True,
                               highlight=weak)
                      + _figures(content, "per-class", empty="")),
        "confusion": _figures(content, "confusion") + _tables(content, "confusion"),
        "curves": _figures(content, "curves"),
        "calibration": _tables(content, "calibration") + _figures(content, "calibration"),
        "errors": _tables(content, "errors"),
        "galleries": "".join(
            f"<h3>{_e(key.split(':', 1)[1])}</h3>" + _figures(content, key)
            for key in content.figures if key.startswith("galleries:")
        ) or "<p class='empty'>no galleries</p>",
        "label-suspects": ("<p class='note'>Images whose given label the model finds "
                           "implausible (confident-learning style thresholds per class). They "
                           "are suspects to review, not verdicts.</p>"
                           + _tables(content, "label-suspects")
                           + _figures(content, "label-suspects", empty="no suspects")),
        "explanations": _tables(content, "explanations") + _figures(
            content, "explanations", empty="no explanation figures (run the explain stage)"),
        "model-card": (f"<div class='md'>{_markdown(content.model_card)}</div>"
                       if content.model_card else "<p class='empty'>no model card</p>"),
    }
    nav = "".join(f"<a href='#{sid}'>{_e(title)}</a>" for sid, title in SECTIONS)
    sections = "".join(f"<section id='{sid}'><h2>{_e(title)}</h2>{body[sid]}</section>"
                       for sid, title in SECTIONS)
    prov = " \u00b7 ".join(f"{_e(k)}: {_e(v)}" for k, v in content.run.items())
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{_e(content.title)}</title><style>{_STYLE}</style></head><body>"
            f"<header><h1>{_e(content.title)}</h1><div class='prov'>{prov}</div></header>"
            f"<nav>{nav}</nav><main>{sections}</main><script>{_SCRIPT}</script></body></html>\n")
