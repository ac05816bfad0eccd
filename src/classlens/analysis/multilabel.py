"""Error analysis of a multi-label run (each image carries a set of labels, each label decided at
its own threshold), in the multi-class analysis' files: arrays and tables in, tables out.

- An image is correct when its predicted set equals its true set (exact match); misclassified
  ones come with the most wrong labels first.
- Hesitant and confidently wrong are judged per (image, label) decision, by its *certainty*:
  the distance of the label's probability p from its threshold t as a share of the room on
  that side, (p - t) / (1 - t) above and (t - p) / t below. 0 is at the threshold, 1 at 0 or 1,
  so one cut means the same for a label thresholded at 0.1 as for one at 0.6 (a plain |p - t|
  would call p = 0.05 under t = 0.1 hesitant and p = 0.55 under t = 0.6 just as much).
- Confused pairs come from the evaluate stage's cross-label counts C[a, b]: images carrying a
  on which b is predicted without being one of their labels.
- Label-issue suspects treat each label as a binary task (cleanlab's multi-label approach) and
  run the multi-class confident-learning rule (`label_issues.label_suspects`) on its two columns
  [1 - p, p]: an annotated label whose p is below the mean p of the images carrying it while
  1 - p reaches the mean 1 - p of the images without it (suggestion: remove), or the reverse
  for a label not annotated (suggestion: add). The score is the probability of the given state
  (p when annotated, 1 - p when not), lowest first: with two columns both of `SCORES` equal it.
  A label absent from the split (or carried by every image) has no threshold on that side and
  is never suggested.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from classlens.analysis.label_issues import label_suspects
from classlens.task import decisions

IMAGE_COLUMNS = ["id", "path", "position", "true_labels", "pred_labels"]
TOP_PARTNERS = 3


def certainty(probabilities: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """(N, K) distance of each probability from its label's threshold as a share of the way to
    0 (below) or 1 (above): 0 at the threshold, 1 at the end. A threshold of 0 or 1 leaves no
    room on one side: a probability there is at the threshold (0)."""
    p = np.asarray(probabilities, dtype=np.float64)
    t = np.broadcast_to(np.asarray(thresholds, dtype=np.float64)[None, :], p.shape)
    above = decisions(p, thresholds)  # which side of its threshold
    room = np.where(above, 1.0 - t, t)
    out = np.zeros(p.shape)
    np.divide(np.abs(p - t), room, out=out, where=room > 0)
    return out


def with_image_columns(frame, table):
    """`frame` (with a `position` column) preceded by its image's id, path and label sets."""
    images = table[IMAGE_COLUMNS].set_index("position", drop=False)
    joined = images.loc[frame["position"].to_numpy()].reset_index(drop=True)
    return joined.join(frame.drop(columns="position").reset_index(drop=True))


def split_by_exact_match(table, probabilities: np.ndarray, thresholds: Sequence[float]):
    """(correct, misclassified) images, each with `certainty` = its least certain decision.
    Correct: most certain first. Misclassified: most wrong labels first, then highest loss."""
    table = table.assign(certainty=certainty(probabilities, thresholds).min(axis=1))
    correct = table[table["correct"]].sort_values("certainty", ascending=False, kind="stable")
    wrong = table[~table["correct"]].sort_values(["n_wrong", "loss"], ascending=False,
                                                 kind="stable")
    return correct, wrong


def label_decisions(table, probabilities: np.ndarray, y_true: np.ndarray,
                    thresholds: Sequence[float], label_names: Sequence[str]):
    """One row per (image, label), image by image: whether the label is given (annotated),
    predicted (p >= its threshold) and rightly so (`correct`), its probability, threshold,
    `distance` |p - t| and `certainty`."""
    import pandas as pd

    p = np.asarray(probabilities, dtype=np.float64)
    n, k = p.shape
    t = np.asarray(thresholds, dtype=np.float64)
    truth = np.asarray(y_true).astype(bool)
    predicted = decisions(p, t)
    frame = pd.DataFrame({
        "position": np.repeat(np.arange(n), k),
        "label": np.tile(np.asarray(label_names, dtype=object), n),
        "given": truth.ravel(), "predicted": predicted.ravel(),
        "correct": (truth == predicted).ravel(), "probability": p.ravel(),
        "threshold": np.tile(t, n), "distance": np.abs(p - t[None, :]).ravel(),
        "certainty": certainty(p, t).ravel(),
    })
    return with_image_columns(frame, table)


def low_confidence_decisions(decisions, *, threshold: float):
    """Decisions (right or wrong) with certainty below `threshold`, least certain first."""
    chosen = decisions[decisions["certainty"] < threshold]
    return chosen.sort_values("certainty", ascending=True, kind="stable")


def confidently_wrong_decisions(decisions, *, threshold: float):
    """Wrong decisions (a missed or an extra label) with certainty above `threshold`, most
    certain first."""
    chosen = decisions[~decisions["correct"] & (decisions["certainty"] > threshold)]
    return chosen.sort_values("certainty", ascending=False, kind="stable")


def _sorted(frame):
    return frame.sort_values(["count", "rate"], ascending=False, kind="stable").reset_index(
        drop=True)


def cross_label_pairs(counts: np.ndarray, support: Sequence[int], label_names: Sequence[str]):
    """Directional pairs a -> b from the cross-label counts: `count` images carrying a on which
    b is predicted without being true, `rate` = count / images carrying a; most frequent first,
    only pairs that occur (a label absent from the split has no row).

    >>> cross_label_pairs(np.array([[2, 1], [0, 1]]), [2, 1], ["a", "b"]).to_dict("records")
    [{'true_label': 'a', 'pred_label': 'b', 'count': 1, 'rate': 0.5}]
    """
    import pandas as pd

    counts = np.asarray(counts)
    rows = [(label_names[a], label_names[b], int(counts[a, b]), counts[a, b] / support[a])
            for a in range(len(label_names)) for b in range(len(label_names))
            if a != b and counts[a, b] > 0]
    return _sorted(pd.DataFrame(rows, columns=["true_label", "pred_label", "count", "rate"]))


def symmetric_cross_label_pairs(counts: np.ndarray, support: Sequence[int],
                                label_names: Sequence[str]):
    """Unordered pairs a <-> b: C[a, b] + C[b, a], its rate over the images carrying a plus those
    carrying b (an image carrying both counts twice there, as in the counts), and each
    direction; most frequent first, only pairs that occur."""
    import pandas as pd

    counts = np.asarray(counts)
    rows = []
    for a in range(len(label_names)):
        for b in range(a + 1, len(label_names)):
            both = int(counts[a, b] + counts[b, a])
            if both:
                rows.append((label_names[a], label_names[b], both,
                             both / int(support[a] + support[b]), int(counts[a, b]),
                             int(counts[b, a])))
    return _sorted(pd.DataFrame(rows, columns=["class_a", "class_b", "count", "rate", "a_to_b",
                                               "b_to_a"]))


def weak_labels(per_class: dict[str, dict[str, Optional[float]]], counts: np.ndarray, *,
                f1_floor: float):
    """One row per label whose F1 is below `f1_floor`, weakest first (all_metrics.json's
    per-label numbers; a label with an undefined F1 is skipped).

    Columns: class, f1, precision, recall, support, predicted (tp + fp), missed (fn),
    false_alarms (fp), diagnosis (as `weak_classes`: low precision, low recall or both; an
    undefined precision reads 0, an undefined recall 1), alarms_on_images_of (labels whose
    images it is predicted on without being true, "name (count)"), extras_on_its_images (labels
    predicted on its images without being true). False alarms on images with no label appear in
    `false_alarms` only: the cross-label counts have no row for them.
    """
    import pandas as pd

    names = list(per_class)
    counts = np.asarray(counts)
    if counts.shape != (len(names), len(names)):
        raise ValueError(f"counts must have shape ({len(names)}, {len(names)}) to match "
                         f"per_class; received {counts.shape}")
    rows = []
    for c, name in enumerate(names):
        values = per_class[name]
        f1 = values["f1"]
        if f1 is None or f1 >= f1_floor:
            continue
        precision = 0.0 if values["precision"] is None else values["precision"]
        recall = 1.0 if values["recall"] is None else values["recall"]
        low_p, low_r = precision < f1_floor, recall < f1_floor
        rows.append({
            "class": name, "f1": f1, "precision": values["precision"],
            "recall": values["recall"], "support": int(values["support"]),
            "predicted": int(values["tp"] + values["fp"]), "missed": int(values["fn"]),
            "false_alarms": int(values["fp"]),
            "diagnosis": ("low precision and recall" if low_p and low_r
                          else "low precision" if low_p else "low recall"),
            "alarms_on_images_of": _partners(counts[:, c], c, names),
            "extras_on_its_images": _partners(counts[c, :], c, names),
        })
    columns = ["class", "f1", "precision", "recall", "support", "predicted", "missed",
               "false_alarms", "diagnosis", "alarms_on_images_of", "extras_on_its_images"]
    return pd.DataFrame(rows, columns=columns).sort_values("f1", kind="stable").reset_index(
        drop=True)


def _partners(counts: np.ndarray, own: int, names: list[str]) -> str:
    """The largest off-diagonal counts as "name (count), ..." (at most TOP_PARTNERS)."""
    others = sorted(((int(counts[k]), names[k]) for k in range(len(names))
                     if k != own and counts[k] > 0), key=lambda item: -item[0])
    return ", ".join(f"{name} ({count})" for count, name in others[:TOP_PARTNERS])


def multilabel_suspects(probabilities: np.ndarray, y_true: np.ndarray,
                        label_names: Sequence[str], *, method: str = "normalized_margin"):
    """Suspected (image, label) annotation errors in both directions, most suspicious first.

    Columns: position, label, given (the label is annotated), suggestion ("remove" / "add"),
    probability (p of the label), self_confidence (p of the given state: p or 1 - p),
    class_threshold (the mean self-confidence of that state on that label), score (ranking,
    lower is more suspicious; equal to self_confidence, see the module docstring).
    """
    import pandas as pd

    p = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(y_true).astype(np.int64)
    frames = []
    for k, name in enumerate(label_names):
        found = label_suspects(np.stack([1.0 - p[:, k], p[:, k]], axis=1), truth[:, k],
                               method=method)
        given = found["given"].to_numpy() == 1
        frames.append(pd.DataFrame({
            "position": found["position"].to_numpy(), "label": name, "label_index": k,
            "given": given, "suggestion": np.where(given, "remove", "add"),
            "probability": p[found["position"].to_numpy(), k],
            "self_confidence": found["self_confidence"].to_numpy(),
            "class_threshold": found["threshold"].to_numpy(),
            "score": found["score"].to_numpy(),
        }))
    columns = ["position", "label", "given", "suggestion", "probability", "self_confidence",
               "class_threshold", "score"]
    if not frames:
        return pd.DataFrame(columns=columns)
    ranked = pd.concat(frames, ignore_index=True).sort_values(
        ["score", "position", "label_index"], kind="stable")
    return ranked[columns].reset_index(drop=True)
