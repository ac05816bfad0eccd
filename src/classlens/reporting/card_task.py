"""What the model card says that depends on `task.kind`: how the model ends, and (binary,
multilabel) the decision thresholds with how they were fitted."""

from __future__ import annotations

from typing import Any

from classlens.task import BINARY, MULTICLASS, MULTILABEL
from classlens.formatting import format_value
from classlens.naming import markdown_code, markdown_text


def _compact(value: Any) -> str:
    return format_value(value, compact=True)


ENDINGS = {
    MULTICLASS: lambda classes, record: f"a softmax over {len(classes)} classes",
    BINARY: lambda classes, record: (
        f"one sigmoid, the probability of {markdown_code(classes[record.get('positive_index', 1)])}"
        f" (against {markdown_code(classes[1 - record.get('positive_index', 1)])})"),
    MULTILABEL: lambda classes, record: (
        f"one sigmoid per label ({len(classes)} labels, any number per image)"),
}
RULE_WORDS = {
    "f1": "the threshold with the best F1 on the validation split",
    "precision": "the lowest threshold whose validation precision reaches {target}",
    "recall": "the highest threshold whose validation recall reaches {target}",
    "fixed": "the fixed value task.threshold",
}


def decision_section(preprocessing: dict[str, Any]) -> list[str]:
    """Binary and multi-label: the thresholds each decision uses, how and on what they were
    fitted, and the labels that fell back to the default (no lines for multiclass)."""
    thresholds = preprocessing.get("thresholds")
    if not thresholds:
        return []
    classes = list(preprocessing["class_names"])
    names = ([classes[preprocessing.get("positive_index", 1)]]
             if preprocessing.get("task") == BINARY else classes)
    rule = RULE_WORDS.get(thresholds.get("rule"), str(thresholds.get("rule")))
    fallback = {int(k): v for k, v in (thresholds.get("fallback") or {}).items()}
    lines = ["## Decision thresholds", "",
             f"A label is predicted when its probability reaches its threshold: "
             f"{rule.format(target=thresholds.get('target'))} (`task.threshold_rule`), fitted by "
             "the train stage and stored in `preprocessing.json`, so `classlens predict`, the "
             "served model and the evaluation decide alike. The test split never chose them.",
             "", "| label | threshold | note |", "|---|---:|---|"]
    for i, (name, value) in enumerate(zip(names, thresholds.get("values", []))):
        lines.append(f"| {markdown_text(name)} | {_compact(value)} | "
                     f"{markdown_text(fallback.get(i, 'fitted'))} |")
    return lines + [""]
