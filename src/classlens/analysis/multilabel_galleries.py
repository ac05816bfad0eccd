"""Which images each gallery of a multi-label run shows (rows of the prediction table); drawing is
figures' job. The kinds and keys are the multi-class ones (`galleries.KINDS`), so readers of
the analysis summary treat both alike:

- errors (key `most_wrong_labels`): the images with the most wrong labels (missed + extra),
  then the highest loss;
- correct: the exact matches whose least certain decision is closest to its threshold;
- pair: images carrying a on which b is predicted without being true, most probable b first;
- missed / false_alarms, per label: images carrying it on which it is not predicted (lowest
  probability first), and images without it on which it is predicted (highest first);
- suspects: the (image, label) annotation suspects, most suspicious first.

Every row shown carries `label`, `probability` and `threshold` (NaN for errors and correct,
which are about the whole set) for its caption.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from classlens.analysis.galleries import Gallery, image_count
from classlens.data import label_sets
from classlens.formatting import plural
from classlens.naming import file_stems, shortened
from classlens.task import decisions

TITLE_NAME_CHARS, CAPTION_SET_CHARS, CAPTION_NAME_CHARS = 32, 30, 14


def _shown(count: int, shown: int, what: str) -> str:
    return (image_count(count) if shown >= count
            else f"{image_count(count)} ({shown} {what} shown)")


def _pairs_shown(count: int, shown: int) -> str:
    """'3 (image, label) pairs', or '40 (image, label) pairs (25 most suspicious shown)'."""
    text = plural(count, "(image, label) pair")
    return text if shown >= count else f"{text} ({shown} most suspicious shown)"


def _about(rows, label: str, probabilities, thresholds) -> object:
    """`rows` with the label a gallery is about, its probability and threshold on each image."""
    positions = rows["position"].to_numpy()
    return rows.assign(label=label, probability=probabilities[positions],
                       threshold=float(thresholds))


def build_multilabel_galleries(table, probabilities: np.ndarray, y_true: np.ndarray,
                               thresholds: Sequence[float], pairs, suspects, *,
                               label_names: Sequence[str], size: int, top_pairs: int,
                               pair_size: int, class_order: Sequence[str],
                               class_size: int) -> list[Gallery]:
    """Every gallery of a multi-label analyze stage.

    Args:
        table: the multi-label prediction table with `certainty` (`split_by_exact_match`).
        probabilities, y_true, thresholds: (N, K), (N, K) 0/1 and (K,), rows = `position`.
        pairs: `cross_label_pairs`, most frequent first.
        suspects: `multilabel_suspects` joined to the table (`with_image_columns`).
        label_names: the K labels, column order; their file stems name the label galleries.
        size: images in the errors, correct and suspects galleries.
        top_pairs, pair_size: galleries for the first `top_pairs` pairs, `pair_size` images each.
        class_order: labels that get their two galleries, in order (weakest F1 first).
        class_size: images per label gallery.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    truth = np.asarray(y_true).astype(bool)
    predicted = decisions(p, t)
    table = table.sort_values("position", kind="stable").assign(
        label="", probability=np.nan, threshold=np.nan)
    column = {name: k for k, name in enumerate(label_names)}
    wrong = table[~table["correct"]].sort_values(["n_wrong", "loss"], ascending=False,
                                                 kind="stable")
    right = table[table["correct"]].sort_values("certainty", kind="stable")
    galleries = [
        Gallery("most_wrong_labels",
                f"Most wrong labels (missed or extra): {_shown(len(wrong), size, 'worst')}",
                "errors", wrong.head(size), len(wrong)),
        Gallery("least_confident_correct",
                f"Least certain exact matches: {_shown(len(right), size, 'least certain')}",
                "correct", right.head(size), len(right)),
    ]
    pair_rows = pairs.head(top_pairs)
    top = list(zip(pair_rows["true_label"], pair_rows["pred_label"]))
    pair_stems = file_stems(top, "_to_".join)
    for a, b in top:
        ia, ib = column[a], column[b]
        chosen = table[truth[:, ia] & predicted[:, ib] & ~truth[:, ib]]
        rows = _about(chosen, b, p[:, ib], t[ib]).sort_values("probability", ascending=False,
                                                              kind="stable")
        a_, b_ = shortened(a, TITLE_NAME_CHARS), shortened(b, TITLE_NAME_CHARS)
        galleries.append(Gallery(f"pair_{pair_stems[(a, b)]}",
                                 f"Carrying {a_}, wrongly predicted {b_}: "
                                 f"{_shown(len(rows), pair_size, 'most probable')}",
                                 "pair", rows.head(pair_size), len(rows)))
    stems = file_stems([*label_names, *class_order])
    for name in class_order:
        k, shown_name = column[name], shortened(name, TITLE_NAME_CHARS)
        rows = _about(table, name, p[:, k], t[k])
        missed = rows[truth[:, k] & ~predicted[:, k]].sort_values("probability", kind="stable")
        alarms = rows[predicted[:, k] & ~truth[:, k]].sort_values("probability",
                                                                 ascending=False, kind="stable")
        for kind, chosen, what in (
                ("missed", missed, f"{image_count(len(missed))} carrying {shown_name} on which "
                                   "it is not predicted"),
                ("false_alarms", alarms, f"{image_count(len(alarms))} without {shown_name} on "
                                         "which it is predicted")):
            shown = min(len(chosen), class_size)
            more = f" ({shown} most confident shown)" if shown < len(chosen) else ""
            galleries.append(Gallery(
                f"class_{stems[name]}_{kind}",
                f"Label {shown_name} \u2014 {kind.replace('_', ' ')}: {what}{more}",
                kind, chosen.head(class_size), len(chosen), class_name=name))
    suspects = suspects.assign(threshold=[t[column[name]] for name in suspects["label"]])
    galleries.append(Gallery(
        "label_suspects",
        f"Label-issue suspects (a label given but improbable, or absent but probable): "
        f"{_pairs_shown(len(suspects), size)}",
        "suspects", suspects.head(size), len(suspects)))
    return galleries


def label_set(text: str, limit: int = CAPTION_SET_CHARS) -> str:
    """A table's "a|b|c" as "a, b, c" (cut past `limit` characters), "none" for no label."""
    return shortened(", ".join(label_sets.names(text)), limit) if text else "none"


def multilabel_caption(row, kind: str) -> str:
    """Three lines under a gallery image: the true set, the predicted set, and what the gallery
    is about (wrong labels; the least certain decision; the label's probability and threshold;
    the suspect label)."""
    head = f"true {label_set(row['true_labels'])}\npred {label_set(row['pred_labels'])}\n"
    label = shortened(row.get("label", ""), CAPTION_NAME_CHARS)
    if kind == "errors":
        return head + plural(int(row["n_wrong"]), "wrong label")
    if kind == "correct":
        return head + f"certainty {row['certainty']:.2f}"
    if kind == "suspects":
        state = "given" if row["given"] else "not given"
        return head + f"{label} {state}, p({label}) {row['probability']:.2f}"
    return head + f"p({label}) {row['probability']:.2f}, t {row['threshold']:.2f}"
