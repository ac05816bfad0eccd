"""Log the trained model into the experiment's MLflow run: the image-file pyfunc that `classlens
predict` and `mlflow models serve` use (`classlens.serving.pyfunc`), and the Keras model itself
through MLflow's Keras flavour. Both with pinned requirements and their URIs as run tags."""

from __future__ import annotations

from pathlib import Path

from classlens.serving.loading import TAG_KERAS_MODEL_URI, TAG_MODEL_URI


def log_image_model(model_path: Path, record_path: Path, example_images: list[bytes]) -> str:
    """Log the trained model as an MLflow pyfunc that takes image files and names classes
    (`classlens.serving.pyfunc`: signature, request format); returns its URI (tag
    `classlens.model_uri`).

    The `.keras` file and the preprocessing record travel inside it as artifacts;
    `example_images` (encoded image files) become its input example, which MLflow also checks
    by running the model once. Loading it needs the classlens package installed
    (`--env-manager local` in the project's environment).
    """
    import base64

    import mlflow
    import pandas as pd

    from classlens.serving import pyfunc
    from classlens.serving.preprocessing import PreprocessingRecord

    example = pd.DataFrame({pyfunc.INPUT_COLUMN: [base64.b64encode(b).decode("ascii")
                                                  for b in example_images]})
    info = mlflow.pyfunc.log_model(
        name="model", python_model=pyfunc.MODEL_CODE,
        artifacts={pyfunc.KERAS_ARTIFACT: str(model_path),
                   pyfunc.RECORD_ARTIFACT: str(record_path)},
        signature=pyfunc.signature(task=PreprocessingRecord.read(record_path).task),
        input_example=example,
        pip_requirements=_model_requirements())
    mlflow.set_tag(TAG_MODEL_URI, info.model_uri)
    return info.model_uri


def log_keras_model(model, example_images) -> str:
    """Log the trained Keras model itself with MLflow's Keras flavour, its signature inferred
    from `example_images` (uint8 model input) and the model's probabilities on them; returns its
    URI (tag `classlens.keras_model_uri`). `mlflow.keras.load_model(uri)` gives the
    `keras.Model` back, for fine-tuning or export; the image-file pyfunc of `log_image_model`
    is the one to serve."""
    import mlflow
    import mlflow.keras
    import numpy as np
    from mlflow.models import infer_signature

    examples = np.asarray(example_images)
    signature = infer_signature(examples, model.predict(examples, verbose=0))
    info = mlflow.keras.log_model(model, name="keras_model", signature=signature,
                                  pip_requirements=_model_requirements())
    mlflow.set_tag(TAG_KERAS_MODEL_URI, info.model_uri)
    return info.model_uri


def _model_requirements() -> list[str]:
    """Pinned requirements of the logged models: the versions this run used."""
    import keras
    import mlflow
    import numpy as np
    import pandas as pd
    import PIL
    import tensorflow as tf

    return [f"tensorflow=={tf.__version__}", f"keras=={keras.__version__}",
            f"numpy=={np.__version__}", f"pandas=={pd.__version__}",
            f"pillow=={PIL.__version__}", f"mlflow=={mlflow.__version__}"]
