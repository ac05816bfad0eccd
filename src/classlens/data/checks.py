"""Checks on a split dataset before it is written: errors for what would break training (an
empty split, fewer than two classes to learn), warnings for what a researcher must know (a
class with no images, a class absent from a split, the same image in two splits, the same
image under two labels). Multi-label data (uint8 (N, K) multi-hot labels) is checked per label:
counts are images carrying it; two identical images conflict when their label sets differ, and
images without a label are legal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classlens.data import label_sets
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
        labels: label per image (indexes `class_names`), or multi-hot (N, K) label sets.
        parts: split name -> image indices.
        hashes: a content hash per image (identical pixels -> identical hash).
        ids: the stable id per image, used in the messages.
    """
    import pandas as pd

    for split, idx in parts.items():
        if len(idx) == 0:
            raise InputError(f"the {split} split is empty; add images, or change "
                             "data.val_fraction/test_fraction")
    multilabel = labels.ndim == 2
    if multilabel:
        _check_learnable_labels(labels[parts["train"]])
    else:
        learnable = np.unique(labels[parts["train"]])
        if len(learnable) < 2:
            raise InputError(f"the train split holds {len(learnable)} class(es); a classifier "
                             "needs images of at least 2 classes to train on")
    warnings: list[str] = []
    counts = _images_per_class(labels, len(class_names))
    empty = [class_names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        warnings.append(f"class(es) {', '.join(map(repr, empty))} have no usable images; they "
                        "stay in classes.json but the model cannot learn them")
    for split, idx in parts.items():
        present = _images_per_class(labels[idx], len(class_names)) > 0
        absent = [class_names[c] for c in np.flatnonzero(~present & (counts > 0))]
        if absent:
            shown = ", ".join(map(repr, absent[:10])) + (" ..." if len(absent) > 10 else "")
            warnings.append(f"the {split} split has no images of class(es) {shown}")

    split_of = np.empty(len(labels), dtype=object)
    for split, idx in parts.items():
        split_of[idx] = split
    if multilabel:
        def name(i):
            return label_sets.cell(labels[i], class_names)
    else:
        def name(i):
            return class_names[labels[i]]
    duplicates, conflicts = [], []
    for group in _identical(hashes):  # each group: the first occurrence vs the rest
        first = group[0]
        duplicates += [(ids[i], split_of[i], ids[first], split_of[first]) for i in group[1:]
                       if split_of[i] != split_of[first]]
        conflicts += [(ids[i], split_of[i], name(i), ids[first], split_of[first], name(first))
                      for i in group[1:] if not np.array_equal(labels[i], labels[first])]
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


def _images_per_class(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Images of each class: a count of labels, or of images carrying each label."""
    if labels.ndim == 2:
        return labels.sum(axis=0, dtype=np.int64)
    return np.bincount(labels, minlength=num_classes)


def _check_learnable_labels(train: np.ndarray) -> None:
    """A multi-label model learns a label from images with and without it: the train split
    needs at least one label that some of its images carry and others do not."""
    carried = train.sum(axis=0, dtype=np.int64)
    if not ((carried > 0) & (carried < len(train))).any():
        raise InputError(f"the train split's {len(train)} images carry no label that only some "
                         "of them have (every label is on all of them or on none); a multi-label "
                         "classifier needs images with and without a label to learn it")


def _identical(hashes: np.ndarray):
    """Index arrays of the images sharing a hash (groups of two or more), each in index order."""
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
    for group in np.split(order, starts[1:]):
        if len(group) > 1:
            yield group
