"""The trust numbers of every method in one record: deletion/insertion against random orders,
the model-randomisation check, and Integrated Gradients' completeness gap; with the flags a
reader should look at first. Pure: results in, a JSON-ready dict out."""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

# Integrated Gradients whose attributions miss F(x) - F(baseline) by more than this share is
# flagged: raise `integrated_gradients.steps`.
MAX_COMPLETENESS_GAP = 0.01


def trust_summary(faithfulness: Mapping, randomization, *, min_gain: float,
                  max_spearman: float, completeness=None) -> dict[str, dict]:
    """{method: numbers and `flags`} for every method in `faithfulness`.

    Args:
        faithfulness: {method: DeletionInsertion}.
        randomization: a RandomizationResult over the same methods, or None (check skipped).
        min_gain: AUC gain over random at or below which a method is flagged.
        max_spearman: final rank correlation above which a method is flagged.
        completeness: the IntegratedGradientsResult of the explained images, if run.
    """
    randomized = randomization.summary(max_spearman=max_spearman) if randomization else {}
    out: dict[str, dict] = {}
    for method, curves in faithfulness.items():
        record = curves.summary(min_gain=min_gain)
        record.update(randomized.get(method, {}))
        flags = []
        if record["no_better_than_random"]:
            flags.append("deletion/insertion no better than a random pixel order")
        if record.get("insensitive_to_model"):
            flags.append("maps barely change when the model's weights are randomised")
        if method == "integrated_gradients" and completeness is not None:
            record.update(completeness_numbers(completeness))
            if record["completeness_relative_gap"] is not None and \
                    record["completeness_relative_gap"] > MAX_COMPLETENESS_GAP:
                flags.append("completeness gap above 1%: raise integrated_gradients.steps")
        record["flags"] = flags
        record["flagged"] = bool(flags)
        out[method] = record
    return out


def completeness_numbers(result) -> dict[str, Optional[float]]:
    """Mean and largest |sum of attributions - (F(x) - F(baseline))|, and their total relative
    to the total |F(x) - F(baseline)| (None when every image's two logits are equal)."""
    total_delta = float(np.abs(result.delta).sum())
    return {
        "completeness_gap_mean": float(result.gap.mean()) if len(result.gap) else 0.0,
        "completeness_gap_max": float(result.gap.max()) if len(result.gap) else 0.0,
        "completeness_relative_gap": (float(result.gap.sum()) / total_delta
                                      if total_delta > 0 else None),
    }


# the columns a reader compares first (the report's trust table); trust.json holds the rest
HEADLINE_COLUMNS = ("method", "flagged", "flags", "deletion_auc", "deletion_auc_random",
                    "insertion_auc", "insertion_auc_random", "spearman_final",
                    "completeness_relative_gap", "seconds")


def trust_rows(trust: Mapping, columns: Optional[tuple[str, ...]] = None) -> list[dict]:
    """trust.json's methods as one flat row each (lists and nested dicts left out, flags joined
    into one string); only `columns`, in that order, when given (missing ones are None)."""
    rows = []
    for method, record in trust["methods"].items():
        row = {"method": method, **{k: v for k, v in record.items()
                                    if not isinstance(v, (list, dict))},
               "flags": "; ".join(record.get("flags", []))}
        rows.append(row if columns is None else {c: row.get(c) for c in columns})
    return rows
