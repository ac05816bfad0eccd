"""Error analysis from the prediction table and probabilities alone (no model, no TensorFlow):
outcomes (right/wrong, hesitant, confidently wrong), confused pairs, weak classes, label-issue
suspects, and which images each gallery shows; multi-label runs have their own (multilabel,
multilabel_galleries)."""

from classlens.analysis.galleries import Gallery, build_galleries, caption, image_count
from classlens.analysis.label_issues import label_suspects, per_class_thresholds
from classlens.analysis.multilabel import (
    confidently_wrong_decisions,
    cross_label_pairs,
    label_decisions,
    low_confidence_decisions,
    multilabel_suspects,
    split_by_exact_match,
    symmetric_cross_label_pairs,
    weak_labels,
    with_image_columns,
)
from classlens.analysis.multilabel_galleries import build_multilabel_galleries, multilabel_caption
from classlens.analysis.outcomes import confidently_wrong, low_confidence, split_by_correctness
from classlens.analysis.pairs import confused_pairs, symmetric_pairs
from classlens.analysis.weak_classes import weak_classes

__all__ = [
    "Gallery", "build_galleries", "caption", "image_count", "label_suspects",
    "per_class_thresholds", "confidently_wrong", "low_confidence", "split_by_correctness",
    "confused_pairs", "symmetric_pairs", "weak_classes", "confidently_wrong_decisions",
    "cross_label_pairs", "label_decisions", "low_confidence_decisions", "multilabel_suspects",
    "split_by_exact_match", "symmetric_cross_label_pairs", "weak_labels", "with_image_columns",
    "build_multilabel_galleries", "multilabel_caption",
]
