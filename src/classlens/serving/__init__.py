"""Use a trained model on new images: the preprocessing record stored with it, a predictor for
files (`classlens predict`, Python), the MLflow pyfunc wrapper that `mlflow models serve` runs,
and logging that model into the experiment's MLflow run and loading it back (`logged_model`,
`loading`)."""

from classlens.serving.predictor import Predictor, load_predictor, rank_classes
from classlens.serving.preprocessing import PreprocessingRecord, load_image

__all__ = ["Predictor", "PreprocessingRecord", "load_image", "load_predictor", "rank_classes"]
