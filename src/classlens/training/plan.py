"""How many optimizer steps training takes: the one count that `fit`, `fit_distributed` and the
learning-rate schedule share."""

from __future__ import annotations


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches in one pass over `examples` rows, the last one possibly short."""
    return -(-examples // batch_size)


def total_steps(examples: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps of a phase of `epochs` passes over `examples` rows."""
    return steps_per_epoch(examples, batch_size) * epochs
