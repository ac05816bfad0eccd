"""Checks on a split dataset before it is written: errors for what would break training (an
empty split, fewer than two classes to learn), warnings for what a researcher must know (a
class with no images, a class absent from a split, the same image in two splits)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classlens.errors import InputError


@dataclass
class DataChecks:
    warnings: list[str]
    duplicates: "object"  # pandas DataFrame: id, split, duplicate_of, duplicate_split


def check_dataset(labels: np.ndarray, parts: dict[str, np.ndarray], class_names: list[str],
                  *, hashes: np.ndarray, ids: list[str]) -> DataChecks:
    """Raise InputError for an unusable split; return the warnings and cross-split duplicates.

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
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    rows = []
    start = 0
    while start < len(order):  # groups of identical hashes: the first occurrence vs the rest
        stop = start + 1
        while stop < len(order) and sorted_hashes[stop] == sorted_hashes[start]:
            stop += 1
        group = order[start:stop]
        if len({split_of[i] for i in group}) > 1:
            first = group[0]
            rows += [(ids[i], split_of[i], ids[first], split_of[first]) for i in group[1:]
                     if split_of[i] != split_of[first]]
        start = stop
    duplicates = pd.DataFrame(rows, columns=["id", "split", "duplicate_of", "duplicate_split"])
    if len(duplicates):
        first = duplicates.iloc[0]
        warnings.append(f"{len(duplicates)} image(s) have identical pixels in another split "
                        f"(e.g. {first['id']} in {first['split']} = {first['duplicate_of']} in "
                        f"{first['duplicate_split']}): the held-out scores are optimistic; "
                        "see report/duplicates.csv")
    return DataChecks(warnings=warnings, duplicates=duplicates)
