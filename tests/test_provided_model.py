"""Bring your own model: a trained classifier file is checked against the data, wrapped (input
scaling, real logits, softmax), and gives the file's own predictions on prepared images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from classlens.errors import ConfigError, InputError  # noqa: E402
from classlens.models import LOGITS_LAYER  # noqa: E402
from classlens.models.provided import load_provided  # noqa: E402

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (12, 8, 8, 1)).astype(np.uint8)


def _classifier(head: str, *, classes: int = 4, shape=(8, 8, 1)) -> keras.Model:
    """A small conv classifier ending as `head` says: dense_softmax, softmax_layer or logits."""
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if head == "dense_softmax":
        outputs = keras.layers.Dense(classes, activation="softmax", name="out")(x)
    elif head == "softmax_layer":
        outputs = keras.layers.Softmax()(keras.layers.Dense(classes, name="scores")(x))
    else:
        outputs = keras.layers.Dense(classes, name="scores")(x)
    model = keras.Model(inputs, outputs, name="mine")
    # non-trivial weights, so wrong scaling or a lost bias would show in the outputs
    model.set_weights([RNG.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def _save(model, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    model.save(path)
    return str(path)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("head,suffix,scaling,scale,offset", [
    ("dense_softmax", "keras", "unit", 1 / 255, 0.0),
    ("softmax_layer", "h5", "symmetric", 1 / 127.5, -1.0),
    ("logits", "keras", "raw", 1.0, 0.0),
])
def test_provided_model_is_wrapped_with_its_scaling_and_real_logits(tmp_path, head, suffix,
                                                                    scaling, scale, offset):
    user = _classifier(head)
    path = _save(user, tmp_path, f"mine.{suffix}")
    model, kind = load_provided(path, input_shape=(8, 8, 1), num_classes=4,
                                input_scaling=scaling, output="auto", sample=IMAGES[:8])
    assert kind == ("logits" if head == "logits" else "softmax")
    expected = user.predict(IMAGES.astype("float32") * scale + offset, verbose=0)
    if head == "logits":
        expected = _softmax(expected)
    np.testing.assert_allclose(model.predict(IMAGES, verbose=0), expected, atol=1e-5)
    # `logits` holds pre-softmax scores: their softmax is the prediction
    logits = keras.Model(model.input, model.get_layer(LOGITS_LAYER).output)(
        IMAGES.astype("float32")).numpy()
    np.testing.assert_allclose(_softmax(logits), expected, atol=1e-5)
    assert [layer.name for layer in model.layers[-2:]] == [LOGITS_LAYER, "probabilities"]
    # and it saves and reloads like every other classlens model
    saved = tmp_path / "wrapped.keras"
    model.save(saved)
    np.testing.assert_allclose(keras.models.load_model(saved).predict(IMAGES, verbose=0),
                               expected, atol=1e-5)


def test_output_kind_is_detected_from_the_numbers_when_the_last_layer_does_not_say(tmp_path):
    # a final linear Activation after Dense(softmax): the last layer is not conclusive
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    user = keras.Model(inputs, keras.layers.Activation("linear", name="noop")(probs))
    path = _save(user, tmp_path, "odd.keras")
    with pytest.raises(InputError, match="softmax that can be cut off"):
        load_provided(path, input_shape=(8, 8, 1), num_classes=3, input_scaling="unit",
                      output="auto", sample=IMAGES[:8])


@pytest.mark.parametrize("build,data_shape,classes,needle", [
    (lambda: _classifier("logits", classes=3), (8, 8, 1), 10, "has 10 classes"),
    (lambda: _classifier("logits", shape=(28, 28, 1)), (8, 8, 1), 4, "takes images of 28x28x1"),
    (lambda: _classifier("logits", shape=(8, 8, 3)), (8, 8, 1), 4, "takes images of 8x8x3"),
])
def test_mismatch_with_the_data_is_one_line(tmp_path, build, data_shape, classes, needle):
    path = _save(build(), tmp_path, "mine.keras")
    with pytest.raises(InputError) as info:
        load_provided(path, input_shape=data_shape, num_classes=classes, input_scaling="unit",
                      output="auto", sample=np.zeros((2, *data_shape), np.uint8))
    message = str(info.value)
    assert needle in message and path in message and "\n" not in message


def test_any_size_model_accepts_the_data(tmp_path):
    user = _classifier("logits", shape=(None, None, 1))
    path = _save(user, tmp_path, "any.keras")
    model, _ = load_provided(path, input_shape=(8, 8, 1), num_classes=4, input_scaling="unit",
                             output="logits", sample=IMAGES[:4])
    assert model.input_shape == (None, 8, 8, 1)


def test_missing_or_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="model.path.*not found"):
        load_provided(str(tmp_path / "nope.keras"), input_shape=(8, 8, 1), num_classes=4,
                      input_scaling="unit", output="auto", sample=IMAGES[:2])
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load it as a model") as info:
        load_provided(str(junk), input_shape=(8, 8, 1), num_classes=4, input_scaling="unit",
                      output="auto", sample=IMAGES[:2])
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="model.path"):
        load_provided(str(tmp_path), input_shape=(8, 8, 1), num_classes=4,
                      input_scaling="unit", output="auto", sample=IMAGES[:2])
