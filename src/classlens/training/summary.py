"""What a training run produced, and the headline facts derived from its history — the one
definition of the best epoch and of the epochs run that MLflow and the model card both use."""

from __future__ import annotations

from dataclasses import dataclass, field

# the validation quantity that picks the best epoch (checkpoint, early stopping, plateau)
MONITOR = "val_loss"


@dataclass
class FitResult:
    # pandas DataFrame: epoch, phase, loss, accuracy, val_loss, val_accuracy, learning_rate
    history: "object"
    best_epoch: int
    stopped_early: bool
    phase_starts: dict[int, int] = field(default_factory=dict)  # phase -> its first epoch


def best_epoch(history) -> int:
    """The 1-based epoch with the lowest `MONITOR` value."""
    return int(history[MONITOR].idxmin()) + 1


def epochs_run(history) -> int:
    """Epochs trained here: rows of a training phase (phase > 0). A provided model's scoring row
    (epoch 0, phase 0) is not an epoch run, so a provided model has run 0."""
    return int((history["phase"] > 0).sum())


def headline(history, best: int) -> dict[str, float]:
    """epochs_run, best_epoch and the best epoch's val_accuracy and val_loss (a provided model's
    best epoch is 0: its single scoring row)."""
    row = history.iloc[max(best - 1, 0)]
    return {"epochs_run": epochs_run(history), "best_epoch": best,
            "best_val_accuracy": float(row["val_accuracy"]),
            "best_val_loss": float(row["val_loss"])}
