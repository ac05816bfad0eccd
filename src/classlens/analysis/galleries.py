"""Which images each gallery shows (rows of the prediction table); drawing is figures' job.

Galleries: the most confident errors, the least confident correct predictions, one per most
confused pair (true a predicted b), one per class (its errors, most confident first, then its
least confident correct images), and the label-issue suspects.
"""

from __future__ import annotations

from dataclasses import dataclass

from classlens.naming import file_stems


@dataclass(frozen=True)
class Gallery:
    key: str  # file stem, unique among galleries
    title: str
    kind: str  # "errors" | "correct" | "pair" | "class" | "suspects"
    rows: object  # DataFrame: prediction-table rows (suspects add `suggested_label`)


def build_galleries(table, pairs, suspects, *, size: int, top_pairs: int, pair_size: int,
                    class_order: list[str], class_size: int):
    """Every gallery for the analyze stage.

    Args:
        table: the prediction table.
        pairs: directional confused pairs (`true_label`, `pred_label`), most frequent first.
        suspects: label suspects joined to the table (`suggested_label`), most suspicious first.
        size: images in the errors, correct and suspects galleries.
        top_pairs, pair_size: galleries for the first `top_pairs` pairs, `pair_size` images each.
        class_order: classes that get a gallery, in order (e.g. weakest F1 first).
        class_size: images per class gallery.
    """
    import pandas as pd

    ranked = table.sort_values("confidence", ascending=False, kind="stable")
    wrong, right = ranked[~ranked["correct"]], ranked[ranked["correct"]]
    galleries = [
        Gallery("most_confident_errors",
                f"Most confident errors ({min(size, len(wrong))} of {len(wrong)})", "errors",
                wrong.head(size)),
        Gallery("least_confident_correct",
                f"Least confident correct predictions ({min(size, len(right))} of {len(right)})",
                "correct", right.iloc[::-1].head(size)),
    ]
    pair_rows = pairs.head(top_pairs)
    stems = file_stems([f"{t}_to_{p}" for t, p in zip(pair_rows["true_label"],
                                                       pair_rows["pred_label"])])
    for t, p in zip(pair_rows["true_label"], pair_rows["pred_label"]):
        rows = wrong[(wrong["true_label"] == t) & (wrong["pred_label"] == p)]
        galleries.append(Gallery(f"pair_{stems[f'{t}_to_{p}']}",
                                 f"True {t}, predicted {p} ({min(pair_size, len(rows))} of "
                                 f"{len(rows)})", "pair", rows.head(pair_size)))
    class_stems = file_stems(list(class_order))
    for name in class_order:
        own_wrong = wrong[wrong["true_label"] == name]
        own_right = right[right["true_label"] == name].iloc[::-1]
        rows = pd.concat([own_wrong, own_right]).head(class_size)
        galleries.append(Gallery(f"class_{class_stems[name]}",
                                 f"Class {name}: {len(own_wrong)} errors of "
                                 f"{len(own_wrong) + len(own_right)} (errors first, then least "
                                 "confident correct)", "class", rows))
    galleries.append(Gallery("label_suspects",
                             f"Label-issue suspects ({min(size, len(suspects))} of "
                             f"{len(suspects)}; given label / suggested)", "suspects",
                             suspects.head(size)))
    return galleries


def caption(row, kind: str) -> str:
    """The line under a gallery image: true, predicted and confidence (or suspect details)."""
    if kind == "suspects":
        return (f"given {row['true_label']} / suggested {row['suggested_label']}\n"
                f"p(given) {row['self_confidence']:.2f}")
    return f"true {row['true_label']} / pred {row['pred_label']}\n{row['confidence']:.2f}"
