"""Trust numbers: deletion/insertion against random orders, the model-randomisation sanity check
(it must catch an "explanation" that ignores the model: an edge detector), and the flags."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from classlens.config import AugmentConfig, CNNOptions  # noqa: E402
from classlens.explain import make_explainer  # noqa: E402
from classlens.explain.base import Explainer  # noqa: E402
from classlens.explain.faithfulness import deletion_insertion, pixel_ranks  # noqa: E402
from classlens.explain.randomization import (checkpoint_counts,  # noqa: E402
                                             model_randomization, rank_correlations,
                                             weighted_layers_top_down)
from classlens.explain.trust import trust_summary  # noqa: E402
from classlens.models import build_model  # noqa: E402
from tests.helpers import digits as digits_arrays  # noqa: E402
from tests.test_explain_methods import quadrant_model  # noqa: E402


class EdgeDetector(Explainer):
    """Sobel edge magnitude of the image: looks like a saliency map, ignores the model."""

    name = "edges"

    def _explain(self, images, targets):
        from scipy import ndimage

        gray = images.mean(axis=-1)
        return np.hypot(ndimage.sobel(gray, axis=1), ndimage.sobel(gray, axis=2))


@pytest.fixture(scope="module")
def digits():
    return digits_arrays(12)[0]


@pytest.fixture(scope="module")
def cnn():
    cfg = CNNOptions(architecture="cnn", filters=[8, 16], convs_per_block=1, kernel_size=3,
                     block_dropout=0.0, padding="same", batch_norm=True, head="gap", dense_units=0,
                     head_dropout=0.0,
                     augment=AugmentConfig(translate=0.0, rotate=0.0, zoom=0.0,
                                           flip_horizontal=False))
    return build_model(cfg, input_shape=(8, 8, 1), num_classes=10, seed=0)


# ---------------------------------------------------------------- deletion / insertion


def _linear_case():
    model = quadrant_model(linear=True)
    images = np.random.default_rng(2).integers(0, 256, (8, 8, 8, 1)).astype(np.uint8)
    targets = model.predict(images, verbose=0).argmax(axis=1)
    # the exact contribution of each pixel to the target logit: x * w (Integrated Gradients)
    oracle = make_explainer("integrated_gradients", model, steps=2).explain(images, targets)
    return model, images, targets, oracle


def test_curves_start_and_end_where_they_must():
    model, images, targets, oracle = _linear_case()
    curves = deletion_insertion(model, images, oracle, targets, steps=8, random_orders=2,
                                batch_size=37)
    p = model.predict(images, verbose=0)[np.arange(8), targets]
    p_black = model.predict(np.zeros_like(images), verbose=0)[np.arange(8), targets]
    np.testing.assert_allclose(curves.deletion[:, 0], p, rtol=1e-5)
    np.testing.assert_allclose(curves.deletion[:, -1], p_black, rtol=1e-5)
    np.testing.assert_allclose(curves.insertion[:, 0], p_black, rtol=1e-5)
    np.testing.assert_allclose(curves.insertion[:, -1], p, rtol=1e-5)
    np.testing.assert_allclose(curves.random_deletion[:, 0], p, rtol=1e-5)
    assert curves.fractions[0] == 0 and curves.fractions[-1] == 1 and len(curves.fractions) == 9
    same = deletion_insertion(model, images, oracle, targets, steps=8, random_orders=2,
                              batch_size=1000)
    np.testing.assert_allclose(same.deletion, curves.deletion, rtol=1e-5)  # batching-invariant


def test_a_faithful_map_beats_random_and_an_inverted_one_is_flagged():
    model, images, targets, oracle = _linear_case()
    good = deletion_insertion(model, images, oracle, targets, steps=16).summary()
    assert good["deletion_auc"] < good["deletion_auc_random"]
    assert good["insertion_auc"] > good["insertion_auc_random"]
    assert good["deletion_gain"] > 0.05 and not good["no_better_than_random"]
    bad = deletion_insertion(model, images, -oracle, targets, steps=16).summary()
    assert bad["deletion_gain"] < 0 and bad["no_better_than_random"]


def test_ties_are_broken_at_random_not_in_raster_order():
    ranks = pixel_ranks(np.zeros((200, 4, 4)), rng=np.random.default_rng(0))
    assert sorted(ranks[0].ravel()) == list(range(16))
    # a constant map does not always remove the top-left pixel first
    assert 0.02 < np.mean(ranks[:, 0, 0] == 0) < 0.15
    ranked = pixel_ranks(np.arange(16.0).reshape(1, 4, 4), rng=np.random.default_rng(0))
    assert ranked[0, 3, 3] == 0 and ranked[0, 0, 0] == 15


# ---------------------------------------------------------------- model randomisation


def test_randomization_flags_an_edge_detector_but_not_gradients(cnn, digits):
    targets = cnn.predict(digits, verbose=0).argmax(axis=1)
    before = [w.copy() for w in cnn.get_weights()]
    explainers = {"gradients": make_explainer("gradients", cnn),
                  "edges": EdgeDetector(cnn)}
    result = model_randomization(cnn, explainers, digits, targets, checkpoints=3, seed=0)
    summary = result.summary(max_spearman=0.5)
    assert summary["edges"]["spearman_final"] == pytest.approx(1.0)
    assert summary["edges"]["insensitive_to_model"]
    assert summary["gradients"]["spearman_final"] < 0.5
    assert not summary["gradients"]["insensitive_to_model"]
    assert result.layers[0] == "logits" and result.counts == [1, 3, len(result.layers)]
    assert result.spearman["gradients"].shape == (3, len(digits))
    # the trained weights are back, exactly
    for old, new in zip(before, cnn.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_randomization_changes_the_weights_it_claims_to(cnn, digits):
    layers = weighted_layers_top_down(cnn)
    assert [p for p, _ in layers][:2] == ["logits", "block2_bn1"]
    logits_before = cnn.get_layer("logits").get_weights()[0].copy()
    seen = {}

    class Spy(Explainer):
        def _explain(self, images, targets):
            seen.setdefault("kernel", []).append(
                cnn.get_layer("logits").get_weights()[0].copy())
            return images[..., 0]

    model_randomization(cnn, {"spy": Spy(cnn)}, digits[:2], np.zeros(2, int), checkpoints=2)
    original, randomised = seen["kernel"][0], seen["kernel"][1]
    np.testing.assert_array_equal(original, logits_before)
    assert not np.allclose(randomised, logits_before)


def test_randomization_rejects_explainers_of_another_model(cnn, digits):
    other = quadrant_model()
    with pytest.raises(ValueError, match="must be built on `model`"):
        model_randomization(cnn, {"g": make_explainer("gradients", other)}, digits,
                            np.zeros(len(digits), int))


def test_checkpoint_counts_and_rank_correlation():
    assert checkpoint_counts(9, 0) == list(range(1, 10))
    assert checkpoint_counts(9, 3) == [1, 5, 9]
    assert checkpoint_counts(2, 5) == [1, 2]
    a = np.random.default_rng(0).random((3, 4, 4))
    np.testing.assert_allclose(rank_correlations(a, a), 1.0)
    np.testing.assert_allclose(rank_correlations(a, -a), 1.0)  # |map|: sign ignored
    np.testing.assert_allclose(rank_correlations(a, a ** 3 + 5), 1.0)  # ranks only
    assert np.isnan(rank_correlations(a, np.zeros_like(a))).all()


def test_trust_summary_flags_and_explains_why(cnn, digits):
    model, images, targets, oracle = _linear_case()
    faith = {"good": deletion_insertion(model, images, oracle, targets),
             "inverted": deletion_insertion(model, images, -oracle, targets)}
    summary = trust_summary(faith, None, min_gain=0.0, max_spearman=0.5)
    assert not summary["good"]["flagged"] and summary["good"]["flags"] == []
    assert summary["inverted"]["flagged"]
    assert "no better than a random pixel order" in summary["inverted"]["flags"][0]
