"""What each value of params.yaml may be: ONE table of constraints keyed by dotted path, checked
once, at load time, after the schema's type checks (`classlens.config.compose.validate`).

The accepted names come from the modules that own them (the data sources, the resize modes, the
architectures, the distribution modes, the explanation methods, ...), so a name added there is
accepted here. A key under `model.` applies only when the schema of `model.architecture` has it.
The few rules that relate two keys follow the table (`CROSS_CHECKS`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from classlens.analysis.label_issues import SCORES as _SUSPECT_SCORES
from classlens.data.conform import IMAGE_SIZE, INTERPOLATIONS, RESIZE_MODES
from classlens.data.sources import SOURCES as _SOURCES
from classlens.errors import ConfigError, Constraint, in_range, one_of
from classlens.evaluation.class_order import ORDERS as _CONFUSION_ORDERS
from classlens.evaluation.gate import NOISE_MODES
from classlens.explain import METHODS as _EXPLAIN_METHODS
from classlens.explain.baselines import BASELINES as EXPLAIN_BASELINES
from classlens.explain.saliency import REDUCTIONS as SALIENCY_REDUCTIONS
from classlens.models.options import (BACKBONES, CNN_HEADS, CNN_PADDINGS, INPUT_SCALINGS,
                                      MODEL_ARCHITECTURES, MODEL_OUTPUTS, BackboneOptions)
from classlens.task import KIND, THRESHOLD_RULES
from classlens.training.options import DISTRIBUTION, SCHEDULES

DATA_SOURCES = tuple(_SOURCES)
DATA_RESIZE_MODES = RESIZE_MODES  # what classlens.data.conform (Pillow) does
DATA_INTERPOLATIONS = INTERPOLATIONS
EXPLAIN_METHODS = tuple(_EXPLAIN_METHODS)
CONFUSION_ORDERS = tuple(_CONFUSION_ORDERS)
LABEL_SUSPECT_SCORES = tuple(sorted(_SUSPECT_SCORES))
__all__ = ["BACKBONES", "CNN_HEADS", "CNN_PADDINGS", "CONFUSION_ORDERS", "CONSTRAINTS",
           "DATA_INTERPOLATIONS", "DATA_RESIZE_MODES", "DATA_SOURCES", "EXPLAIN_BASELINES",
           "EXPLAIN_METHODS", "INPUT_SCALINGS", "LABEL_SUSPECT_SCORES", "MODEL_ARCHITECTURES",
           "MODEL_OUTPUTS", "SALIENCY_REDUCTIONS", "check"]


_POSITIVE_INT = Constraint(lambda v: v >= 1, "be a positive integer")
_POSITIVE = Constraint(lambda v: v > 0, "be a positive number")
_DROPOUT = Constraint(lambda v: 0 <= v < 1, "be in [0, 1)")
_COUNT = in_range(0, 10_000)

CONSTRAINTS: dict[str, Constraint] = {
    "task.kind": KIND,
    "task.threshold_rule": one_of(THRESHOLD_RULES),
    "task.threshold_target": Constraint(lambda v: 0 < v <= 1, "be in (0, 1]"),
    "task.threshold": in_range(0.0, 1.0),
    "data.source": one_of(DATA_SOURCES),
    "data.resize": one_of(DATA_RESIZE_MODES),
    "data.interpolation": one_of(DATA_INTERPOLATIONS),
    "data.channels": one_of((0, 1, 3)),
    "data.image_size": IMAGE_SIZE,
    "data.val_fraction": in_range(0.01, 0.9),
    "data.test_fraction": in_range(0.01, 0.9),
    "data.max_per_class": in_range(0, 1_000_000_000),
    "data.max_image_pixels": in_range(1, 10**12),
    "data.max_skipped_fraction": in_range(0.0, 1.0),
    "data.workers": in_range(0, 256),
    "data.memory_cache_mb": in_range(0, 10**7),
    "model.architecture": one_of(MODEL_ARCHITECTURES),
    # cnn
    "model.filters": Constraint(lambda v: bool(v) and all(f >= 1 for f in v),
                                "be a non-empty list of positive integers"),
    "model.convs_per_block": _POSITIVE_INT,
    "model.kernel_size": _POSITIVE_INT,
    "model.block_dropout": _DROPOUT,
    "model.padding": one_of(CNN_PADDINGS),
    "model.head": one_of(CNN_HEADS),
    "model.dense_units": Constraint(lambda v: v >= 0, "be 0 (none) or a positive integer"),
    # cnn and backbones
    "model.head_dropout": _DROPOUT,
    # backbones
    "model.weights": Constraint(lambda v: v is None or bool(v.strip()),
                                "be imagenet, null or a weights file path"),
    "model.input_size": Constraint(lambda v: v is None or v >= 1, "be null or a positive integer"),
    "model.alpha": _POSITIVE,
    "model.fine_tune.epochs": Constraint(lambda v: 0 <= v <= 100_000,
                                         "be in [0, 100000] (0: no fine-tuning)"),
    "model.fine_tune.learning_rate": _POSITIVE,
    # file
    "model.path": Constraint(lambda v: bool(v.strip()),
                             "be the path of a .keras or .h5 classifier"),
    "model.input_scaling": one_of(INPUT_SCALINGS),
    "model.output": one_of(MODEL_OUTPUTS),
    "train.epochs": in_range(1, 100_000),
    "train.batch_size": in_range(1, 1_000_000),
    "train.distribution": DISTRIBUTION,
    "train.schedule": one_of(SCHEDULES),
    "train.warmup_fraction": in_range(0.0, 0.9),
    "predict.top_k": in_range(1, 1_000),
    "predict.batch_size": in_range(1, 1_000_000),
    "evaluate.top_k": in_range(1, 1_000),
    "evaluate.bootstrap_resamples": in_range(0, 1_000_000),
    "evaluate.ci_level": in_range(0.5, 0.999),
    "evaluate.calibration_bins": in_range(1, 1_000),
    "evaluate.curve_points": in_range(2, 1_000_000),
    "evaluate.confusion_order": one_of(CONFUSION_ORDERS),
    "analyze.gallery_size": _COUNT,
    "analyze.top_pairs": in_range(0, 1_000_000),
    "analyze.pair_gallery_size": _COUNT,
    "analyze.class_gallery_size": _COUNT,
    "analyze.max_class_galleries": in_range(0, 100_000),
    "analyze.low_confidence": in_range(0.0, 1.0),
    "analyze.confident_wrong": in_range(0.0, 1.0),
    "analyze.weak_f1": in_range(0.0, 1.0),
    "analyze.suspect_score": one_of(LABEL_SUSPECT_SCORES),
    "explain.n_misclassified": _COUNT,
    "explain.n_correct": _COUNT,
    "explain.n_per_class": _COUNT,
    "explain.batch_size": in_range(1, 1_000_000),
    "explain.methods": Constraint(lambda v: all(m in EXPLAIN_METHODS for m in v)
                                  and len(set(v)) == len(v),
                                  f"list distinct names from {list(EXPLAIN_METHODS)}"),
    "explain.gradients.reduce": one_of(SALIENCY_REDUCTIONS),
    "explain.smoothgrad.samples": in_range(1, 10_000),
    "explain.smoothgrad.noise": in_range(0.0, 1.0),
    "explain.smoothgrad.reduce": one_of(SALIENCY_REDUCTIONS),
    "explain.integrated_gradients.steps": in_range(1, 100_000),
    "explain.integrated_gradients.baseline": one_of(EXPLAIN_BASELINES),
    "explain.occlusion.patch": in_range(1, 10_000),
    "explain.occlusion.stride": in_range(1, 10_000),
    "explain.occlusion.baseline": one_of(EXPLAIN_BASELINES),
    "explain.activations.images": in_range(0, 1_000),
    "explain.activations.channels": in_range(1, 10_000),
    "explain.trust.images": in_range(0, 100_000),
    "explain.trust.steps": in_range(1, 100_000),
    "explain.trust.baseline": one_of(EXPLAIN_BASELINES),
    "explain.trust.random_orders": in_range(1, 1_000),
    "explain.trust.min_gain": in_range(-1.0, 1.0),
    "explain.trust.randomization_checkpoints": in_range(0, 100_000),
    "explain.trust.max_spearman": in_range(-1.0, 1.0),
    "gate.noise": one_of(NOISE_MODES),
}


def _fractions(cfg) -> Optional[str]:
    data = cfg.data
    if data.val_fraction + data.test_fraction >= 1.0:
        return (f"keys 'data.val_fraction' + 'data.test_fraction' must be < 1; received "
                f"{data.val_fraction} + {data.test_fraction}")
    return None


def _occlusion_stride(cfg) -> Optional[str]:
    occlusion = cfg.explain.occlusion
    if occlusion.stride > occlusion.patch:
        return (f"key 'explain.occlusion.stride' must be <= explain.occlusion.patch "
                f"({occlusion.patch}) so every pixel is covered; received {occlusion.stride}")
    return None


def _unfreeze(cfg) -> Optional[str]:
    if not isinstance(cfg.model, BackboneOptions):  # only backbones are fine-tuned
        return None
    fine_tune = cfg.model.fine_tune
    if fine_tune.epochs == 0 and fine_tune.unfreeze is None:
        return None
    unfreeze = fine_tune.unfreeze
    is_count = isinstance(unfreeze, int) and not isinstance(unfreeze, bool) and unfreeze >= 1
    is_name = isinstance(unfreeze, str) and bool(unfreeze.strip())
    if is_count or is_name:
        return None
    return ("key 'model.fine_tune.unfreeze' must be a number of top backbone layers (>= 1), a "
            f"backbone layer name, or 'all'; received {unfreeze!r}")


# rules that relate two keys: each returns the message (after "<source>: ") or None
CROSS_CHECKS: tuple[Callable[[Any], Optional[str]], ...] = (_fractions, _occlusion_stride,
                                                            _unfreeze)
_MISSING = object()


def _lookup(cfg, dotted: str):
    node = cfg
    for name in dotted.split("."):
        node = getattr(node, name, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def check(cfg, *, source: str) -> None:
    """Raise `ConfigError` on the first value of the typed config `cfg` outside its constraint."""
    for key, constraint in CONSTRAINTS.items():
        value = _lookup(cfg, key)
        if value is _MISSING:
            if key.startswith("model."):
                continue  # a key of another architecture's schema
            raise KeyError(f"constraint for {key!r}, which the schema does not have")
        constraint.check(key, value, source=source)
    for cross in CROSS_CHECKS:
        message = cross(cfg)
        if message:
            raise ConfigError(f"{source}: {message}")
