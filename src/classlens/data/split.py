"""Deterministic stratified train/val/test split.

Single-label data is stratified by class. Multi-label data (uint8 (N, K) multi-hot labels) is
stratified by each image's rarest label (`classlens.data.multilabel.rarest_label_strata`,
recomputed for each cut), images without a label forming a stratum of their own; a stratum too
small for the cut (fewer images than one per part needs, at least 3) is pooled with the other
small ones, so a rare label gives a less even split instead of an error.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from classlens.data.multilabel import min_stratum_size, rarest_label_strata
from classlens.errors import InputError


def stratified_split(
    labels: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int,
    class_names: Optional[Sequence[str]] = None
) -> dict[str, np.ndarray]:
    """Split indices 0..N-1 into sorted 'train', 'val' and 'test' index arrays, each keeping the
    class proportions of `labels` (scikit-learn's `train_test_split(stratify=...)`, seeded).
    `class_names` (indexed by label) name the classes in errors. Multi-hot (N, K) `labels`
    are stratified by rarest label (see the module's docstring).

    >>> parts = stratified_split(np.repeat([0, 1], 10), val_fraction=0.2, test_fraction=0.2, seed=0)
    >>> [len(parts[s]) for s in ("train", "val", "test")]
    [12, 4, 4]
    """
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    if labels.ndim == 2:
        return _split_multilabel(labels, val_fraction=val_fraction,
                                 test_fraction=test_fraction, seed=seed)
    counts = np.bincount(labels)
    if (counts[counts > 0] < 3).any():
        raise InputError(
            f"class(es) with fewer than 3 images: {_rare(counts, 3, class_names)}; a stratified "
            "train/val/test split needs at least 3 per class (add images or drop those classes)"
        )
    try:
        rest, test = train_test_split(
            indices, test_size=test_fraction, stratify=labels, random_state=seed
        )
        if val_fraction > 0:
            val_share = val_fraction / (1.0 - test_fraction)
            train, val = train_test_split(
                rest, test_size=val_share, stratify=labels[rest], random_state=seed
            )
        else:
            train, val = rest, rest[:0]
    except ValueError as err:  # e.g. fewer held-out images than classes
        raise InputError(f"cannot split {len(labels)} images into stratified train/val/test "
                         f"parts: {err}; add images or raise data.val_fraction/test_fraction"
                         ) from None
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _split_multilabel(labels: np.ndarray, *, val_fraction: float, test_fraction: float,
                      seed: int) -> dict[str, np.ndarray]:
    indices = np.arange(len(labels))
    rest, test = _cut(indices, labels, test_fraction, seed, "test")
    val_share = val_fraction / (1.0 - test_fraction)
    train, val = _cut(rest, labels, val_share, seed, "val")
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _cut(indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int,
         name: str) -> tuple[np.ndarray, np.ndarray]:
    """`indices` cut into (kept, `fraction` of them), stratified by rarest label."""
    from sklearn.model_selection import train_test_split

    strata = rarest_label_strata(labels[indices], min_size=min_stratum_size(fraction))
    try:
        return tuple(train_test_split(indices, test_size=fraction, stratify=strata,
                                      random_state=seed))
    except ValueError as err:  # e.g. fewer images than the held-out part needs
        raise InputError(f"cannot cut a stratified {name} split out of {len(indices)} "
                         f"multi-label images: {err}; add images or change "
                         "data.val_fraction/test_fraction") from None


def assign_splits(
    labels: np.ndarray, source_splits: Optional[Sequence[str]], *, val_fraction: float,
    test_fraction: float, seed: int, class_names: Optional[Sequence[str]] = None
) -> dict[str, np.ndarray]:
    """Train/val/test index arrays for images with `labels`, keeping a source's own split.

    Without `source_splits`: `stratified_split`. With them ('train' | 'val' | 'test' per image),
    a split the source has is kept as it is; one it lacks is carved, stratified and seeded, out
    of its train images: val takes `val_fraction` of them, test `test_fraction` (multi-label:
    stratified by rarest label).
    `class_names` (indexed by label) name the classes in errors.
    """
    if source_splits is None:
        return stratified_split(labels, val_fraction=val_fraction, test_fraction=test_fraction,
                                seed=seed, class_names=class_names)
    given = np.asarray(source_splits)
    parts = {s: np.flatnonzero(given == s) for s in ("train", "val", "test")}
    for split, fraction in (("test", test_fraction), ("val", val_fraction)):
        if len(parts[split]) == 0:
            parts["train"], parts[split] = _carve(parts["train"], labels, fraction, seed, split,
                                                  class_names)
    return {s: np.sort(idx) for s, idx in parts.items()}


def _carve(indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int,
           name: str, class_names: Optional[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    if labels.ndim == 2:
        return _cut(indices, labels, fraction, seed, name)
    sub = labels[indices]
    counts = np.bincount(sub)
    if ((counts > 0) & (counts < 2)).any():
        raise InputError(
            f"class(es) with fewer than 2 train images: {_rare(counts, 2, class_names)}; carving "
            f"a stratified {name} split out of train needs at least 2 per class (add images, or "
            f"give the source its own {name} split)"
        )
    try:
        keep, carved = train_test_split(indices, test_size=fraction, stratify=sub,
                                        random_state=seed)
    except ValueError as err:  # e.g. fewer held-out images than classes
        raise InputError(f"cannot carve a stratified {name} split out of {len(indices)} train "
                         f"images: {err}") from None
    return keep, carved


def _rare(counts: np.ndarray, least: int, class_names: Optional[Sequence[str]],
          shown: int = 10) -> str:
    """"'cat' has 2, 'emu' has 1": the classes with images but fewer than `least`, by name
    (by label number without names), the first `shown` of them."""
    rare = np.flatnonzero((counts > 0) & (counts < least))
    names = [repr(class_names[c]) if class_names is not None and c < len(class_names)
             else f"label {c}" for c in rare]
    text = ", ".join(f"{name} has {counts[c]}" for name, c in zip(names[:shown], rare))
    return text + (f", and {len(rare) - shown} more" if len(rare) > shown else "")
