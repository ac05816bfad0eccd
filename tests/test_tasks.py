"""Binary and multi-label models: every architecture ends in `logits` then a sigmoid (one output
for binary, one per class for multilabel), training takes the task's targets and loss, provided
files are wrapped by their final activation, and a model that does not fit the task is one line."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from classlens.errors import ConfigError, InputError  # noqa: E402
from classlens.evaluation.predictions import (binary_decisions, multilabel_table,  # noqa: E402
                                              prediction_table, two_columns)
from classlens.models import LOGITS_LAYER, build_model  # noqa: E402
from classlens.models.provided import load_provided  # noqa: E402
from classlens.task import check_fits_data, positive_index  # noqa: E402
from classlens.training import objective  # noqa: E402
from tests.helpers import model_config  # noqa: E402

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (24, 8, 8, 1)).astype(np.uint8)


@pytest.mark.parametrize("architecture,overrides", [
    ("cnn", ()), ("mobilenet", ("model.alpha=0.25",))])
@pytest.mark.parametrize("task,units,activation", [  # multiclass: test_contracts
    ("binary", 1, "sigmoid"), ("multilabel", 3, "sigmoid")])
def test_every_architecture_ends_in_logits_then_the_tasks_activation(architecture, overrides,
                                                                     task, units, activation):
    model = build_model(model_config(architecture, *overrides), input_shape=(8, 8, 1),
                        num_classes=3, seed=0, task=task)
    assert model.output_shape == (None, units)
    assert model.get_layer(LOGITS_LAYER).output.shape[-1] == units
    assert model.layers[-1].activation.__name__ == activation
    out = model.predict(IMAGES[:4], verbose=0)
    logits = keras.Model(model.inputs, model.get_layer(LOGITS_LAYER).output).predict(
        IMAGES[:4], verbose=0)
    expected = (1 / (1 + np.exp(-logits)) if activation == "sigmoid"
                else np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_targets_follow_the_task():
    labels = np.array([0, 1, 1, 0])
    assert objective.targets(labels, "multiclass").dtype == np.int64
    np.testing.assert_array_equal(objective.targets(labels, "binary", positive=1)[:, 0],
                                  [0, 1, 1, 0])
    np.testing.assert_array_equal(objective.targets(labels, "binary", positive=0)[:, 0],
                                  [1, 0, 0, 1])
    multi = np.array([[1, 0, 1], [0, 0, 0]], dtype=np.uint8)
    y = objective.targets(multi, "multilabel")
    assert y.dtype == np.float32 and y.shape == (2, 3) and y.sum() == 2


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_a_sigmoid_model_trains_and_its_history_has_the_tasks_metrics(task):
    from classlens.config import compose, validate
    from classlens.training.loop import fit
    from tests.conftest import REPO

    labels = (RNG.random((24, 3)) < 0.4).astype(np.uint8) if task == "multilabel" else \
        np.arange(24) % 2
    y = objective.targets(labels, task)
    model = build_model(model_config("cnn", "model.filters=[4]"), input_shape=(8, 8, 1),
                        num_classes=3 if task == "multilabel" else 2, seed=0, task=task)
    train_cfg = validate(compose(REPO / "conf", ["train.epochs=2", "train.batch_size=8"])).train
    result = fit(model, (IMAGES, y), (IMAGES[:8], y[:8]), train_cfg, seed=0, task=task)
    history = result.history
    assert len(history) == 2 and np.isfinite(history["val/loss"]).all()
    assert ((history["train/accuracy"] >= 0) & (history["train/accuracy"] <= 1)).all()
    assert ("val/map" in history.columns) == (task == "multilabel")


def _user_model(activation: str, units: int) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    outputs = keras.layers.Dense(units, activation=activation, name="out")(x)
    model = keras.Model(inputs, outputs)
    model.set_weights([RNG.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def test_a_provided_sigmoid_model_is_wrapped_and_gives_its_own_outputs(tmp_path):
    user = _user_model("sigmoid", 3)
    path = tmp_path / "tags.keras"
    user.save(path)
    model, kind = load_provided(str(path), input_shape=(8, 8, 1), num_classes=3,
                                input_scaling="unit", output="auto", sample=IMAGES[:8],
                                task="multilabel")
    assert kind == "sigmoid"
    np.testing.assert_allclose(model.predict(IMAGES, verbose=0),
                               user.predict(IMAGES / 255.0, verbose=0), atol=1e-5)
    assert model.get_layer(LOGITS_LAYER) is not None


@pytest.mark.parametrize("activation,units,task,needle", [
    ("softmax", 3, "multilabel", "ends in a softmax"),
    ("sigmoid", 3, "multiclass", "ends in a sigmoid"),
    ("softmax", 2, "binary", "one score (the positive class's)"),
])
def test_a_provided_model_that_does_not_fit_the_task_is_one_line(tmp_path, activation, units,
                                                                 task, needle):
    path = tmp_path / "mine.keras"
    _user_model(activation, units).save(path)
    with pytest.raises(InputError) as err:
        load_provided(str(path), input_shape=(8, 8, 1), num_classes=units if task != "binary"
                      else 2, input_scaling="unit", output="auto", sample=IMAGES[:8],
                      task=task)
    message = str(err.value)
    assert needle in message and "\n" not in message and str(path) in message


def test_task_and_data_must_agree_in_one_line():
    with pytest.raises(ConfigError, match="multi-label.*task=multilabel"):
        check_fits_data("multiclass", multilabel_data=True, class_names=["a", "b"])
    with pytest.raises(ConfigError, match="needs multi-label data"):
        check_fits_data("multilabel", multilabel_data=False, class_names=["a", "b"])
    with pytest.raises(ConfigError, match="exactly 2 classes.*task=multiclass"):
        check_fits_data("binary", multilabel_data=False, class_names=["a", "b", "c"])
    with pytest.raises(ConfigError, match="task.positive_class"):
        positive_index(["ok", "defect"], "scratch")
    assert positive_index(["defect", "ok"], "defect") == 0
    assert positive_index(["defect", "ok"], "") == 1


def test_binary_decisions_use_the_threshold_not_the_top_class():
    p = two_columns(np.array([[0.2], [0.35], [0.9]]), positive=1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    pred = binary_decisions(p, positive=1, threshold=0.3)
    np.testing.assert_array_equal(pred, [0, 1, 1])
    table = prediction_table(ids=["a", "b", "c"], source_paths=["", "", ""],
                             y_true=np.array([0, 1, 0]), probabilities=p,
                             class_names=["ok", "defect"], top_k=2, pred=pred)
    assert table["pred_label"].tolist() == ["ok", "defect", "defect"]
    assert table["correct"].tolist() == [True, True, False]
    np.testing.assert_allclose(table["confidence"], [0.8, 0.35, 0.9])
    flipped = two_columns(np.array([[0.9]]), positive=0)
    np.testing.assert_allclose(flipped, [[0.9, 0.1]], atol=1e-6)


def test_the_multilabel_table_lists_sets_misses_and_extras():
    y_true = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.uint8)
    p = np.array([[0.9, 0.6, 0.2], [0.1, 0.1, 0.1], [0.2, 0.7, 0.1]])
    table = multilabel_table(ids=["a", "b", "c"], source_paths=["", "", ""], y_true=y_true,
                             probabilities=p, thresholds=[0.5, 0.65, 0.5],
                             class_names=["cat", "dog", "sun"])
    assert table["true_labels"].tolist() == ["cat|sun", "", "dog"]
    assert table["pred_labels"].tolist() == ["cat", "", "dog"]
    assert table["missed"].tolist() == ["sun", "", ""]
    assert table["extra"].tolist() == ["", "", ""]
    assert table["correct"].tolist() == [False, True, True]
    assert table["n_wrong"].tolist() == [1, 0, 0]
    expected = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean(axis=1)
    np.testing.assert_allclose(table["loss"], expected)
