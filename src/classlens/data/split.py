"""Deterministic stratified train/val/test split."""

from __future__ import annotations

import numpy as np

from classlens.errors import InputError


def stratified_split(
    labels: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Split indices 0..N-1 into sorted 'train', 'val' and 'test' index arrays, each keeping the
    class proportions of `labels` (scikit-learn's `train_test_split(stratify=...)`, seeded).

    >>> parts = stratified_split(np.repeat([0, 1], 10), val_fraction=0.2, test_fraction=0.2, seed=0)
    >>> [len(parts[s]) for s in ("train", "val", "test")]
    [12, 4, 4]
    """
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    counts = np.bincount(labels)
    if (counts[counts > 0] < 3).any():
        rare = [int(c) for c in np.flatnonzero((counts > 0) & (counts < 3))]
        raise InputError(
            f"classes {rare} have fewer than 3 images; a stratified train/val/test split needs "
            "at least 3 per class (add images or drop those classes)"
        )
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
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
