"""The MLflow pyfunc model the train stage logs: image files in, class names with probabilities out.

Input (the logged signature): a DataFrame with one string column `image`, each cell an image
file (PNG, JPEG, BMP, ... anything Pillow reads) encoded as base64. Over HTTP
(`mlflow models serve`), that is

    POST /invocations   Content-Type: application/json
    {"dataframe_records": [{"image": "<base64 of cat.png>"}, {"image": "<base64 of dog.jpg>"}],
     "params": {"top_k": 3}}

(`dataframe_split` and `inputs: {"image": [...]}` work too). Base64 of the *file* bytes, so any
client can send real image files without knowing the model's size or colour mode: the logged
preprocessing record does the rest, exactly as `classlens predict`.

Output, one dict per image in request order:

    {"label": "cat", "probability": 0.97,
     "top_k": [{"label": "cat", "probability": 0.97}, {"label": "dog", "probability": 0.02}]}

(binary: `label` decided at the validation-fitted threshold); a multi-label model answers

    {"labels": ["sea", "sunset"],
     "probabilities": [{"label": "people", "probability": 0.08, "threshold": 0.41}, ...]}

A row that is not base64 or not an image fails the request with HTTP 400 and a message naming the
row; no partial answers, so a client never mistakes a shifted list for its own. A request with no
images is a 400 too, in every format (`EMPTY_REQUEST`).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import BAD_REQUEST

from classlens.serving.model_folder import KERAS_ARTIFACT, MODEL_CODE_NAME, RECORD_ARTIFACT
from classlens.serving.predictor import DEFAULT_TOP_K
from classlens.task import MULTICLASS, MULTILABEL

INPUT_COLUMN = "image"
EMPTY_REQUEST = (f"no images in the request: it needs at least one row with column "
                 f"'{INPUT_COLUMN}' holding a base64-encoded image file")
MODEL_CODE = str(Path(__file__).with_name(MODEL_CODE_NAME))  # what MLflow runs to build it


def signature(*, default_top_k: int = DEFAULT_TOP_K, task: str = MULTICLASS):
    """The model signature: `image` (base64 string) in; label/probability/top_k out (multilabel:
    labels and every label's probability and threshold); `top_k` as a request parameter."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import (Array, ColSpec, Object, ParamSchema, ParamSpec, Property,
                                     Schema)

    ranked = Object([Property("label", "string"), Property("probability", "double")])
    outputs = Schema([ColSpec("string", "label"), ColSpec("double", "probability"),
                      ColSpec(Array(ranked), "top_k")])
    if task == MULTILABEL:
        scored = Object([Property("label", "string"), Property("probability", "double"),
                         Property("threshold", "double")])
        outputs = Schema([ColSpec(Array("string"), "labels"),
                          ColSpec(Array(scored), "probabilities")])
    return ModelSignature(
        # not `required`: MLflow would answer an empty `dataframe_records` list (a table without
        # columns) with its own schema error before the model sees it; `predict` says it instead,
        # as for every other request format, and still requires the column in a non-empty table
        inputs=Schema([ColSpec("string", INPUT_COLUMN, required=False)]),
        outputs=outputs,
        params=ParamSchema([ParamSpec("top_k", "long", default_top_k)]),
    )


def decode_request_images(column) -> list[bytes]:
    """Base64 cells -> file bytes; a bad cell raises MlflowException (HTTP 400) naming its row."""
    decoded = []
    for row, cell in enumerate(column):
        if not isinstance(cell, str) or not cell.strip():
            raise _bad_request(f"row {row}: column '{INPUT_COLUMN}' must hold a base64-encoded "
                               f"image file; received {type(cell).__name__}")
        try:
            # whitespace/newlines allowed (base64.encodebytes wraps lines), nothing else
            decoded.append(base64.b64decode("".join(cell.split()), validate=True))
        except (binascii.Error, ValueError) as err:
            raise _bad_request(f"row {row}: column '{INPUT_COLUMN}' is not valid base64 ({err})")
    return decoded


def _bad_request(message: str) -> MlflowException:
    return MlflowException(message, error_code=BAD_REQUEST)


class ImageClassifier(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper around `classlens.serving.Predictor` (loaded from the logged artifacts)."""

    def load_context(self, context) -> None:
        from classlens.serving.predictor import Predictor, load_keras_model
        from classlens.serving.preprocessing import PreprocessingRecord

        path = context.artifacts[KERAS_ARTIFACT]
        self.predictor = Predictor(model=load_keras_model(path),
                                   record=PreprocessingRecord.read(context.artifacts[
                                       RECORD_ARTIFACT]),
                                   source=path)

    def predict(self, context, model_input: pd.DataFrame, params=None):
        # (the DataFrame hint tells MLflow to validate against the logged signature instead)
        top_k = int((params or {}).get("top_k", DEFAULT_TOP_K))
        if top_k < 1:
            raise _bad_request(f"params.top_k must be >= 1; received {top_k}")
        if hasattr(model_input, "columns"):
            if len(model_input) == 0:
                raise _bad_request(EMPTY_REQUEST)
            if INPUT_COLUMN not in model_input.columns:
                raise _bad_request(f"input must have a column '{INPUT_COLUMN}'; received "
                                   f"columns {list(model_input.columns)}")
            column = model_input[INPUT_COLUMN].tolist()
        elif isinstance(model_input, dict) and INPUT_COLUMN in model_input:
            column = list(model_input[INPUT_COLUMN])
        else:
            raise _bad_request(f"input must be a table with a column '{INPUT_COLUMN}' of "
                               f"base64-encoded images; received {type(model_input).__name__}")
        if not column:
            raise _bad_request(EMPTY_REQUEST)
        files = decode_request_images(column)
        results = self.predictor.predict(files, top_k=top_k, names=[f"row {i}" for i in
                                                                     range(len(files))])
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise _bad_request("; ".join(errors))
        return [{k: v for k, v in r.items() if k != "image"} for r in results]

