"""Reference images meaning "no information": the start of an Integrated Gradients path, what
occlusion pastes in, and what deletion/insertion put in place of removed pixels."""

from __future__ import annotations

import numpy as np

BASELINES = ("black", "mean", "blur")


def make_baseline(images: np.ndarray, kind: str) -> np.ndarray:
    """A baseline per image, same shape as `images` (N, H, W, C), float32.

    Args:
        kind: `black` (all zeros: black for the raw 0-255 images classlens models take),
            `mean` (each image's per-channel mean: removes structure, keeps brightness), or
            `blur` (a Gaussian blur with sigma = max(H, W) / 8: removes detail, keeps layout).
    """
    images = np.asarray(images, dtype=np.float32)
    if kind == "black":
        return np.zeros_like(images)
    if kind == "mean":
        return np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape).copy()
    if kind == "blur":
        from scipy.ndimage import gaussian_filter

        sigma = max(images.shape[1:3]) / 8
        return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="nearest").astype(
            np.float32)
    raise ValueError(f"`baseline` must be one of {list(BASELINES)}; received baseline={kind!r}")


def check_baseline(kind: str) -> str:
    if kind not in BASELINES:
        raise ValueError(f"`baseline` must be one of {list(BASELINES)}; received "
                         f"baseline={kind!r}")
    return kind
