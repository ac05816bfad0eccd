"""Occlusion sensitivity (Zeiler & Fergus 2014): how much the target logit drops when a patch of
the image is replaced by a baseline, averaged over the patches covering each pixel; batched over
images and patch positions."""

from __future__ import annotations

import numpy as np

from classlens.explain.base import Explainer, row_batches, target_logit_function
from classlens.explain.baselines import check_baseline, make_baseline


def patch_masks(height: int, width: int, patch: int, stride: int) -> np.ndarray:
    """(P, H, W) boolean masks of the square patches, `stride` apart, the last row and column of
    patches flush with the image edge so every pixel is covered."""
    def starts(size):
        last = max(size - patch, 0)
        return sorted(set(range(0, last + 1, stride)) | {last})

    masks = []
    for top in starts(height):
        for left in starts(width):
            mask = np.zeros((height, width), dtype=bool)
            mask[top:top + patch, left:left + patch] = True
            masks.append(mask)
    return np.stack(masks)


class Occlusion(Explainer):
    """Signed map: positive where hiding the pixel lowers the target logit (evidence for the
    class), negative where it raises it.

    Args:
        patch: side of the square patch, in pixels.
        stride: pixels between neighbouring patches.
        baseline: what replaces the patch: `black`, `mean` or `blur`.
    """

    name = "occlusion"
    signed = True

    def __init__(self, model, *, batch_size: int = 64, patch: int = 2, stride: int = 1,
                 baseline: str = "black"):
        super().__init__(model, batch_size=batch_size)
        height, width = self.model.inputs[0].shape[1:3]
        if not 1 <= patch <= min(height, width):
            raise ValueError(f"`patch` must be in [1, {min(height, width)}] for {height}x{width} "
                             f"images; received patch={patch!r}")
        if not 1 <= stride <= patch:
            raise ValueError(f"`stride` must be in [1, patch={patch}] so every pixel is covered; "
                             f"received stride={stride!r}")
        self.patch, self.stride, self.baseline = int(patch), int(stride), check_baseline(baseline)
        self.masks = patch_masks(height, width, self.patch, self.stride)
        self._scores = target_logit_function(self.logits)

    def _explain(self, images, targets):
        baseline = make_baseline(images, self.baseline)
        original = np.concatenate([self._scores(images[s], targets[s]).numpy()
                                   for s in self._batches(len(images))])
        drops = np.zeros((len(images), len(self.masks)), dtype=np.float64)
        for image_idx, patch_idx in row_batches(len(images), len(self.masks), self.batch_size):
            hidden = self.masks[patch_idx][..., None]
            occluded = np.where(hidden, baseline[image_idx], images[image_idx])
            drops[image_idx, patch_idx] = (original[image_idx]
                                           - self._scores(occluded, targets[image_idx]).numpy())
        coverage = self.masks.sum(axis=0)
        return np.einsum("np,phw->nhw", drops, self.masks) / coverage
