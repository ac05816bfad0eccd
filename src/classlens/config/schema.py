"""The schema of params.yaml: the root `Config`, composed of the option dataclasses that the
packages owning each section define (`<package>/options.py`), and its registration in Hydra's
ConfigStore so Hydra applications and the tests can compose `conf/` against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from classlens.analysis.options import AnalyzeConfig
from classlens.data.options import DataConfig
from classlens.evaluation.options import EvaluateConfig, GateConfig, PredictConfig
from classlens.explain.options import ExplainConfig
from classlens.models.options import MODEL_OPTIONS
from classlens.task import TaskConfig
from classlens.tracking.options import TrackingConfig
from classlens.training.options import TrainConfig


@dataclass
class Config:
    """Every section is required; `model` is the schema `model.architecture` names
    (`classlens.models.options.MODEL_OPTIONS`: CNNOptions, BackboneOptions, MobileNetOptions or
    ProvidedOptions), chosen when params are validated."""

    seed: int = MISSING
    task: TaskConfig = MISSING
    data: DataConfig = MISSING
    model: Any = MISSING
    train: TrainConfig = MISSING
    predict: PredictConfig = MISSING
    evaluate: EvaluateConfig = MISSING
    analyze: AnalyzeConfig = MISSING
    explain: ExplainConfig = MISSING
    tracking: TrackingConfig = MISSING
    gate: GateConfig = MISSING


def register_configs() -> None:
    """Register the schema in Hydra's ConfigStore: `classlens_schema`, one `base` node per
    section group, and one node per architecture in `schema/model`."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="classlens_schema", node=Config)
    for group, node in (
        ("task", TaskConfig),
        ("data", DataConfig),
        ("train", TrainConfig),
        ("predict", PredictConfig),
        ("evaluate", EvaluateConfig),
        ("analyze", AnalyzeConfig),
        ("explain", ExplainConfig),
        ("tracking", TrackingConfig),
        ("gate", GateConfig),
    ):
        cs.store(group=f"schema/{group}", name="base", node=node)
    for architecture, node in MODEL_OPTIONS.items():
        cs.store(group="schema/model", name=architecture, node=node)
