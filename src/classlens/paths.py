"""Every stage output's file name, in one place (relative to the project root, where DVC runs
stages). dvc.yaml lists the same paths; `tests/test_dvc_yaml.py` checks the two agree."""

from pathlib import Path

PARAMS = Path("params.yaml")

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

PREDICTIONS_DIR = Path("data/predictions")
PREDICTIONS = PREDICTIONS_DIR / "predictions.csv"
PROBABILITIES = PREDICTIONS_DIR / "probabilities.npy"

METRICS = Path("metrics.json")
EVAL_DIR = Path("data/eval")
PER_CLASS = EVAL_DIR / "per_class.csv"
CONFUSION_RECORDS = EVAL_DIR / "confusion.csv"
CONFUSION_MATRIX = EVAL_DIR / "confusion_matrix.json"
CONFUSION_COUNTS_PNG = EVAL_DIR / "confusion_counts.png"
CONFUSION_NORMALIZED_PNG = EVAL_DIR / "confusion_normalized.png"

ANALYSIS_DIR = Path("data/analysis")
CORRECT = ANALYSIS_DIR / "correct.csv"
MISCLASSIFIED = ANALYSIS_DIR / "misclassified.csv"
CONFUSED_PAIRS = ANALYSIS_DIR / "confused_pairs.csv"
GALLERY_PNG = ANALYSIS_DIR / "misclassified_gallery.png"

EXPLAIN_DIR = Path("data/explain")
SALIENCY_PNG = EXPLAIN_DIR / "saliency.png"
SALIENCY_MAPS = EXPLAIN_DIR / "saliency_maps.npy"
SALIENCY_INDEX = EXPLAIN_DIR / "saliency_index.csv"
