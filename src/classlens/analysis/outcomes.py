"""Which predictions are right, wrong, hesitant or confidently wrong (prediction table only)."""

from __future__ import annotations


def split_by_correctness(table):
    """(correct rows, misclassified rows), each sorted by confidence, highest first."""
    ranked = table.sort_values("confidence", ascending=False, kind="stable")
    return ranked[ranked["correct"]], ranked[~ranked["correct"]]


def low_confidence(table, *, threshold: float):
    """Predictions whose top-1 confidence is below `threshold`, least confident first (right or
    wrong: these are the ones a person should double-check)."""
    chosen = table[table["confidence"] < threshold]
    return chosen.sort_values("confidence", ascending=True, kind="stable")


def confidently_wrong(table, *, threshold: float):
    """Errors made with top-1 confidence above `threshold`, most confident first."""
    chosen = table[~table["correct"] & (table["confidence"] > threshold)]
    return chosen.sort_values("confidence", ascending=False, kind="stable")
