"""The compare page's two renderings of a `compare_page.Comparison`: Markdown (printed; pasted
into a pull request the full table folds away) and one self-contained HTML page in the report's
look. Sections in reading order: headline (with each run's gate verdict), params that differ,
classes that moved, confusion matrices side by side, prediction flips, then every number,
collapsed. Every number goes through `formatting.format_number` (by kind: counts as integers,
learning rates in scientific notation, rates to 4 decimals)."""

from __future__ import annotations

import math
from typing import Any, Optional

from classlens.analysis.galleries import image_count
from classlens.evaluation.gate import infer_direction
from classlens.formatting import format_number, number_kind
from classlens.naming import markdown_text
from classlens.reporting.html import Figure, esc, figure_html

FLIP_ROWS = 20  # rows of each flip table shown (the count is always the full one)
NEUTRAL = ("n_samples",)
SECTIONS = [("headline", "Headline"), ("params", "Params that differ"),
            ("classes", "Classes whose F1 moved most"), ("confusion", "Confusion matrices"),
            ("flips", "Prediction flips"), ("all-metrics", "All metrics")]

# The report's palette and card layout (reporting/html.py), for the compare page's own parts.
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d232a;
 background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:18px 28px}header h1{margin:0 0 6px;font-size:22px}
header .prov{font-size:12px;opacity:.9;line-height:1.6}nav{position:sticky;top:0;background:#fff;
 border-bottom:1px solid #dde1e6;padding:8px 28px;z-index:2}nav a{margin-right:14px;color:#1f3a5f;
 text-decoration:none;font-weight:600}main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 20px;margin:16px 0}
h2{margin:4px 0 12px;font-size:18px;color:#1f3a5f}h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid #e6e9ed;text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.t,th.t{text-align:left}th{background:#eef1f5;position:sticky;top:0}
table.headline td{font-size:15px;padding:6px 14px}table.headline td .v{font-weight:650}
table.headline th{font-size:13px;padding:6px 14px}
.ci{font-size:12px;color:#5b6570;margin-left:6px}.better{color:#1a7f37}.worse{color:#b42318}
.chip{display:inline-block;border-radius:10px;padding:1px 9px;font-weight:600;font-size:12px;
 background:#eef1f5;color:#1d232a}.chip.pass{background:#dcf5e3;color:#1a7f37}
.chip.fail{background:#fde2e0;color:#b42318}.chip.warn{background:#fff1cc;color:#8a5a00}
.scroll{max-height:560px;overflow:auto;border:1px solid #e6e9ed;border-radius:4px;
 display:inline-block;max-width:100%}
figure{margin:8px 0 16px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#5b6570}.note{color:#5b6570;font-size:12px}.empty{color:#8a949e;
 font-style:italic}.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));
 gap:12px}details summary{cursor:pointer;font-weight:600;color:#1f3a5f}
"""


def _interval(interval: Optional[tuple], name: str, *, signed: bool = False) -> str:
    if not interval or interval[0] is None or interval[1] is None:
        return ""
    low, high = (format_number(v, name=name, signed=signed) for v in interval)
    return f"[{low}, {high}]"


def _headline_cells(row) -> list[tuple[str, str, bool]]:
    """(value, interval, is the change) texts of a headline row's A, B and change cells."""
    return [(format_number(value, name=row.path, signed=signed),
             _interval(interval, row.path, signed=signed), signed)
            for value, interval, signed in ((row.a, row.a_interval, False),
                                            (row.b, row.b_interval, False),
                                            (row.change, row.change_interval, True))]


def _direction(row) -> str:
    """"better", "worse" or "" for the change of a headline row."""
    if row.change is None or row.change == 0 or row.path in NEUTRAL:
        return ""
    return "better" if (row.change < 0) == (infer_direction(row.path) == "lower") else "worse"


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _cells(frame, limit: Optional[int] = None) -> tuple[list[str], list[bool], list[list[str]]]:
    """Column names, whether each column holds numbers (right-aligned), and the rows' texts.
    Columns empty in every row are left out (e.g. `path` for images from arrays). In a table
    with a `metric` column the A, B and change cells are formatted by the row's metric name,
    elsewhere by the column name."""
    if frame is None or not len(frame):
        return [], [], []
    columns = [c for c in frame.columns if not frame[c].map(_empty).all()]
    numeric = [any(number_kind(v) != "text" for v in frame[c]) for c in columns]
    rows = []
    for record in frame.head(limit).to_dict("records"):
        by_row = "metric" in record
        rows.append([format_number(record[c], signed=c == "change",
                                   name=str(record["metric"]) if by_row and c in ("A", "B",
                                                                                  "change")
                                   else str(c)) for c in columns])
    return columns, numeric, rows


def _shown(frame, limit: Optional[int]) -> str:
    return f" (first {limit} of {len(frame)})" if limit and len(frame) > limit else ""


# ---------------------------------------------------------------- Markdown


def _md_table(frame, limit: Optional[int] = None) -> str:
    columns, numeric, rows = _cells(frame, limit)
    if not columns:
        return "_none_"
    align = ["---:" if number else ":---" for number in numeric]
    lines = ["| " + " | ".join(markdown_text(c) for c in columns) + " |",
             "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(markdown_text(text) for text in row) + " |" for row in rows]
    shown = _shown(frame, limit)
    return "\n".join(lines) + (f"\n\n_{shown.strip(' ()')}_" if shown else "")


def to_markdown(c, *, full_table: bool = True) -> str:
    """The comparison as Markdown; `full_table=False` (a terminal) leaves every-number table
    out with one line saying so (the written compare.md and compare.html hold it)."""
    md = markdown_text  # every name from the runs (labels, classes, params) shows as written
    out = [f"## Compare A = {md(c.a.label)} vs B = {md(c.b.label)}", "", "### Headline", "",
           "| metric | A | B | change B − A |", "|:---|---:|---:|---:|"]
    for row in c.headline:
        cells = (f"{value} {interval}".strip() for value, interval, _ in _headline_cells(row))
        out.append(f"| {md(row.label)} | " + " | ".join(cells) + " |")
    out += ["", _method_note(c), "",
            f"Gate verdict: A {md(c.a.gate_text)}; B {md(c.b.gate_text)}", ""]
    out += [f"_Note: {md(note)}_\n" for note in c.notes]
    out += ["### Params that differ", "", _md_table(c.params), "",
            "### Classes whose F1 moved most", "", _md_table(c.movers), ""]
    if c.confusion_movers is not None:
        out += ["### Confusions that moved most (row-normalised rates)", "",
                _md_table(c.confusion_movers), ""]
    out += [f"### Right → wrong ({image_count(len(c.right_to_wrong))})", "",
            _md_table(c.right_to_wrong, FLIP_ROWS), "",
            f"### Wrong → right ({image_count(len(c.wrong_to_right))})", "",
            _md_table(c.wrong_to_right, FLIP_ROWS), ""]
    out += [f"_Gallery: {md(c.gallery_note)}_", ""] if c.gallery_note else []
    if not full_table:
        return "\n".join(out + [f"_All metrics ({len(c.metrics)}): in compare.md and "
                                 "compare.html_", ""])
    out += [f"<details><summary>All metrics ({len(c.metrics)})</summary>", "",
            _md_table(c.metrics), "", "</details>", ""]
    return "\n".join(out)


def _method_note(c) -> str:
    """How the intervals and the change were computed, in one paragraph."""
    boot = c.a.metrics.bootstrap or c.b.metrics.bootstrap
    parts = []
    if boot is not None and boot.level:
        parts.append(f"A and B: {boot.level_text} percentile bootstrap intervals of each run "
                     f"({boot.resamples} resamples).")
    p = c.paired
    if p is not None:
        if p.intervals:
            parts.append(f"Change: paired bootstrap over the {p.n} test images both runs "
                         f"predicted (the same {p.resamples} resamples for A and B).")
        test = (f"exact McNemar p = {format_number(p.mcnemar_p)}" if p.mcnemar_p is not None
                else "no test (no image flipped)")
        parts.append(f"{image_count(p.right_to_wrong)} went right → wrong and "
                     f"{image_count(p.wrong_to_right)} wrong → right: {test}.")
    return " ".join(parts)


# ---------------------------------------------------------------- HTML


def _html_table(frame, limit: Optional[int] = None, *, table_class: str = "") -> str:
    columns, numeric, rows = _cells(frame, limit)
    if not columns:
        return "<p class='empty'>none</p>"
    left = ["" if number else " class=t" for number in numeric]
    head = "".join(f"<th{css}>{esc(col)}</th>" for css, col in zip(left, columns))
    body = "".join("<tr>" + "".join(f"<td{css}>{esc(text)}</td>" for css, text in zip(left, row))
                   + "</tr>" for row in rows)
    css = f" class='{table_class}'" if table_class else ""
    return (f"<p class='note'>{esc(_shown(frame, limit).strip(' ()'))}</p>" if _shown(frame, limit)
            else "") + (f"<div class='scroll'><table{css}><thead><tr>{head}</tr></thead>"
                        f"<tbody>{body}</tbody></table></div>")


def _figure(png: bytes, caption: str) -> str:
    return figure_html(Figure(caption, png))


def _chip(verdict_text: str) -> str:
    kind = verdict_text.split(":")[0].split(" ")[0]
    css = kind if kind in ("pass", "fail", "warn") else ""
    return f"<span class='chip {css}'>{esc(verdict_text)}</span>"


def _headline_html(c) -> str:
    rows = []
    for row in c.headline:
        cells = []
        for value, ci, signed in _headline_cells(row):
            css = f" {_direction(row)}" if signed else ""
            cells.append(f"<td><span class='v{css}'>{esc(value)}</span>"
                         f"{f'<span class=ci>{esc(ci)}</span>' if ci else ''}</td>")
        rows.append(f"<tr><td class='t'>{esc(row.label)}</td>{''.join(cells)}</tr>")
    notes = "".join(f"<p class='note'>{esc(n)}</p>" for n in c.notes)
    return ("<table class='headline'><thead><tr><th>metric</th><th>A</th><th>B</th>"
            f"<th>change B − A</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p class='note'>{esc(_method_note(c))}</p>"
            f"<p>Gate verdict — A: {_chip(c.a.gate_text)} &nbsp; B: {_chip(c.b.gate_text)}</p>"
            f"{notes}")


def _confusion_html(c) -> str:
    if not c.confusion_pngs:
        return f"<p class='empty'>{esc(c.confusion_note or 'no confusion matrices')}</p>"
    figures = "".join(_figure(png, f"{side}: {label}") for png, side, label in
                      zip(c.confusion_pngs, "AB", (c.a.label, c.b.label)))
    return (f"<p class='note'>Rows: true class, columns: predicted; each row sums to 1 (recall "
            f"on the diagonal). Both in A's class order.</p><div class='grid2'>{figures}</div>"
            "<h3>Confusions that moved most</h3>" + _html_table(c.confusion_movers))


def _flips_html(c) -> str:
    gallery = (_figure(c.gallery_png, "R→W: right in A, wrong in B; W→R: the reverse")
               if c.gallery_png else f"<p class='empty'>Gallery: {esc(c.gallery_note)}</p>")
    return (gallery + f"<h3>Right → wrong ({image_count(len(c.right_to_wrong))})</h3>"
            + _html_table(c.right_to_wrong, FLIP_ROWS)
            + f"<h3>Wrong → right ({image_count(len(c.wrong_to_right))})</h3>"
            + _html_table(c.wrong_to_right, FLIP_ROWS))


def to_html(c) -> str:
    sources = sorted({c.a.metrics_source, c.b.metrics_source})
    body = {
        "headline": _headline_html(c),
        "params": _html_table(c.params),
        "classes": _html_table(c.movers),
        "confusion": _confusion_html(c),
        "flips": _flips_html(c),
        "all-metrics": (f"<details><summary>{len(c.metrics)} numbers: every metric of "
                        f"{esc(' / '.join(sources))}, and the last logged train/, val/ and learning_rate values "
                        f"from MLflow (click to open)</summary>"
                        + _html_table(c.metrics) + "</details>"),
    }
    nav = "".join(f"<a href='#{sid}'>{esc(title)}</a>" for sid, title in SECTIONS)
    sections = "".join(f"<section id='{sid}'><h2>{esc(title)}</h2>{body[sid]}</section>"
                       for sid, title in SECTIONS)
    prov = "".join(f"<div>{side} = {esc(s.label)} · run {esc(s.run_id)}</div>"
                   for side, s in (("A", c.a), ("B", c.b)))
    title = f"Compare {c.a.name} vs {c.b.name}"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><div class='prov'>{prov}</div></header>"
            f"<nav>{nav}</nav><main>{sections}</main></body></html>\n")

