"""What a training run produced, and the headline facts derived from its history — the one
definition of the best epoch and of the epochs run that MLflow and the model card both use."""

from __future__ import annotations

from dataclasses import dataclass, field

from classlens.naming import epoch_metric_name

# the validation quantity that picks the best epoch (checkpoint, early stopping, plateau), as
# Keras' callbacks name it and as the history table names it
MONITOR = "val_loss"
MONITOR_COLUMN = epoch_metric_name(MONITOR)  # val/loss


def history_table(rows):
    """The history table from per-epoch rows (dicts, or a DataFrame) keyed by Keras' names:
    columns `epoch, phase, train/loss, train/accuracy, val/loss, val/accuracy, learning_rate`
    (further compiled metrics as `train/<m>`, `val/<m>`). models/history.csv, the training
    figure and MLflow's per-epoch metrics all use these names."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    return frame.rename(columns={c: epoch_metric_name(c) for c in frame.columns})


@dataclass
class FitResult:
    # `history_table`: epoch, phase, train/loss, train/accuracy, val/loss, val/accuracy,
    # learning_rate
    history: "object"
    best_epoch: int
    stopped_early: bool
    phase_starts: dict[int, int] = field(default_factory=dict)  # phase -> its first epoch


def best_epoch(history) -> int:
    """The 1-based epoch with the lowest `MONITOR` value."""
    return int(history[MONITOR_COLUMN].idxmin()) + 1


def epochs_run(history) -> int:
    """Epochs trained here: rows of a training phase (phase > 0). A provided model's scoring row
    (epoch 0, phase 0) is not an epoch run, so a provided model has run 0."""
    return int((history["phase"] > 0).sum())


def headline(history, best: int) -> dict[str, float]:
    """epochs_run, best_epoch and the best epoch's val accuracy and loss (a provided model's
    best epoch is 0: its single scoring row)."""
    row = history.iloc[max(best - 1, 0)]
    return {"epochs_run": epochs_run(history), "best_epoch": best,
            "best_val_accuracy": float(row["val/accuracy"]),
            "best_val_loss": float(row["val/loss"])}


# `headline`'s facts as MLflow names them (under train/ and val/, like the per-epoch numbers)
HEADLINE_METRIC_NAMES = {"epochs_run": "train/epochs_run", "best_epoch": "train/best_epoch",
                         "best_val_accuracy": "val/best_accuracy", "best_val_loss": "val/best_loss"}
