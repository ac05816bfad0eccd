"""Every stage output's file name, in one place (relative to the project root, where DVC runs
stages), and where that root is. dvc.yaml lists the same paths; `tests/test_dvc_yaml.py` checks
the two agree."""

import os
from pathlib import Path


def project_root() -> Path:
    """The DVC project root: `DVC_ROOT` (DVC sets it for every stage, and points it at the main
    repository inside `--temp` and queued experiment folders), else the nearest folder above the
    working directory holding `dvc.yaml`, else the working directory."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists() or (folder / ".dvc").is_dir():
            return folder
    return here


PARAMS = Path("params.yaml")
CHECKED = Path("data/checked.json")  # the check stage's constant marker (orders the stages)

PREPARED_DIR = Path("data/prepared")
CLASSES = PREPARED_DIR / "classes.json"
MANIFEST = PREPARED_DIR / "manifest.csv"
FINGERPRINT = PREPARED_DIR / "fingerprint.json"
PREPARED_REPORT = PREPARED_DIR / "report"  # the data report (classlens.data.report)
SPLITS = ("train", "val", "test")


def split_images(split: str, root: Path = PREPARED_DIR) -> Path:
    return root / f"{split}_images.npy"


def split_labels(split: str, root: Path = PREPARED_DIR) -> Path:
    return root / f"{split}_labels.npy"


MODEL_DIR = Path("models")
MODEL = MODEL_DIR / "model.keras"
HISTORY = MODEL_DIR / "history.csv"
TRAINING_CURVES = MODEL_DIR / "training_curves.png"
RUN_REF = MODEL_DIR / "mlflow_run.json"
PREPROCESSING = MODEL_DIR / "preprocessing.json"  # how new images become model input
MODEL_CARD = MODEL_DIR / "model_card.md"
AUGMENT_PREVIEW = MODEL_DIR / "augmentation_preview.png"

PREDICTIONS_DIR = Path("data/predictions")
PREDICTIONS = PREDICTIONS_DIR / "predictions.csv"
PROBABILITIES = PREDICTIONS_DIR / "probabilities.npy"
VAL_PROBABILITIES = PREDICTIONS_DIR / "val_probabilities.npy"  # fit the calibration temperature
VAL_LABELS = PREDICTIONS_DIR / "val_labels.npy"

METRICS = Path("metrics.json")  # the compact headline for `dvc metrics` / `dvc exp show`
EVAL_DIR = Path("data/eval")  # small results, committed to git (cache: false) ...
ALL_METRICS = EVAL_DIR / "all_metrics.json"  # every number: per class, intervals, calibration
PER_CLASS = EVAL_DIR / "per_class.csv"
CONFUSION_RECORDS = EVAL_DIR / "confusion.csv"
CONFUSION_MATRIX = EVAL_DIR / "confusion_matrix.json"
CALIBRATION_BINS = EVAL_DIR / "calibration.json"
ROC_DIR = EVAL_DIR / "roc"  # one CSV per class (fpr, tpr, threshold): `dvc plots` data
PR_DIR = EVAL_DIR / "pr"  # one CSV per class (recall, precision, threshold)
EVAL_FIGURES = EVAL_DIR / "figures"  # ... except the figures (DVC cache)
CONFUSION_COUNTS_PNG = EVAL_FIGURES / "confusion_counts.png"
CONFUSION_NORMALIZED_PNG = EVAL_FIGURES / "confusion_normalized.png"
CONFUSION_COLUMN_NORMALIZED_PNG = EVAL_FIGURES / "confusion_column_normalized.png"
RELIABILITY_PNG = EVAL_FIGURES / "reliability.png"
ROC_PNG = EVAL_FIGURES / "roc.png"
PR_PNG = EVAL_FIGURES / "pr.png"
PER_CLASS_F1_PNG = EVAL_FIGURES / "per_class_f1.png"
# What evaluate writes into EVAL_DIR, each a DVC output of its own (dvc.yaml lists the same).
EVAL_OUTPUTS = (ALL_METRICS, PER_CLASS, CONFUSION_RECORDS, CONFUSION_MATRIX, CALIBRATION_BINS,
                ROC_DIR, PR_DIR, EVAL_FIGURES)

ANALYSIS_DIR = Path("data/analysis")
CORRECT = ANALYSIS_DIR / "correct.csv"
MISCLASSIFIED = ANALYSIS_DIR / "misclassified.csv"
CONFUSED_PAIRS = ANALYSIS_DIR / "confused_pairs.csv"
GALLERY_PNG = ANALYSIS_DIR / "misclassified_gallery.png"  # the most confident errors
CONFUSED_PAIRS_SYMMETRIC = ANALYSIS_DIR / "confused_pairs_symmetric.csv"
LOW_CONFIDENCE = ANALYSIS_DIR / "low_confidence.csv"
CONFIDENTLY_WRONG = ANALYSIS_DIR / "confidently_wrong.csv"
WEAK_CLASSES = ANALYSIS_DIR / "weak_classes.csv"
LABEL_SUSPECTS = ANALYSIS_DIR / "label_suspects.csv"
GALLERY_INDEX = ANALYSIS_DIR / "galleries.csv"  # gallery, rank, id, path, labels, confidence
GALLERIES_DIR = ANALYSIS_DIR / "galleries"  # one PNG per other gallery
ANALYSIS_SUMMARY = ANALYSIS_DIR / "summary.json"

EXPLAIN_DIR = Path("data/explain")
EXPLAIN_INDEX = EXPLAIN_DIR / "index.csv"
EXPLAIN_TRUST = EXPLAIN_DIR / "trust.json"
EXPLAIN_FIGURES = EXPLAIN_DIR / "figures.json"  # the figures in display order, with captions
EXPLAIN_COMPARISON_PNG = EXPLAIN_DIR / "comparison.png"
EXPLAIN_FAITHFULNESS_PNG = EXPLAIN_DIR / "deletion_insertion.png"
EXPLAIN_RANDOMIZATION_PNG = EXPLAIN_DIR / "randomization.png"


def explain_maps(method: str, root: Path = EXPLAIN_DIR) -> Path:
    """Raw maps of one method, one per row of index.csv."""
    return root / f"maps_{method}.npy"


def explain_overlay_png(method: str, root: Path = EXPLAIN_DIR) -> Path:
    return root / f"overlay_{method}.png"


def explain_activations_png(layer: str, root: Path = EXPLAIN_DIR) -> Path:
    """Feature maps of one layer ("nested/layer" paths become "nested__layer")."""
    return root / f"activations_{layer.replace('/', '__')}.png"

GATE_DIR = Path("data/gate")
GATE_MD = GATE_DIR / "gate.md"
GATE_JSON = GATE_DIR / "gate.json"

REPORT_DIR = Path("data/report")
REPORT = REPORT_DIR / "report.html"
REPORT_MODEL_CARD = REPORT_DIR / "model_card.md"  # the train stage's card, completed
