"""HTML building blocks of the self-contained pages (the experiment report, the compare page):
one stylesheet, sortable tables, figures embedded as base64 PNG at their drawn size, cards,
Markdown, and the page frame. Nothing is fetched from the network; values are escaped here."""

from __future__ import annotations

import base64
import html
import re
import struct
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from classlens.formatting import format_number


@dataclass
class Figure:
    caption: str  # what the figure shows, as a sentence (not a file name)
    png: bytes
    title: str = ""  # short bold heading before the caption; empty: none
    width: str = "half"  # "half": may share a row with another figure; "full": a row of its own
    max_px: Optional[int] = None  # cap on the shown width in CSS pixels (a tall image)
    scale: float = 1.0  # shown at most at this share of its drawn width (image galleries)
    titled: bool = False  # the image shows the caption as its own title: not repeated below


@dataclass
class Table:
    caption: str
    rows: list[dict]  # records; None shows as an em dash
    columns: Optional[list[str]] = None
    note: str = ""
    total: Optional[int] = None  # rows before truncation, when `rows` is the head of a list
    empty: str = "none"  # said once, after the caption, when there are no rows


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d232a;
 background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:16px 28px}header h1{margin:0 0 4px;font-size:22px}
header .prov{font-size:12px;opacity:.85}nav{position:sticky;top:0;background:#fff;
 border-bottom:1px solid #dde1e6;padding:8px 28px;z-index:2}nav a{margin-right:14px;color:#1f3a5f;
 text-decoration:none;font-weight:600;white-space:nowrap}
main{padding:4px 28px 32px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 20px;margin:14px 0;
 overflow:hidden}
h2{margin:2px 0 10px;font-size:18px;color:#1f3a5f}h3{font-size:15px;margin:14px 0 6px}
p{margin:6px 0}.lead{font-size:15px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:6px 0}
.cards.big{grid-template-columns:repeat(auto-fill,minmax(230px,1fr))}
.card{border:1px solid #dde1e6;border-radius:6px;padding:6px 12px;background:#fafbfc}
.card .k{font-size:12px;color:#5b6570}.card .v{font-size:19px;font-weight:650}
.big .card .v{font-size:26px}.card .ci{font-size:12px;color:#5b6570}
.card.pass{background:#eef8f0;border-color:#9fd3ab}.card.warn{background:#fff8e6;
 border-color:#f0cf7a}.card.fail,.card.unusable{background:#fdeeee;border-color:#e8a3a3}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:650;font-size:13px}
.badge.pass{background:#d9f0de;color:#1e6b32}.badge.warn{background:#fcefc7;color:#7a5a00}
.badge.fail,.badge.unusable{background:#f8d7d7;color:#8b1d1d}
.callout{border-left:4px solid #e0a800;background:#fff8e6;padding:6px 12px;margin:8px 0}
table{border-collapse:collapse;font-size:13px;margin:0}
th,td{padding:3px 8px;border-bottom:1px solid #e6e9ed;text-align:right;white-space:nowrap}
th{background:#eef1f5;position:sticky;top:0;white-space:normal;vertical-align:bottom}
th:first-child,td:first-child,td.t,th.t{text-align:left}td.t{white-space:normal;min-width:6em;
 max-width:30em}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:' \\2195';
 color:#9aa4ae}table.sortable th.asc:after{content:' \\25B2';color:#1f3a5f}
table.sortable th.desc:after{content:' \\25BC';color:#1f3a5f}tr.weak td{background:#fff3f0}
.scroll{max-height:420px;max-width:100%;overflow:auto;border:1px solid #e6e9ed;border-radius:4px;
 display:inline-block;vertical-align:top}
.figs{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px 20px;align-items:start}
.figs>.full{grid-column:1/-1}@media(max-width:900px){.figs{grid-template-columns:minmax(0,1fr)}}
.row{display:flex;flex-wrap:wrap;gap:12px 24px;align-items:flex-start}.row>*{min-width:0;
 max-width:100%}.row>div>.note{max-width:36em}.row>figure{flex:1 1 380px}
figure{margin:4px 0 8px}figure img{width:auto;height:auto;max-width:100%;border:1px solid #eee;
 display:block}
figcaption{font-size:12px;color:#5b6570;max-width:70em}.note{color:#5b6570;font-size:12px}
.empty{color:#8a949e;font-style:italic}
details{margin:6px 0}summary{cursor:pointer;font-weight:600;color:#1f3a5f}
details.cls{border-top:1px solid #eef1f5;padding-top:4px}details.cls>summary{font-weight:500;
 color:#1d232a}
.tabs>input{position:absolute;opacity:0}.tabs>label{display:inline-block;padding:4px 12px;
 margin:0 4px 6px 0;border:1px solid #dde1e6;border-radius:14px;cursor:pointer;font-weight:600;
 color:#1f3a5f;background:#fafbfc}.tabs>input:checked+label{background:#1f3a5f;color:#fff}
.tabs>input:focus-visible+label{outline:2px solid #1f3a5f}.tabs>.panel{display:none}
""" + "".join(f".tabs>input:nth-of-type({i}):checked~.panel:nth-of-type({i}){{display:block}}"
              for i in range(1, 25)) + """
.md table td,.md table th{text-align:left;white-space:normal}.md h1{font-size:17px}
.md h2{font-size:15px;color:#1d232a}
"""

# Click a header to sort by that column (numbers numerically, an em dash last); the page also
# honours `#sort=<table id>:<column>:<asc|desc>` so a link (and the tests) can open it sorted.
SORT_SCRIPT = """
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


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _header(name: str) -> str:
    # long snake_case names may break after an underscore (the text itself stays the same)
    return esc(name).replace("_", "_<wbr>")


def table_html(table: Table, *, table_id: str = "", sortable: bool = False,
               highlight: Sequence[str] = (), heading: bool = True) -> str:
    """A table in a scroll box (it never widens the page), under an h3 caption. An empty table
    is its caption followed by `table.empty`, once."""
    caption = f"<h3>{esc(table.caption)}" if heading and table.caption else ""
    if not table.rows:
        return (f"{caption}: <span class='empty'>{esc(table.empty)}</span></h3>" if caption
                else f"<p class='empty'>{esc(table.empty)}</p>")
    columns = table.columns or list(table.rows[0])
    text = {c for c in columns if any(isinstance(r.get(c), str) for r in table.rows)}
    head = "".join(f"<th{' class=t' if c in text else ''}>{_header(c)}</th>" for c in columns)
    body = []
    for row in table.rows:
        cells = []
        for c in columns:
            value = row.get(c)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            sort_value = f" data-v='{value!r}'" if number or isinstance(value, bool) else ""
            text = "" if number or value is None else " class='t'"
            cells.append(f"<td{sort_value}{text}>{esc(format_number(value, name=c))}</td>")
        css = " class='weak'" if str(row.get(columns[0])) in highlight else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    attrs = ((f" id='{esc(table_id)}'" if table_id else "")
             + (" class='sortable'" if sortable else ""))
    shown = (f" (first {len(table.rows)} of {table.total})"
             if table.total is not None and table.total > len(table.rows) else "")
    note = f"<p class='note'>{esc(table.note)}</p>" if table.note else ""
    caption = f"{caption}{esc(shown)}</h3>" if caption else ""
    return (f"<div>{caption}{note}<div class='scroll'><table{attrs}><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table></div></div>")


def png_size(png: bytes) -> Optional[tuple[int, int]]:
    """(width, height) in pixels from a PNG's header; None when it is not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", png[16:24])


def figure_html(figure: Figure) -> str:
    """The image at its drawn pixel size (never upscaled, never stretched: width and height
    scale together when the box is narrower) with its title and caption below."""
    data = base64.b64encode(figure.png).decode("ascii")
    size = png_size(figure.png)
    dims = f" width='{size[0]}' height='{size[1]}'" if size else ""
    limits = [figure.max_px] if figure.max_px else []
    limits += [int(size[0] * figure.scale)] if size and figure.scale < 1 else []
    cap = f" style='max-width:min(100%,{min(limits)}px)'" if limits else ""
    title = f"<b>{esc(figure.title)}.</b> " if figure.title else ""
    caption = ("" if figure.titled and not figure.title
               else f"<figcaption>{title}{esc(figure.caption)}</figcaption>")
    return (f"<figure class='{esc(figure.width)}'><img alt='{esc(figure.title or figure.caption)}'"
            f"{dims}{cap} src='data:image/png;base64,{data}'>{caption}</figure>")


def figures_html(figures: Sequence[Figure], *, empty: str = "") -> str:
    """Figures two to a row ("half") or alone ("full"); `empty` said once when there are none."""
    if not figures:
        return f"<p class='empty'>{esc(empty)}</p>" if empty else ""
    return "<div class='figs'>" + "".join(figure_html(f) for f in figures) + "</div>"


def card_html(label: str, value: Any, sub: str = "", *, tone: str = "", name: str = "",
              tip: str = "") -> str:
    """A number card; `value` formatted by kind (`name` names it for that), `sub` a small line
    below (an interval), `tone` pass/warn/fail colours it, `tip` a hover text."""
    shown = value if isinstance(value, str) else format_number(value, name=name)
    attrs = f" class='card {esc(tone)}'" + (f" title='{esc(tip)}'" if tip else "")
    sub_html = f"<div class='ci'>{esc(sub)}</div>" if sub else ""
    return (f"<div{attrs}><div class='k'>{esc(label)}</div><div class='v'>{esc(shown)}</div>"
            f"{sub_html}</div>")


_FOLD = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)


def markdown_html(text: str) -> str:
    """Markdown (CommonMark plus tables) to HTML with markdown-it-py; raw HTML in the text is
    escaped, not passed through. HTML comments (the model card's section markers) are dropped;
    a `<details><summary>...</summary>...</details>` fold (the card's layer table on GitHub)
    stays a fold on the page, its content rendered as Markdown."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    out, start = [], 0
    for fold in _FOLD.finditer(text):
        out.append(md.render(text[start:fold.start()]))
        out.append(f"<details><summary>{esc(fold.group(1).strip())}</summary>"
                   f"{md.render(fold.group(2))}</details>")
        start = fold.end()
    out.append(md.render(text[start:]))
    return "".join(out)


def page_html(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole page: header (title, a provenance line), a sticky navigation bar, one
    `<section id>` per (id, title, body HTML), the sorting script."""
    nav = "".join(f"<a href='#{esc(sid)}'>{esc(name)}</a>" for sid, name, _ in sections)
    body = "".join(f"<section id='{esc(sid)}'><h2>{esc(name)}</h2>{html_}</section>"
                   for sid, name, html_ in sections)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><div class='prov'>{subtitle}</div></header>"
            f"<nav>{nav}</nav><main>{body}</main><script>{SORT_SCRIPT}</script></body></html>\n")
