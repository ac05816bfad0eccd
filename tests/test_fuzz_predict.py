"""Property-based test of prediction (Hypothesis): random bytes, every Pillow mode, odd sizes,
damaged files and headers declaring huge sizes (the ingest fuzzer's strategy), and random class
names, through `Predictor.predict` with a real Keras model and through the served model's request
decoding. Every image gets either a ranked answer or one error line; nothing raises."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classlens.serving.predictor import Predictor
from classlens.serving.preprocessing import PreprocessingRecord
from tests.test_fuzz_ingest import image_files, labels

FUZZ = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model():
    import keras

    inputs = keras.Input(shape=(8, 8, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def _predictor(model, class_names, max_pixels=4096) -> Predictor:
    record = PreprocessingRecord(height=8, width=8, channels=3, class_names=list(class_names),
                                 max_pixels=max_pixels)
    return Predictor(model=model, record=record, source="fuzz")


@FUZZ
@given(files=st.lists(image_files(), min_size=1, max_size=4),
       class_names=st.lists(labels, min_size=3, max_size=3, unique=True))
def test_any_bytes_get_an_answer_or_one_error_line(model, files, class_names):
    results = _predictor(model, class_names).predict(files, top_k=2,
                                                     names=[f"row {i}" for i in range(len(files))])
    assert len(results) == len(files)  # in input order, one each
    for i, result in enumerate(results):
        if "error" in result:
            message = result["error"]
            assert message.startswith(f"row {i}") and "\n" not in message, repr(message)
        else:
            assert result["label"] in class_names
            assert [r["label"] for r in result["top_k"]][0] == result["label"]
            probabilities = [r["probability"] for r in result["top_k"]]
            assert probabilities == sorted(probabilities, reverse=True)
            assert np.isfinite(probabilities).all()


@FUZZ
@given(cells=st.lists(st.one_of(st.text(max_size=40),
                                image_files().map(lambda b: base64.b64encode(b).decode())),
                      max_size=3))
def test_any_request_cells_are_decoded_or_refused_as_a_bad_request(cells):
    from mlflow.exceptions import MlflowException

    from classlens.serving.pyfunc import decode_request_images

    try:
        decoded = decode_request_images(cells)
    except MlflowException as err:
        assert err.error_code == "BAD_REQUEST" and "\n" not in err.message, err.message
    else:
        assert len(decoded) == len(cells) and all(isinstance(b, bytes) for b in decoded)
