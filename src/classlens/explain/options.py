"""The `explain` section of params.yaml (no TensorFlow; `classlens.config` composes it).

Every field is MISSING: the values live in conf/, so a key absent from params.yaml fails at load
time with its dotted name."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class GradientsConfig:
    reduce: str = MISSING


@dataclass
class SmoothGradConfig:
    samples: int = MISSING
    noise: float = MISSING
    reduce: str = MISSING


@dataclass
class IntegratedGradientsConfig:
    steps: int = MISSING
    baseline: str = MISSING


@dataclass
class GradCAMConfig:
    layer: str = MISSING


@dataclass
class OcclusionConfig:
    patch: int = MISSING
    stride: int = MISSING
    baseline: str = MISSING


@dataclass
class ActivationsConfig:
    layers: list[str] = MISSING
    images: int = MISSING
    channels: int = MISSING


@dataclass
class TrustConfig:
    images: int = MISSING
    steps: int = MISSING
    baseline: str = MISSING
    random_orders: int = MISSING
    min_gain: float = MISSING
    randomization_checkpoints: int = MISSING
    max_spearman: float = MISSING


@dataclass
class ExplainConfig:
    """Which test images are explained, by which methods (`classlens.explain.METHODS`) with which
    options, and the trust checks (README "Explanations")."""

    n_misclassified: int = MISSING
    n_correct: int = MISSING
    n_per_class: int = MISSING
    methods: list[str] = MISSING
    batch_size: int = MISSING
    gradients: GradientsConfig = MISSING
    smoothgrad: SmoothGradConfig = MISSING
    integrated_gradients: IntegratedGradientsConfig = MISSING
    gradcam: GradCAMConfig = MISSING
    occlusion: OcclusionConfig = MISSING
    activations: ActivationsConfig = MISSING
    trust: TrustConfig = MISSING
