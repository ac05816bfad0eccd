"""Bring your own trained classifier: load a `.keras`/`.h5` file, check it against the prepared
data, and wrap it so it looks like every other classlens model.

    image (prepared uint8) -> input_scaling (Rescaling to the range it was trained on)
    -> backbone (the file's network up to its logits) -> logits -> probabilities

A model whose last layer is a softmax or a sigmoid (a `Softmax`/`Activation` layer, or a layer
with `activation="softmax"`/`"sigmoid"`) is cut before it, so `logits` holds real pre-activation
values; a model that outputs logits gets the activation added: a softmax for `task.kind`
multiclass, a sigmoid for binary (one output) and multilabel (one per class). A softmax file under
a sigmoid task, or the reverse, is refused: its scores do not mean what the task needs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np
from keras import layers

from classlens.errors import ConfigError, InputError
from classlens.models.files import load_keras_file
from classlens.models.backbones import BACKBONE_LAYER
from classlens.models.options import SCALINGS
from classlens.task import MULTICLASS, output_activation, output_units, sigmoid_output

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
# SCALINGS: input_scaling -> (scale, offset) applied to 0..255 pixels (keras.layers.Rescaling)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def provenance_tags(path: str, output_kind: str) -> dict[str, str]:
    """MLflow tags recording which file the run's model came from."""
    file = Path(path).expanduser()
    return {"classlens.model_file": str(file.resolve()),
            "classlens.model_file_sha256": file_sha256(file),
            "classlens.model_file_output": output_kind}


def load_provided(
    path: str,
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    input_scaling: str,
    output: str,
    sample: np.ndarray,
    task: str = MULTICLASS,
) -> tuple[keras.Model, str]:
    """Load the classifier at `path`, check it, and wrap it; returns (model, output kind).

    Args:
        path: a `.keras` or `.h5` file holding a whole model (architecture and weights).
        input_shape: (height, width, channels) of the prepared images it must take.
        num_classes: the number of classes in the prepared data.
        input_scaling: a key of `SCALINGS` (the pixel range the model was trained on).
        output: "softmax", "sigmoid", "logits" or "auto" (decided by its last layer, else by
            whether its outputs on `sample` are probabilities).
        sample: a few prepared images (uint8) used for "auto" and to check the wrapping.
        task: `task.kind`; sets the activation after `logits` and the output width expected.
    """
    user = _load(path)
    _check_against_data(user, path, input_shape=input_shape,
                        num_classes=num_classes, task=task)
    scale, offset = SCALINGS[input_scaling]
    scaled = np.asarray(sample, dtype=np.float32) * scale + offset
    raw_out = np.asarray(user.predict(scaled, verbose=0), dtype=np.float64)
    kind = output if output != "auto" else _detect_output(user, raw_out, task=task)
    activation = output_activation(task)
    if kind != "logits" and kind != activation:
        raise InputError(
            f"{path}: ends in a {kind}, but task.kind {task!r} needs "
            f"{'one sigmoid per output' if activation == 'sigmoid' else 'a softmax'}; give a "
            f"model that ends in a {activation} (or its logits, with model.output=logits), or "
            f"use task={'multiclass' if kind == 'softmax' else _sigmoid_task(raw_out)}")

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(scale, offset, name="input_scaling")(inputs)
    if kind == "logits":
        inner = _renamed(user)
        logits = layers.Activation("linear", dtype="float32", name="logits")(inner(x))
        expected = _softmax(raw_out) if activation == "softmax" else 1 / (1 + np.exp(-raw_out))
    else:
        inner, head = _cut_before_activation(user, path, kind)
        logits = head(inner(x))
        expected = raw_out
    outputs = layers.Activation(activation, dtype="float32", name="probabilities")(logits)
    model = keras.Model(inputs, outputs, name="provided")

    got = model.predict(np.asarray(sample), verbose=0)
    if not np.allclose(got, expected, atol=1e-4):
        raise InputError(
            f"{path}: wrapped with output={kind}, it no longer gives the file's own outputs "
            f"(max difference {np.abs(got - expected).max():.3g}); set model.output explicitly"
        )
    return model, kind


def _load(path: str) -> keras.Model:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"key 'model.path': file {path!r} not found (relative paths are from the repository "
            "root); give a .keras or .h5 classifier saved with model.save()"
        )
    if file.suffix not in MODEL_SUFFIXES:
        raise ConfigError(
            f"key 'model.path' must name a {' or '.join(MODEL_SUFFIXES)} file; received {path!r}"
        )
    model = load_keras_file(file, advice="save the whole model, without Lambda layers, with "
                                         "model.save('model.keras')")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InputError(
            f"{path}: a classifier has one input and one output; this model has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )
    return model


def _check_against_data(model: keras.Model, path: str, *, input_shape: tuple[int, ...],
                        num_classes: int, task: str = MULTICLASS) -> None:
    takes = tuple(model.input_shape[1:])
    fits = len(takes) == len(input_shape) and all(
        t is None or t == d for t, d in zip(takes, input_shape))
    if not fits:
        shown = "x".join("?" if t is None else str(t) for t in takes)
        raise InputError(
            f"{path}: takes images of {shown} (height x width x channels) but the prepared data "
            f"are {'x'.join(map(str, input_shape))}; prepare the data at the model's size and "
            "channels, or use a model trained on this data"
        )
    out, units = tuple(model.output_shape[1:]), output_units(task, num_classes)
    if len(out) != 1 or out[0] != units:
        what = ("one score (the positive class's) for task.kind 'binary'" if units != num_classes
                else "one score per class")
        raise InputError(
            f"{path}: outputs shape {out} but the prepared data has {num_classes} classes "
            f"(data/prepared/classes.json); the model must end in {what}"
        )


def _sigmoid_task(outputs: np.ndarray) -> str:
    """The task a sigmoid file fits: binary with one output, multilabel with several."""
    return "binary" if outputs.shape[-1] == 1 else "multilabel"


def _final_activation(layer) -> str | None:
    """"softmax" or "sigmoid" when `layer` ends in one, else None."""
    if isinstance(layer, layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    for name in ("softmax", "sigmoid"):
        if activation is getattr(keras.activations, name) or getattr(
                activation, "__name__", "") == name:
            return name
    return None


def _detect_output(model: keras.Model, outputs: np.ndarray, *, task: str = MULTICLASS) -> str:
    """softmax, sigmoid or logits: the last layer's activation when it says, else the numbers
    (rows of probabilities summing to 1: softmax; under a sigmoid task, every value in [0, 1]:
    sigmoid — under multiclass such values are taken as logits, as before sigmoid tasks)."""
    last = model.layers[-1] if model.layers else None
    if last is not None and _final_activation(last):
        return _final_activation(last)
    # a weighted layer (Dense, Conv) without activation: its outputs are logits; an identity
    # layer (Activation("linear") after a softmax, say) says nothing, so the numbers decide
    if last is not None and last.weights and getattr(last, "activation", None) is \
            keras.activations.linear:
        return "logits"
    if (outputs >= 0).all() and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3):
        return "softmax"
    in_unit_range = ((outputs >= 0) & (outputs <= 1)).all()
    return "sigmoid" if sigmoid_output(task) and in_unit_range else "logits"


def _renamed(model: keras.Model) -> keras.Model:
    """The file's network as a nested functional model named `backbone` (as-is if it is not a
    graph network, e.g. a subclassed model)."""
    try:
        return keras.Model(model.inputs[0], model.outputs[0], name=BACKBONE_LAYER)
    except (AttributeError, ValueError, TypeError):
        return model


def _cut_before_activation(model: keras.Model, path: str, kind: str):
    """(network up to the values before its final `kind` activation, layer producing `logits`
    from them)."""
    last = model.layers[-1] if model.layers else None
    if last is None or _final_activation(last) != kind:
        raise InputError(
            f"{path}: outputs probabilities but its last layer ({type(last).__name__}) is not "
            f"a {kind} that can be cut off, so its logits are out of reach; save the model "
            f"without the final {kind} and set model.output=logits"
        )
    try:
        inner = keras.Model(model.inputs[0], last.input, name=BACKBONE_LAYER)
    except (AttributeError, ValueError, TypeError) as err:
        raise InputError(
            f"{path}: cannot take the input of its last {kind} layer ({err}); save the model "
            f"without the final {kind} and set model.output=logits"
        ) from None
    if isinstance(last, (layers.Softmax, layers.Activation)):
        return inner, layers.Activation("linear", dtype="float32", name="logits")
    config = {**last.get_config(), "name": "logits", "activation": "linear", "dtype": "float32"}
    head = type(last).from_config(config)
    head.build(tuple(last.input.shape))
    head.set_weights(last.get_weights())
    return inner, head


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_provided(path: str, *, num_classes: int, input_shape: tuple[int, ...] | None = None,
                   task: str = MULTICLASS) -> keras.Model:
    """Load the file at `path` as `load_provided` does and check it against what is known of
    the data before prepare runs: the class count, and the input shape when conf/ fixes it
    (`data.image_size` and `data.channels`); the check stage calls this so that a wrong file
    stops `dvc repro` before any stage starts. Returns the loaded model."""
    user = _load(path)
    takes = tuple(user.input_shape[1:])
    shape = input_shape if input_shape is not None else takes  # unknown yet: train checks it
    _check_against_data(user, path, input_shape=shape, num_classes=num_classes, task=task)
    return user
