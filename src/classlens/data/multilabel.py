"""Multi-label data (uint8 (N, K) multi-hot labels): the stratum each image is split and sampled
by.

scikit-learn stratifies by one value per image; a multi-label image has a set. The stratum of
an image is its rarest label (rarest among the images given), so every label, rare ones first,
is spread over the splits in proportion; images without a label are a stratum of their own.
(Iterative stratification, scikit-multilearn's, balances all labels at once; it is not a
dependency, and the rarest label keeps the labels that need it most present in each split.)
"""

from __future__ import annotations

import numpy as np


def rarest_label_strata(labels: np.ndarray, *, min_size: int = 1) -> np.ndarray:
    """One stratum per image (int64 (N,)): the index of its rarest label (ties: the first in
    class order), K for an image without a label.

    Strata with fewer than `min_size` images are pooled into one stratum (K + 1); a pool still
    smaller than `min_size` joins the largest stratum, so every stratum has `min_size` images
    when there are that many in all.

    >>> rarest_label_strata(np.array([[1, 1], [1, 0], [0, 0]], np.uint8)).tolist()
    [1, 0, 2]
    """
    labels = np.asarray(labels)
    n, k = labels.shape
    counts = labels.sum(axis=0, dtype=np.int64)
    # a label an image does not carry counts as more frequent than any it carries
    rank = np.where(labels > 0, counts[np.newaxis, :], n + 1)
    strata = np.where(labels.any(axis=1), np.argmin(rank, axis=1), k).astype(np.int64)
    if min_size <= 1 or n == 0:
        return strata
    sizes = np.bincount(strata, minlength=k + 2)
    small = sizes[strata] < min_size
    if small.any():
        strata[small] = k + 1
        if small.sum() < min_size:
            sizes = np.bincount(strata, minlength=k + 2)
            sizes[k + 1] = 0
            strata[small] = int(np.argmax(sizes)) if sizes.any() else k + 1
    return strata


def min_stratum_size(fraction: float) -> int:
    """The fewest images a stratum needs so that a seeded `train_test_split(test_size=fraction,
    stratify=...)` can give every stratum a place on both sides (scikit-learn refuses more
    strata than either side has images), and never fewer than 3."""
    smaller = min(fraction, 1.0 - fraction)
    return max(3, int(np.ceil(1.0 / smaller)) + 1) if smaller > 0 else 3

