"""The kind of problem (`task` section of params.yaml): one label per image out of N
(`multiclass`, softmax), two classes with one sigmoid output (`binary`), or any number of labels
per image (`multilabel`, one sigmoid per label). Every layer asks this module what follows from
the kind (output width and activation, the loss's label format), so the answer has one owner.

Binary and multi-label decisions use per-label thresholds fitted on the validation split
(`classlens.evaluation.thresholds`) by `threshold_rule`: `f1` (the F1-optimal threshold),
`precision` / `recall` (the threshold that reaches `threshold_target`), or `fixed`
(`threshold` for every label). `threshold` is also the fallback for a label that cannot be
fitted (no positive or no negative validation image).

No TensorFlow here: loading params never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from classlens.errors import ConfigError, one_of

KINDS = ("multiclass", "binary", "multilabel")
THRESHOLD_RULES = ("f1", "precision", "recall", "fixed")
MULTICLASS, BINARY, MULTILABEL = KINDS


@dataclass
class TaskConfig:
    name: str = MISSING  # the option's name (its conf/task/ file)
    kind: str = MISSING  # KINDS
    positive_class: str = MISSING  # binary: the class the sigmoid scores; "" = the second class
    threshold_rule: str = MISSING  # THRESHOLD_RULES (binary, multilabel)
    threshold_target: float = MISSING  # the precision or recall rule's target
    threshold: float = MISSING  # the fixed rule's value; the fallback of a label not fitted


KIND = one_of(KINDS)


def sigmoid_output(kind: str) -> bool:
    """Binary and multi-label models end in a sigmoid per output; multi-class in a softmax."""
    KIND.check("task.kind", kind)
    return kind != MULTICLASS


def output_units(kind: str, num_classes: int) -> int:
    """Width of the `logits` layer: one for binary (the positive class's score), else one per
    class."""
    return 1 if kind == BINARY else num_classes


def output_activation(kind: str) -> str:
    return "sigmoid" if sigmoid_output(kind) else "softmax"


def positive_index(class_names: list[str], positive_class: str) -> int:
    """The index of binary's positive class: `positive_class` by name, else the second class."""
    if len(class_names) != 2:
        raise ConfigError(f"task.kind 'binary' needs exactly 2 classes; the data has "
                          f"{len(class_names)} ({', '.join(class_names[:5])}"
                          f"{', ...' if len(class_names) > 5 else ''}); use task=multiclass")
    if not positive_class:
        return 1
    if positive_class not in class_names:
        raise ConfigError(f"key 'task.positive_class' must be one of {class_names} (or '' for "
                          f"the second); received {positive_class!r}")
    return class_names.index(positive_class)


def check_fits_data(kind: str, *, multilabel_data: bool, class_names: list[str],
                    positive_class: str = "") -> None:
    """One line when the prepared data cannot be learned as `kind`: multi-label data needs
    task=multilabel and the reverse; binary needs exactly two classes (and a known positive)."""
    source = "the prepared data (data/prepared/fingerprint.json)"
    if multilabel_data and kind != MULTILABEL:
        raise ConfigError(f"task.kind {kind!r}: {source} is multi-label (an image may carry "
                          "several labels); use `-S task=multilabel`")
    if kind == MULTILABEL and not multilabel_data:
        raise ConfigError(f"task.kind 'multilabel' needs multi-label data (a csv manifest with a "
                          f"`labels` column, or data=digits_mosaics); {source} has one label per "
                          "image: use task=multiclass, or task=binary for two classes")
    if kind == BINARY:
        positive_index(class_names, positive_class)


def decisions(probabilities, thresholds):
    """Binary and multi-label decisions, the one rule: (N, K) bool, True where a label's
    probability reaches its threshold (p >= t). Every stage, figure and served answer decides
    through this."""
    import numpy as np

    return np.asarray(probabilities) >= np.asarray(thresholds, dtype=np.float64)[None, :]
