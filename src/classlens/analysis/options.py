"""The `analyze` section of params.yaml (`classlens.config` composes it).

Every field is MISSING: the values live in conf/, so a key absent from params.yaml fails at load
time with its dotted name."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class AnalyzeConfig:
    """Error analysis: galleries, confidence lists, weak classes, label-issue suspects."""

    gallery_size: int = MISSING
    top_pairs: int = MISSING
    pair_gallery_size: int = MISSING
    class_gallery_size: int = MISSING
    max_class_galleries: int = MISSING
    low_confidence: float = MISSING
    confident_wrong: float = MISSING
    weak_f1: float = MISSING
    suspect_score: str = MISSING  # analysis.label_issues.SCORES
