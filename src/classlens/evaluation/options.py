"""The `predict`, `evaluate` and `gate` sections of params.yaml (no TensorFlow;
`classlens.config` composes them).

Fields without a default are MISSING: their values live in conf/, so a key absent from
params.yaml fails at load time with its dotted name. A gate rule's limits default to null."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING


@dataclass
class PredictConfig:
    top_k: int = MISSING
    batch_size: int = MISSING


@dataclass
class EvaluateConfig:
    """Metrics of the test predictions, their bootstrap intervals and calibration."""

    top_k: int = MISSING
    bootstrap_resamples: int = MISSING
    bootstrap_seed: int = MISSING
    ci_level: float = MISSING
    calibration_bins: int = MISSING
    confusion_order: str = MISSING  # evaluation.class_order.ORDERS
    curve_points: int = MISSING


@dataclass
class GateRuleConfig:
    """One gate rule (see classlens.evaluation.gate.Rule); unset limits are null."""

    metric: str = MISSING
    direction: Optional[str] = None
    floor: Optional[float] = None
    max_drop: Optional[float] = None
    max_relative_drop: Optional[float] = None
    noise: Optional[str] = None


@dataclass
class GateConfig:
    baseline_rev: str = MISSING
    baseline_file: Optional[str] = MISSING
    noise: str = MISSING  # evaluation.gate.NOISE_MODES
    fail_pipeline: bool = MISSING
    rules: list[GateRuleConfig] = MISSING
