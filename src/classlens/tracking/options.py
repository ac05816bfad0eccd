"""The `tracking` section of params.yaml: which MLflow store and experiment the runs go to."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class TrackingConfig:
    uri: str = MISSING
    experiment: str = MISSING
