"""The explain stage on a multi-label run: which images and which labels it explains (from the
prediction table alone: every predicted label and every missed one), that deletion/insertion
tracks a sigmoid label's own probability, and the stage end to end on the digit mosaics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from classlens import paths
from classlens.errors import InputError
from classlens.evaluation.predictions import multilabel_table
from classlens.explain.selection import (label_matrix, multilabel_explanation_rows,
                                         select_multilabel_examples)
from classlens.pipeline.explain_targets import outcomes, spread
from tests.conftest import REPO

NAMES = ["cat", "dog", "owl", "eel"]


def _case(n: int = 80, seed: int = 0):
    """A multi-label prediction table built by the predict stage's own writer, its
    probabilities and thresholds; the last 6 images carry no label and none is predicted."""
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, len(NAMES))) < 0.4
    p = np.where(y_true, rng.uniform(0.3, 1.0, y_true.shape), rng.uniform(0.0, 0.65, y_true.shape))
    y_true[-6:], p[-6:] = False, 0.1
    thresholds = np.array([0.5, 0.4, 0.6, 0.5])
    table = multilabel_table(ids=[f"img:{i}" for i in range(n)], source_paths=[""] * n,
                             y_true=y_true, probabilities=p, thresholds=thresholds,
                             class_names=NAMES)
    return table, y_true, p, thresholds


def _select(table, seed=1, **counts):
    counts = {"n_misclassified": 4, "n_correct": 3, "n_per_class": 2, **counts}
    return select_multilabel_examples(table, class_names=NAMES, seed=seed, **counts)


def test_label_matrix_reads_label_sets_in_class_order():
    found = label_matrix(["owl|cat", "", "eel"], NAMES)
    np.testing.assert_array_equal(found, [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    with pytest.raises(InputError, match="predictions.csv: .*'bat'"):
        label_matrix(["cat|bat"], NAMES)


def test_selection_most_wrong_least_confident_correct_and_per_label():
    table, y_true, p, thresholds = _case()
    chosen = _select(table)
    assert chosen["id"].is_unique  # an image is explained once, in its first group
    nothing = [f"img:{i}" for i in range(len(table) - 6, len(table))]
    assert not set(nothing) & set(chosen["id"])  # no predicted and no missed label: left out

    # the most wrong: most labels wrong, then the highest loss (computed here from the arrays)
    y_pred = p >= thresholds
    n_wrong = (y_true != y_pred).sum(axis=1)
    loss = -(y_true * np.log(p) + ~y_true * np.log(1 - p)).mean(axis=1)
    order = sorted(np.flatnonzero(n_wrong > 0), key=lambda i: (-n_wrong[i], -loss[i], i))
    wrong = chosen[chosen["group"] == "misclassified"]
    assert wrong["id"].tolist() == [f"img:{i}" for i in order[:4]]
    # the least confident exact matches (with a label to explain), highest loss first
    exact = [i for i in np.argsort(-loss, kind="stable")
             if n_wrong[i] == 0 and (y_pred[i].any() or y_true[i].any())]
    right = chosen[chosen["group"] == "correct"]
    assert right["id"].tolist() == [f"img:{i}" for i in exact[:3]]
    assert chosen["group"].tolist()[:7] == ["misclassified"] * 4 + ["correct"] * 3

    # per label: after its draw, at least two chosen images carry it (all of them if fewer)
    carriers = label_matrix(chosen["true_labels"], NAMES)
    sample = chosen[chosen["group"] == "per_class"]
    assert len(sample) and label_matrix(sample["true_labels"], NAMES).any(axis=1).all()
    assert (carriers.sum(axis=0) >= np.minimum(2, y_true.sum(axis=0))).all()

    pd.testing.assert_frame_equal(chosen, _select(table))  # seeded
    assert set(_select(table, seed=2)["id"]) != set(chosen["id"])


def test_rows_explain_every_predicted_then_every_missed_label():
    table, y_true, p, thresholds = _case()
    chosen = _select(table)
    rows = multilabel_explanation_rows(chosen, class_names=NAMES, probabilities=p,
                                       thresholds=thresholds)
    assert rows["image"].is_monotonic_increasing
    for i, image in chosen.iterrows():
        position = image["position"]
        predicted = [NAMES[k] for k in np.flatnonzero(p[position] >= thresholds)]
        missed = [NAMES[k] for k in np.flatnonzero(y_true[position] & (p[position] < thresholds))]
        mine = rows[rows["image"] == i]
        assert mine["target_label"].tolist() == predicted + missed, image["id"]
        assert mine["target_kind"].tolist() == ["predicted"] * len(predicted) + \
            ["missed"] * len(missed)
        assert (mine["true_label"] == image["true_labels"]).all()
        assert (mine["pred_label"] == image["pred_labels"]).all()
    assert (rows["target_kind"] == "missed").any()
    assert rows["target_label"].tolist() == [NAMES[t] for t in rows["target"]]
    np.testing.assert_allclose(rows["confidence"], p[rows["position"], rows["target"]])
    np.testing.assert_allclose(rows["threshold"], thresholds[rows["target"]])
    # an extra label is a predicted one that is not true; a missed one is true, not predicted
    truth = y_true[rows["position"], rows["target"]]
    expected = np.where(rows["target_kind"] == "missed", "missed",
                        np.where(truth, "predicted", "extra"))
    assert outcomes(rows) == expected.tolist()


def test_figures_spread_over_the_selection_groups():
    groups = ["misclassified"] * 5 + ["correct"] * 2 + ["per_class"] * 4
    assert spread(groups, 6).tolist() == [0, 1, 5, 6, 7, 8]
    assert spread(groups, 50).tolist() == list(range(11))
    assert spread([], 3).tolist() == []


# ---------------------------------------------------------------- a sigmoid model's trust checks


def _sigmoid_model():
    """Three labels, one sigmoid each, on 8x8 images; small weights keep the sigmoids unsaturated."""
    keras = pytest.importorskip("keras")
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
    logits = keras.layers.Dense(3, name="logits", kernel_initializer=keras.initializers.
                                RandomNormal(stddev=0.3, seed=2))(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Activation("sigmoid", name="probabilities")(logits))


def test_deletion_insertion_tracks_a_sigmoid_labels_own_probability():
    from classlens.explain.base import logits_model
    from classlens.explain.faithfulness import deletion_insertion

    model = _sigmoid_model()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 8, 8, 1)).astype(np.uint8)
    targets = np.array([0, 1, 2, 1])
    scores = logits_model(model).predict(images.astype("float32"), verbose=0)
    black = logits_model(model).predict(np.zeros_like(images, "float32"), verbose=0)
    rows = np.arange(len(images))

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    curves = deletion_insertion(model, images, rng.random((4, 8, 8)), targets, steps=4,
                                random_orders=1, baseline="black", seed=0)
    # the untouched image: the label's own sigmoid; every pixel deleted: the black image's
    np.testing.assert_allclose(curves.deletion[:, 0], sigmoid(scores[rows, targets]), rtol=1e-5)
    np.testing.assert_allclose(curves.deletion[:, -1], sigmoid(black[rows, targets]), rtol=1e-5)
    np.testing.assert_allclose(curves.insertion[:, -1], sigmoid(scores[rows, targets]), rtol=1e-5)
    softmax = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert not np.allclose(curves.deletion[:, 0], softmax[rows, targets], atol=1e-3)


def test_logits_are_found_before_a_final_sigmoid():
    keras = pytest.importorskip("keras")
    from classlens.explain.base import logits_model

    inputs = keras.Input((4,))
    scores = keras.layers.Dense(3, name="scores")(inputs)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(scores))
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    z = logits_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), model.predict(x, verbose=0), rtol=1e-5)


def test_randomization_runs_on_a_sigmoid_model_and_restores_it():
    from classlens.explain import make_explainer
    from classlens.explain.randomization import model_randomization

    model = _sigmoid_model()
    images = np.random.default_rng(3).integers(0, 256, (3, 8, 8, 1)).astype(np.uint8)
    targets = np.array([2, 0, 1])
    before = model.predict(images, verbose=0)
    explainers = {"gradients": make_explainer("gradients", model)}
    result = model_randomization(model, explainers, images, targets, checkpoints=0, seed=0)
    assert result.layers[0] == "logits" and result.spearman["gradients"].shape == (2, 3)
    assert np.isfinite(result.spearman["gradients"]).all()
    assert result.spearman["gradients"][-1].mean() < 0.9  # random weights: other maps
    np.testing.assert_allclose(model.predict(images, verbose=0), before, rtol=1e-6)


# ---------------------------------------------------------------- the stage, end to end


@pytest.fixture
def explained(multilabel_project) -> Path:
    """The embedded multi-label default (digit mosaics) after every stage (conftest)."""
    return multilabel_project


def test_stage_explains_every_predicted_and_missed_label(explained):
    from classlens.config import EXPLAIN_METHODS

    index = pd.read_csv(explained / paths.EXPLAIN_INDEX, keep_default_na=False,
                        dtype={"true_label": str, "pred_label": str, "target_label": str})
    table = pd.read_csv(explained / paths.PREDICTIONS, keep_default_na=False,
                        dtype={c: str for c in ("true_labels", "pred_labels", "missed")})
    record = json.loads((explained / paths.PREPROCESSING).read_text())
    names, thresholds = record["class_names"], np.asarray(record["thresholds"]["values"])
    probabilities = np.load(explained / paths.PROBABILITIES)
    assert index["row"].tolist() == list(range(len(index)))
    assert set(index["target_kind"]) <= {"predicted", "missed"}

    # one row per (image, label): its predicted labels, then its missed ones
    by_id = table.set_index("id")
    for image_id, rows in index.groupby("id", sort=False):
        image = by_id.loc[image_id]
        predicted = [n for n in names if n in image["pred_labels"].split("|")]
        missed = [n for n in names if n in image["missed"].split("|")]
        assert rows["target_label"].tolist() == predicted + missed, image_id
        assert (rows["true_label"] == image["true_labels"]).all()
    assert index.groupby(["id", "target"]).size().max() == 1
    np.testing.assert_allclose(index["confidence"],
                               probabilities[index["position"], index["target"]], rtol=1e-6)
    np.testing.assert_allclose(index["threshold"], thresholds[index["target"]])
    # the model missed labels on some explained image: those have rows of their own
    chosen = by_id.loc[index["id"].unique()]
    assert (chosen["missed"] != "").any(), "the shrunk model misses no label: nothing checked"
    with_missed = set(chosen.index[chosen["missed"] != ""])
    assert set(index[index["target_kind"] == "missed"]["id"]) == with_missed

    for method in EXPLAIN_METHODS:
        maps = np.load(explained / paths.explain_maps(method))
        assert maps.shape == (len(index), 16, 16) and np.isfinite(maps).all(), method
        assert (np.abs(maps).sum(axis=(1, 2)) > 0).mean() > 0.9, method


def test_stage_writes_what_dvc_yaml_declares_with_label_captions(explained):
    from PIL import Image

    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["explain"]
    for out in stage["outs"]:
        assert (explained / next(iter(out))).is_dir()
    out = explained / paths.EXPLAIN_DIR
    for name in (paths.EXPLAIN_INDEX, paths.EXPLAIN_TRUST, paths.EXPLAIN_FIGURES,
                 paths.EXPLAIN_COMPARISON_PNG, paths.EXPLAIN_FAITHFULNESS_PNG,
                 paths.EXPLAIN_RANDOMIZATION_PNG):
        assert (out / name.name).stat().st_size > 0, name
    manifest = json.loads((explained / paths.EXPLAIN_FIGURES).read_text())
    assert sorted(Path(e["file"]).name for e in manifest) == sorted(p.name for p in
                                                                      out.glob("*.png"))
    for entry in manifest:
        width, height = Image.open(explained / entry["file"]).size
        assert width <= 1500 and height <= 1000, (entry["file"], width, height)
    by_kind = {e["kind"]: e for e in manifest}
    assert "every predicted label and every missed one" in by_kind["method"]["caption"]
    assert "label sets" in by_kind["comparison"]["caption"]
    assert "sigmoid" in by_kind["faithfulness"]["caption"]
    trust = json.loads((explained / paths.EXPLAIN_TRUST).read_text())
    for record in trust["methods"].values():
        assert 0 <= record["deletion_auc"] <= 1 and 0 <= record["insertion_auc"] <= 1
