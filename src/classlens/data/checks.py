"""Checks on a split dataset before it is written: errors for what would break training (an
empty split, fewer than two classes to learn), warnings for what a researcher must know (a
class with no images, a class absent from a split, the same image in two splits, the same
image under two labels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classlens.errors import InputError


DUPLICATE_COLUMNS = ["id", "split", "duplicate_of", "duplicate_split"]
CONFLICT_COLUMNS = ["id", "split", "label", "conflicts_with", "conflicting_split",
                    "conflicting_label"]


@dataclass
class DataChecks:
    warnings: list[str]
    duplicates: "object"  # pandas DataFrame of DUPLICATE_COLUMNS
    # pandas DataFrame of CONFLICT_COLUMNS: identical pixels, different labels (any splits)
    label_conflicts: "object" = None


def check_dataset(labels: np.ndarray, parts: dict[str, np.ndarray], class_names: list[str],
                  *, hashes: np.ndarray, ids: list[str]) -> DataChecks:
    """Raise InputError for an unusable split; return the warnings, the cross-split duplicates
    and the label conflicts (identical pixels under different labels, in any splits: the same
    image cannot be both, so one label is wrong, and a test copy is scored against it).

    Args:
        labels: label per image (indexes `class_names`).
        parts: split name -> image indices.
        hashes: a content hash per image (identical pixels -> identical hash).
        ids: the stable id per image, used in the messages.
    """
    import pandas as pd

    for split, idx in parts.items():
        if len(idx) == 0:
            raise InputError(f"the {split} split is empty; add images, or change "
                             "data.val_fraction/test_fraction")
    learnable = np.unique(labels[parts["train"]])
    if len(learnable) < 2:
        raise InputError(f"the train split holds {len(learnable)} class(es); a classifier needs "
                         "images of at least 2 classes to train on")
    warnings: list[str] = []
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        warnings.append(f"class(es) {', '.join(map(repr, empty))} have no usable images; they "
                        "stay in classes.json but the model cannot learn them")
    for split, idx in parts.items():
        present = np.bincount(labels[idx], minlength=len(class_names)) > 0
        absent = [class_names[c] for c in np.flatnonzero(~present & (counts > 0))]
        if absent:
            shown = ", ".join(map(repr, absent[:10])) + (" ..." if len(absent) > 10 else "")
            warnings.append(f"the {split} split has no images of class(es) {shown}")

    split_of = np.empty(len(labels), dtype=object)
    for split, idx in parts.items():
        split_of[idx] = split
    duplicates, conflicts = [], []
    for group in _identical(hashes):  # each group: the first occurrence vs the rest
        first = group[0]
        duplicates += [(ids[i], split_of[i], ids[first], split_of[first]) for i in group[1:]
                       if split_of[i] != split_of[first]]
        conflicts += [(ids[i], split_of[i], class_names[labels[i]], ids[first], split_of[first],
                       class_names[labels[first]]) for i in group[1:]
                      if labels[i] != labels[first]]
    duplicates = pd.DataFrame(duplicates, columns=DUPLICATE_COLUMNS)
    conflicts = pd.DataFrame(conflicts, columns=CONFLICT_COLUMNS)
    if len(duplicates):
        first = duplicates.iloc[0]
        warnings.append(f"{len(duplicates)} image(s) have identical pixels in another split "
                        f"(e.g. {first['id']} in {first['split']} = {first['duplicate_of']} in "
                        f"{first['duplicate_split']}): the held-out scores are optimistic; "
                        "see report/duplicates.csv")
    if len(conflicts):
        first = conflicts.iloc[0]
        warnings.append(f"{len(conflicts)} image(s) have identical pixels under another label "
                        f"(e.g. {first['id']} in {first['split']} labelled "
                        f"{first['label']!r} = {first['conflicts_with']} in "
                        f"{first['conflicting_split']} labelled {first['conflicting_label']!r}): "
                        "one image cannot be both, so check those labels; see "
                        "report/label_conflicts.csv")
    return DataChecks(warnings=warnings, duplicates=duplicates, label_conflicts=conflicts)


def _identical(hashes: np.ndarray):
    """Index arrays of the images sharing a hash (groups of two or more), each in index order."""
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
    for group in np.split(order, starts[1:]):
        if len(group) > 1:
            yield group
