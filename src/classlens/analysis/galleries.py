"""Which images each gallery shows (rows of the prediction table); drawing is figures' job.

Galleries: the most confident errors, the least confident correct predictions, one per most
confused pair (true a predicted b), two per class, and the label-issue suspects. A class's two
galleries look at its errors from both sides: "missed" (true is the class, predicted another: its
false negatives, what recall counts) and "false alarms" (predicted as the class, true is another:
its false positives, what precision counts). Each holds errors only, most confident first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from classlens.formatting import plural
from classlens.naming import file_stems, shortened

KINDS = ("errors", "correct", "pair", "missed", "false_alarms", "suspects")
# a class name in a title (drawn above the grid) or an image's caption longer than this is cut
TITLE_NAME_CHARS, CAPTION_NAME_CHARS = 32, 20


@dataclass(frozen=True)
class Gallery:
    key: str  # file stem, unique among galleries
    title: str
    kind: str  # one of KINDS
    rows: object  # DataFrame: prediction-table rows shown (suspects add `suggested_label`)
    count: int  # images that belong in the gallery; `rows` shows the first of them
    class_name: Optional[str] = None  # the class of a "missed" / "false_alarms" gallery


def image_count(n: int) -> str:
    """'1 image', '2 images', '0 images'."""
    return plural(n, "image")


def _shown(count: int, shown: int, what: str) -> str:
    """'3 images' when all are shown, '12 images (10 most confident shown)' otherwise."""
    return (image_count(count) if shown >= count
            else f"{image_count(count)} ({shown} {what} shown)")


def build_galleries(table, pairs, suspects, *, size: int, top_pairs: int, pair_size: int,
                    class_order: list[str], class_size: int,
                    classes: Optional[list[str]] = None) -> list[Gallery]:
    """Every gallery for the analyze stage.

    Args:
        table: the prediction table.
        pairs: directional confused pairs (`true_label`, `pred_label`), most frequent first.
        suspects: label suspects joined to the table (`suggested_label`), most suspicious first.
        size: images in the errors, correct and suspects galleries.
        top_pairs, pair_size: galleries for the first `top_pairs` pairs, `pair_size` images each.
        class_order: classes that get their two galleries, in order (e.g. weakest F1 first).
        class_size: images per class gallery (the most confident errors of that direction).
        classes: every class name: their file stems (`classlens.naming.file_stems`, the ones
            the evaluate stage records) name the class galleries; default `class_order`.
    """
    ranked = table.sort_values("confidence", ascending=False, kind="stable")
    wrong, right = ranked[~ranked["correct"]], ranked[ranked["correct"]]
    galleries = [
        Gallery("most_confident_errors",
                f"Most confident errors: {_shown(len(wrong), size, 'most confident')}",
                "errors", wrong.head(size), len(wrong)),
        Gallery("least_confident_correct",
                f"Least confident correct predictions: "
                f"{_shown(len(right), size, 'least confident')}",
                "correct", right.iloc[::-1].head(size), len(right)),
    ]
    pair_rows = pairs.head(top_pairs)
    top = list(zip(pair_rows["true_label"], pair_rows["pred_label"]))
    pair_stems = file_stems(top, "_to_".join)  # by pair: ("a_to_b", "c") and ("a", "b_to_c") differ
    for t, p in top:
        rows = wrong[(wrong["true_label"] == t) & (wrong["pred_label"] == p)]
        t_, p_ = shortened(t, TITLE_NAME_CHARS), shortened(p, TITLE_NAME_CHARS)
        galleries.append(Gallery(f"pair_{pair_stems[(t, p)]}",
                                 f"True {t_}, predicted {p_}: "
                                 f"{_shown(len(rows), pair_size, 'most confident')}",
                                 "pair", rows.head(pair_size), len(rows)))
    class_stems = file_stems([*(classes or []), *class_order])
    for name in class_order:
        shown_name = shortened(name, TITLE_NAME_CHARS)
        missed = wrong[wrong["true_label"] == name]
        alarms = wrong[wrong["pred_label"] == name]
        others = "another class" if len(alarms) == 1 else "other classes"
        for kind, rows, what in (
                ("missed", missed,
                 f"{image_count(len(missed))} of class {shown_name} predicted as another class"),
                ("false_alarms", alarms,
                 f"{image_count(len(alarms))} of {others} predicted as {shown_name}")):
            shown = min(len(rows), class_size)
            more = f" ({shown} most confident shown)" if shown < len(rows) else ""
            galleries.append(Gallery(
                f"class_{class_stems[name]}_{kind}",
                f"Class {shown_name} \u2014 {kind.replace('_', ' ')}: {what}{more}",
                kind, rows.head(class_size), len(rows), class_name=name))
    galleries.append(Gallery(
        "label_suspects",
        f"Label-issue suspects (given label / suggested): "
        f"{_shown(len(suspects), size, 'most suspicious')}",
        "suspects", suspects.head(size), len(suspects)))
    return galleries


def caption(row, kind: str) -> str:
    """The line under a gallery image: true, predicted and confidence (or suspect details)."""
    def short(name) -> str:
        return shortened(name, CAPTION_NAME_CHARS)

    if kind == "suspects":
        return (f"given {short(row['true_label'])} / suggested {short(row['suggested_label'])}\n"
                f"p(given) {row['self_confidence']:.2f}")
    return (f"true {short(row['true_label'])} / pred {short(row['pred_label'])}\n"
            f"{row['confidence']:.2f}")
