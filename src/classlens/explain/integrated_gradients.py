"""Integrated Gradients (Sundararajan et al. 2017) of the target logit, batched over images and
path steps, with the completeness gap that checks each map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classlens.explain.base import Explainer, add_rows, gradient_function, row_batches
from classlens.explain.baselines import check_baseline, make_baseline


@dataclass(frozen=True)
class IntegratedGradientsResult:
    """Maps and the completeness check, per image.

    `maps` sum the signed attributions over channels, so `maps[i].sum()` is the total
    attribution; completeness says it equals `delta[i] = F(x) - F(baseline)` (F the target logit),
    and `gap[i] = |maps[i].sum() - delta[i]|` measures how far the path integral's approximation
    is from that (more steps shrink it).
    """

    maps: np.ndarray
    delta: np.ndarray
    gap: np.ndarray

    @property
    def relative_gap(self) -> np.ndarray:
        """gap / |F(x) - F(baseline)| (infinite where the two logits are equal)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.delta != 0, self.gap / np.abs(self.delta), np.inf)


class IntegratedGradients(Explainer):
    """(x - baseline) times the gradient averaged along the straight path from the baseline to
    x (midpoint rule over `steps` intervals), summed over channels (signed).

    Args:
        steps: intervals of the path (steps + 2 model passes per image: the midpoints and the
            two ends).
        baseline: `black`, `mean` or `blur` (see `classlens.explain.baselines`).
    """

    name = "integrated_gradients"
    signed = True

    def __init__(self, model, *, batch_size: int = 64, steps: int = 64,
                 baseline: str = "black"):
        super().__init__(model, batch_size=batch_size)
        if steps < 1:
            raise ValueError(f"`steps` must be >= 1; received steps={steps!r}")
        self.steps, self.baseline = int(steps), check_baseline(baseline)
        self._gradients = gradient_function(self.logits)

    def _explain(self, images, targets):
        return self._attribute(images, targets).maps

    def attribute(self, images, targets) -> IntegratedGradientsResult:
        """Maps plus each image's completeness gap (see `IntegratedGradientsResult`)."""
        x, t = self._check(images, targets)
        return self._attribute(x, t)

    def _attribute(self, images, targets) -> IntegratedGradientsResult:
        baseline = make_baseline(images, self.baseline)
        # Rows per image: alpha = 0 and 1 (for F(baseline) and F(x) only, weight 0), then the
        # midpoints of `steps` equal intervals. The midpoint rule keeps away from alpha = 0,
        # where a ReLU network's gradient is often undefined (TensorFlow returns 0 there).
        alphas = np.concatenate([[0.0, 1.0], (np.arange(self.steps) + 0.5) / self.steps])
        weights = np.concatenate([[0.0, 0.0], np.full(self.steps, 1.0 / self.steps)])
        alphas = alphas.astype(np.float32)
        path_sum = np.zeros(images.shape, dtype=np.float64)
        endpoints = np.zeros((len(images), 2), dtype=np.float64)
        for image_idx, step_idx in row_batches(len(images), self.steps + 2, self.batch_size):
            a = alphas[step_idx][:, None, None, None]
            points = baseline[image_idx] + a * (images[image_idx] - baseline[image_idx])
            grads, chosen = self._gradients(points, targets[image_idx])
            add_rows(path_sum, image_idx, grads.numpy() * weights[step_idx][:, None, None, None])
            ends = step_idx < 2
            endpoints[image_idx[ends], step_idx[ends]] = chosen.numpy()[ends]
        attributions = (images - baseline) * path_sum
        maps = attributions.sum(axis=-1)
        delta = endpoints[:, 1] - endpoints[:, 0]
        gap = np.abs(maps.sum(axis=(1, 2)) - delta)
        return IntegratedGradientsResult(maps=maps.astype(np.float32), delta=delta, gap=gap)
