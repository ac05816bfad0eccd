"""Deletion and insertion curves (Petsiuk et al. 2018, RISE): remove (or add) pixels in the
order a map ranks them and track the target's probability: the model's own output for it, a
class's softmax share or, for a sigmoid model (binary, multi-label), the label's own sigmoid,
which no other label's score moves. Compared with random orders, so a map that orders pixels no
better than chance is caught.

Deletion starts from the image and replaces pixels by the baseline, most important first: a
faithful map makes the probability fall fast (low area under the curve). Insertion starts from
the baseline and puts pixels back: a faithful map makes it rise fast (high area).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classlens.explain.base import batch_signature, row_batches
from classlens.explain.baselines import check_baseline, make_baseline


@dataclass(frozen=True)
class DeletionInsertion:
    """Curves of one method over N images: (N, steps + 1) probabilities at `fractions` of the
    pixels removed (deletion) or inserted (insertion); `random_*` average `random_orders`
    random pixel orders per image."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray

    @staticmethod
    def area(curves: np.ndarray) -> np.ndarray:
        """Area under each curve over fractions 0..1 (trapezoidal rule)."""
        return np.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), axis=1)

    def summary(self, *, min_gain: float = 0.0) -> dict:
        """Mean AUCs, the gain over random (positive = better than random, for both curves), the
        share of images where the map beats random, and whether it is flagged: a gain of at most
        `min_gain` on either curve means the map orders pixels no better than chance."""
        deletion, insertion = self.area(self.deletion), self.area(self.insertion)
        random_deletion = self.area(self.random_deletion)
        random_insertion = self.area(self.random_insertion)
        deletion_gain = float(np.mean(random_deletion - deletion))
        insertion_gain = float(np.mean(insertion - random_insertion))
        return {
            "deletion_auc": float(deletion.mean()),
            "deletion_auc_random": float(random_deletion.mean()),
            "deletion_gain": deletion_gain,
            "deletion_win_rate": float(np.mean(deletion < random_deletion)),
            "insertion_auc": float(insertion.mean()),
            "insertion_auc_random": float(random_insertion.mean()),
            "insertion_gain": insertion_gain,
            "insertion_win_rate": float(np.mean(insertion > random_insertion)),
            "no_better_than_random": bool(deletion_gain <= min_gain
                                          or insertion_gain <= min_gain),
        }


def pixel_ranks(maps: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """(N, H, W) -> (N, H, W) int: 0 for each map's highest value, 1 for the next... Ties are
    broken at random (a constant map must not mean "top-left first")."""
    flat = maps.reshape(len(maps), -1)
    ranks = np.empty(flat.shape, dtype=np.int64)
    for i, values in enumerate(flat):
        order = np.lexsort((rng.random(values.size), -values))
        ranks[i, order] = np.arange(values.size)
    return ranks.reshape(maps.shape)


def deletion_insertion(model, images, maps, targets, *, steps: int = 16,
                       baseline: str = "black", random_orders: int = 4, seed: int = 0,
                       batch_size: int = 64) -> DeletionInsertion:
    """Deletion and insertion curves of `maps` and of random orders, batched over images, orders
    and steps.

    Args:
        model: the classifier; its output at the target is tracked (softmax: the class's
            probability; sigmoid: the label's own probability, not a softmax over labels).
        images: (N, H, W, C) as the model takes them.
        maps: (N, H, W) attribution maps, higher = more important (signed maps rank positive
            evidence first).
        targets: (N,) the class or label whose probability is tracked (a predicted one).
        steps: points along each curve beyond the start (pixels change in steps of 1/steps).
        baseline: what removed pixels become: `black`, `mean` or `blur`.
        random_orders: random pixel orders averaged for the reference curves.
        seed: seeds the random orders and tie-breaking.
        batch_size: model inputs per pass.
    """
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    maps, targets = np.asarray(maps), np.asarray(targets, dtype=np.int32)
    if maps.shape != images.shape[:3] or targets.shape != (len(images),):
        raise ValueError(f"`maps` must be (N, H, W) and `targets` (N,) for images of shape "
                         f"{images.shape}; received maps.shape={maps.shape}, "
                         f"targets.shape={targets.shape}")
    if steps < 1 or random_orders < 1:
        raise ValueError(f"`steps` and `random_orders` must be >= 1; received steps={steps}, "
                         f"random_orders={random_orders}")
    check_baseline(baseline)
    rng = np.random.default_rng(seed)
    n, height, width = maps.shape
    orders = 1 + random_orders
    # ranks[i, o]: order 0 is the map's, orders 1.. are random permutations of the pixels
    ranks = np.stack([pixel_ranks(maps, rng=rng)]
                     + [pixel_ranks(rng.random(maps.shape), rng=rng)
                        for _ in range(random_orders)], axis=1)
    counts = np.rint(np.linspace(0, height * width, steps + 1)).astype(np.int64)
    removed = make_baseline(images, baseline)

    @tf.function(input_signature=batch_signature(model))
    def probability(x, t):
        return tf.cast(tf.gather(model(x, training=False), t, axis=1, batch_dims=1), tf.float32)

    per_image = orders * 2 * (steps + 1)
    curves = np.zeros((n, orders, 2, steps + 1), dtype=np.float64)
    for image_idx, sub in row_batches(n, per_image, batch_size):
        order, kind, step = sub // (2 * (steps + 1)), (sub // (steps + 1)) % 2, sub % (steps + 1)
        changed = (ranks[image_idx, order] < counts[step][:, None, None])[..., None]
        deleting = (kind == 0)[:, None, None, None]
        start, end = images[image_idx], removed[image_idx]
        rows = np.where(changed, np.where(deleting, end, start), np.where(deleting, start, end))
        curves[image_idx, order, kind, step] = probability(rows, targets[image_idx]).numpy()
    return DeletionInsertion(
        fractions=counts / (height * width),
        deletion=curves[:, 0, 0], insertion=curves[:, 0, 1],
        random_deletion=curves[:, 1:, 0].mean(axis=1),
        random_insertion=curves[:, 1:, 1].mean(axis=1),
    )
