"""The report's Galleries section: the analyze stage's galleries, then every class (a
multi-label run: every label) seen both ways, missed and false alarms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from classlens.formatting import format_number, plural
from classlens.reporting.html import Figure, esc, figure_html, figures_html

WORDS = {"kind": "class", "kinds": "classes",
         "note": "Missed: images of the class predicted as another (they lower its recall). "
                 "False alarms: images of other classes predicted as the class (they lower its "
                 "precision)."}
MULTILABEL_WORDS = {"kind": "label", "kinds": "labels",
                    "note": "Missed: images carrying the label on which it was not predicted "
                            "(they lower its recall). False alarms: images without the label "
                            "on which it was predicted (they lower its precision)."}


@dataclass
class ClassGalleries:
    """One class seen both ways: its images the model missed (true is the class, predicted
    another) and its false alarms (predicted as the class, true another)."""

    name: str
    support: int  # test images of the class
    missed: int
    false_alarms: int
    precision: Optional[float] = None
    recall: Optional[float] = None
    missed_figure: Optional[Figure] = None  # None: nothing to show
    false_alarm_figure: Optional[Figure] = None



OPEN_CLASSES = 3  # the weakest classes' galleries shown unfolded; the others one line each


def _class_row(c: ClassGalleries, unfolded: bool, kind: str) -> str:
    line = (f"{kind.capitalize()} {c.name}: {c.missed} of {c.support} missed \u00b7 "
            f"{plural(c.false_alarms, 'false alarm')} (precision {format_number(c.precision)}, "
            f"recall {format_number(c.recall)})")
    parts = []
    for count, figure, none, some in (
            (c.missed, c.missed_figure, "none missed", f"{c.missed} missed"),
            (c.false_alarms, c.false_alarm_figure, "no false alarms",
             plural(c.false_alarms, "false alarm"))):
        what = none if not count else f"{some} (no gallery drawn)"
        parts.append(figure_html(figure) if count and figure is not None
                     else f"<p class='empty'>{esc(what)}</p>")
    return (f"<details class='cls'{' open' if unfolded else ''}><summary>{esc(line)}</summary>"
            f"<div class='figs'>{''.join(parts)}</div></details>")


def galleries_html(figures: list[Figure], pairs: list[Figure], classes: list[ClassGalleries],
                   *, multilabel: bool = False) -> str:
    """The Galleries section: the analyze stage's galleries, the most confused pairs folded,
    then every class (label) both ways, weakest F1 first."""
    words = MULTILABEL_WORDS if multilabel else WORDS
    shown = figures_html(figures)
    if pairs:
        count = plural(len(pairs), "gallery", "galleries")
        shown += (f"<details><summary>Most confused pairs: {esc(count)}</summary>"
                  f"{figures_html(pairs)}</details>")
    if classes:
        clean = [c.name for c in classes if not c.missed and not c.false_alarms]
        shown += (f"<h3>Per {words['kind']}, both directions (weakest F1 first)</h3>"
                  f"<p class='note'>{esc(words['note'])} The {OPEN_CLASSES} weakest are "
                  "unfolded; click a line to unfold it.</p>"
                  + "".join(_class_row(c, i < OPEN_CLASSES, words["kind"]) for i, c in enumerate(
                      c for c in classes if c.missed or c.false_alarms)))
        if clean:
            which = words["kind"] if len(clean) == 1 else words["kinds"]
            shown += f"<p>No misses and no false alarms: {which} {esc(', '.join(clean))}.</p>"
    return shown or "<p class='empty'>no galleries</p>"
