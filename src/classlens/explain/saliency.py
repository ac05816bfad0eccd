"""Gradient saliency: vanilla gradients (Simonyan et al. 2014) and SmoothGrad (Smilkov et al.
2017) of the target class's logit, batched."""

from __future__ import annotations

import numpy as np

from classlens.explain.base import (Explainer, add_rows, gradient_function, reduce_channels,
                                    row_batches)

REDUCTIONS = ("max", "mean")


def _check_reduce(reduce: str) -> str:
    if reduce not in REDUCTIONS:
        raise ValueError(f"`reduce` must be one of {list(REDUCTIONS)}; received reduce={reduce!r}")
    return reduce


class VanillaGradients(Explainer):
    """|d logit[target] / d pixel|, reduced over channels by `max` or `mean`.

    Gradients are of the logit, not the softmax, so a confident prediction's map is not
    flattened by saturation.
    """

    name = "gradients"

    def __init__(self, model, *, batch_size: int = 64, reduce: str = "max"):
        super().__init__(model, batch_size=batch_size)
        self.reduce = _check_reduce(reduce)
        self._gradients = gradient_function(self.logits)

    def _explain(self, images, targets):
        grads = [self._gradients(images[s], targets[s])[0].numpy()
                 for s in self._batches(len(images))]
        return reduce_channels(np.concatenate(grads), self.reduce)


class SmoothGrad(Explainer):
    """Gradients averaged over `samples` noisy copies of each image, then |.| reduced over
    channels (Smilkov et al. 2017).

    Args:
        samples: noisy copies per image.
        noise: standard deviation of the Gaussian noise as a fraction of each image's value range
            (max - min), the paper's "noise level" (10-20% works well).
        reduce: `max` or `mean` over channels.
        seed: the noise for image i of a call is drawn from `seed` and i, so maps do not depend
            on `batch_size` and reruns are identical.
    """

    name = "smoothgrad"

    def __init__(self, model, *, batch_size: int = 64, samples: int = 32, noise: float = 0.15,
                 reduce: str = "max", seed: int = 0):
        super().__init__(model, batch_size=batch_size)
        if samples < 1:
            raise ValueError(f"`samples` must be >= 1; received samples={samples!r}")
        if not 0 <= noise <= 1:
            raise ValueError(f"`noise` must be in [0, 1]; received noise={noise!r}")
        self.samples, self.noise, self.seed = int(samples), float(noise), int(seed)
        self.reduce = _check_reduce(reduce)
        self._gradients = gradient_function(self.logits)

    def _noise(self, image: np.ndarray, index: int) -> np.ndarray:
        spread = float(image.max() - image.min()) or 1.0
        rng = np.random.default_rng([self.seed, index])
        return rng.normal(0.0, self.noise * spread, (self.samples, *image.shape)).astype(
            np.float32)

    def _explain(self, images, targets):
        total = np.zeros(images.shape, dtype=np.float64)
        for image_idx, sample_idx in row_batches(len(images), self.samples, self.batch_size):
            # an image whose samples straddle two passes draws the same noise in both
            noise = {i: self._noise(images[i], int(i)) for i in np.unique(image_idx)}
            noisy = images[image_idx] + np.stack([noise[i][s]
                                                  for i, s in zip(image_idx, sample_idx)])
            grads = self._gradients(noisy, targets[image_idx])[0].numpy()
            add_rows(total, image_idx, grads)
        return reduce_channels(total / self.samples, self.reduce)
