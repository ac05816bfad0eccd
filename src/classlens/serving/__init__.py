"""Use a trained model on new images: the preprocessing record stored with it, a predictor for
files (`classlens predict`, Python), the MLflow pyfunc wrapper that `mlflow models serve` runs,
and logging that model into the experiment's MLflow run and loading it back (`logged_model`,
`loading`)."""

import importlib

# The public names, loaded on first use (PEP 562): the train stage imports
# `classlens.serving.preprocessing` and must not load the predictor with it (nor depend on it in
# dvc.yaml).
_EXPORTS = {"Predictor": "predictor", "load_predictor": "predictor", "rank_classes": "predictor",
            "PreprocessingRecord": "preprocessing", "load_image": "preprocessing"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'classlens.serving' has no attribute {name!r}")
    return getattr(importlib.import_module(f"classlens.serving.{_EXPORTS[name]}"), name)
