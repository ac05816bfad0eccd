"""Attribution methods: one contract test over every registered method (xplique style), known
answers on a model that only looks at one image quadrant, Integrated Gradients' completeness,
and Grad-CAM finding the last convolution inside a nested keras.applications backbone."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from classlens.config import EXPLAIN_METHODS  # noqa: E402
from classlens.explain import METHODS, explainer_class, make_explainer  # noqa: E402
from classlens.explain.base import logits_model  # noqa: E402
from classlens.explain.gradcam import GradCAM  # noqa: E402
from classlens.explain.integrated_gradients import IntegratedGradients  # noqa: E402
from classlens.explain.layers import (find_last_conv_layer, get_layer,  # noqa: E402
                                      iter_layers)
from classlens.explain.occlusion import patch_masks  # noqa: E402

QUADRANT = (slice(0, 4), slice(0, 4))


def quadrant_model(*, linear: bool = False) -> keras.Model:
    """Sees only the top-left 4x4 quadrant of an 8x8 image (a fixed mask, then a ReLU conv with
    no bias, or nothing when `linear`), so every faithful map must concentrate there."""
    inputs = keras.Input((8, 8, 1), name="image")
    mask = np.zeros((8, 8, 1), "float32")
    mask[QUADRANT] = 1.0
    x = keras.layers.Lambda(lambda t: t * mask, name="quadrant")(inputs)
    if not linear:
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", use_bias=False,
                                name="conv",
                                kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
    x = keras.layers.Flatten()(x)
    logits = keras.layers.Dense(3, name="logits",
                                kernel_initializer=keras.initializers.RandomNormal(seed=2))(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="probabilities")(logits))


@pytest.fixture(scope="module")
def model():
    return quadrant_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (6, 8, 8, 1)).astype(np.uint8)


TARGETS = np.array([0, 1, 2, 0, 1, 2])


def test_registry_matches_config():
    assert tuple(METHODS) == EXPLAIN_METHODS
    for name in METHODS:
        assert explainer_class(name).name == name


# ---------------------------------------------------------------- the contract, every method


@pytest.mark.parametrize("name", list(METHODS))
def test_contract(name, model, images):
    explainer = make_explainer(name, model, batch_size=5)
    maps = explainer.explain(images, TARGETS)
    assert maps.shape == (6, 8, 8) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and np.abs(maps).sum() > 0
    if not explainer.signed:
        assert (maps >= 0).all()
    # batch_size bounds memory only: the maps do not depend on it
    np.testing.assert_allclose(make_explainer(name, model, batch_size=1000).explain(
        images, TARGETS), maps, rtol=1e-4, atol=1e-6)
    # deterministic, and one image at a time gives the same as the batch (SmoothGrad seeds
    # noise by position in the call, so it is checked on the first image)
    np.testing.assert_array_equal(explainer.explain(images, TARGETS), maps)
    np.testing.assert_allclose(explainer.explain(images[:1], TARGETS[:1]), maps[:1],
                               rtol=1e-4, atol=1e-6)
    # different classes, different maps
    assert not np.allclose(explainer.explain(images, (TARGETS + 1) % 3), maps)
    assert explainer.explain(images[:0], TARGETS[:0]).shape == (0, 8, 8)


@pytest.mark.parametrize("name", list(METHODS))
def test_contract_rejects_bad_input(name, model, images):
    explainer = make_explainer(name, model)
    with pytest.raises(ValueError, match="`images` must"):
        explainer.explain(images[0], TARGETS[:1])
    with pytest.raises(ValueError, match=r"`images` must have shape \(N, 8, 8, 1\)"):
        explainer.explain(np.zeros((2, 9, 9, 1)), TARGETS[:2])
    with pytest.raises(ValueError, match="`targets` must be 6 integer"):
        explainer.explain(images, TARGETS[:3])
    with pytest.raises(ValueError, match=r"`targets` must be in \[0, 2\]"):
        explainer.explain(images, np.full(6, 3))
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        make_explainer(name, model, batch_size=0)


# ---------------------------------------------------------------- known answers


@pytest.mark.parametrize("name", list(METHODS))
def test_maps_concentrate_in_the_quadrant_the_model_sees(name, model, images):
    maps = np.abs(make_explainer(name, model).explain(images, TARGETS))
    total = maps.sum(axis=(1, 2))
    if name in ("gradients", "smoothgrad", "integrated_gradients"):
        # input gradients outside the mask are exactly zero
        np.testing.assert_allclose(maps[:, QUADRANT[0], QUADRANT[1]].sum(axis=(1, 2)), total,
                                   rtol=1e-6)
    else:
        # Grad-CAM's 3x3 conv and occlusion's 2x2 patches reach one pixel past the quadrant
        assert (maps[:, :5, :5].sum(axis=(1, 2)) >= 0.999 * total).all()
        # and the quadrant itself (16 of the 64 pixels) holds well over its share
        assert (maps[:, QUADRANT[0], QUADRANT[1]].sum(axis=(1, 2)) >= 0.4 * total).all()


def test_linear_model_gradients_are_the_weights():
    model = quadrant_model(linear=True)
    images = np.random.default_rng(1).random((3, 8, 8, 1)).astype("float32")
    weights = model.get_layer("logits").get_weights()[0].reshape(8, 8, 1, 3)
    expected = np.abs(weights[..., 0, 0]) * np.pad(np.ones((4, 4)), ((0, 4), (0, 4)))
    for name in ("gradients", "smoothgrad"):  # a linear logit's gradient is constant
        maps = make_explainer(name, model).explain(images, np.zeros(3, int))
        np.testing.assert_allclose(maps, np.broadcast_to(expected, maps.shape), rtol=1e-4,
                                   atol=1e-7)
    # Integrated Gradients of a linear logit from a black baseline: x * w, exactly
    ig = make_explainer("integrated_gradients", model, steps=4).explain(images, np.zeros(3, int))
    np.testing.assert_allclose(ig, images[..., 0] * weights[..., 0, 0] * (expected > 0),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("baseline", ["black", "mean", "blur"])
def test_integrated_gradients_completeness_within_one_percent(model, images, baseline):
    from classlens.explain.trust import completeness_numbers

    result = IntegratedGradients(model, steps=64, baseline=baseline).attribute(images, TARGETS)
    assert np.abs(result.maps.sum(axis=(1, 2)) - result.delta) == pytest.approx(result.gap,
                                                                              abs=1e-5)
    assert np.abs(result.delta).sum() > 5  # the logit does move along the path
    # sum of attributions = F(x) - F(baseline) within 1% (of the total change, as the stage
    # reports it: per image the change can be near zero)
    assert completeness_numbers(result)["completeness_relative_gap"] < 0.01
    assert (result.gap < 0.01 * np.maximum(np.abs(result.delta), 2.0)).all()


def test_completeness_gap_shrinks_with_steps(model, images):
    coarse = IntegratedGradients(model, steps=4, baseline="mean").attribute(images, TARGETS)
    fine = IntegratedGradients(model, steps=128, baseline="mean").attribute(images, TARGETS)
    assert fine.gap.sum() < coarse.gap.sum() / 4


def test_smoothgrad_is_seeded_and_noise_matters(model, images):
    first = make_explainer("smoothgrad", model, seed=3, samples=8, noise=0.3)
    again = make_explainer("smoothgrad", model, seed=3, samples=8, noise=0.3)
    other = make_explainer("smoothgrad", model, seed=4, samples=8, noise=0.3)
    plain = make_explainer("gradients", model).explain(images, TARGETS)
    maps = first.explain(images, TARGETS)
    np.testing.assert_array_equal(maps, again.explain(images, TARGETS))
    assert not np.allclose(maps, other.explain(images, TARGETS))
    assert not np.allclose(maps, plain)
    np.testing.assert_allclose(make_explainer("smoothgrad", model, noise=0.0).explain(
        images, TARGETS), plain, rtol=1e-5, atol=1e-7)


def test_occlusion_patches_cover_every_pixel():
    masks = patch_masks(8, 8, 3, 2)
    assert masks.any(axis=0).all()
    assert masks.sum(axis=(1, 2)).tolist() == [9] * len(masks)
    assert len(masks) == 16  # starts 0, 2, 4, 5 in each direction (the last flush with the edge)


def test_method_options_are_checked(model):
    with pytest.raises(ValueError, match="`reduce` must be one of"):
        make_explainer("gradients", model, reduce="median")
    with pytest.raises(ValueError, match="`baseline` must be one of"):
        make_explainer("integrated_gradients", model, baseline="white")
    with pytest.raises(ValueError, match=r"`patch` must be in \[1, 8\]"):
        make_explainer("occlusion", model, patch=9)
    with pytest.raises(ValueError, match="`method` must be one of"):
        make_explainer("lime", model)


def test_logits_are_found_without_a_logits_layer():
    inputs = keras.Input((4,))
    scores = keras.layers.Dense(3, name="scores")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(scores))
    assert logits_model(model).output.shape == (None, 3)
    dense_softmax = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    with pytest.raises(ValueError, match="must have a layer named 'logits'"):
        logits_model(dense_softmax)


# ---------------------------------------------------------------- Grad-CAM on nested backbones


def nested_model(application) -> keras.Model:
    """A transfer-learning-shaped model: rescaling, a keras.applications backbone nested as one
    layer (random weights, no download), pooling, a `logits` dense layer and a softmax."""
    backbone = application(weights=None, include_top=False, input_shape=(32, 32, 3))
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="preprocess")(inputs)
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.layers.Dense(4, name="logits")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="probabilities")(logits))


@pytest.mark.parametrize("application, last", [
    ("MobileNet", "conv_pw_13_relu"),
    ("MobileNetV2", "out_relu"),
])
def test_gradcam_finds_the_last_conv_inside_a_nested_backbone(application, last):
    model = nested_model(getattr(keras.applications, application))
    backbone = model.layers[2]
    assert isinstance(backbone, keras.Model)
    assert find_last_conv_layer(model) == f"{backbone.name}/{last}"
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    for cls in ("gradcam", "gradcam_plus_plus"):
        explainer = make_explainer(cls, model, batch_size=2)
        assert explainer.layer == f"{backbone.name}/{last}"
        maps = explainer.explain(images, np.array([0, 1, 3]))
        assert maps.shape == (3, 32, 32) and np.isfinite(maps).all() and (maps >= 0).all()
    # a named layer deeper in the backbone, by full path or by bare name, gives a finer map
    inner = "conv_pw_11_relu" if application == "MobileNet" else "block_13_expand_relu"
    path = f"{backbone.name}/{inner}"
    for layer in (path, path.split("/")[1]):
        named = GradCAM(model, layer=layer).explain(images, np.array([0, 1, 3]))
        assert named.shape == (3, 32, 32) and np.isfinite(named).all()
    # the model is left as it was: its layers' `call` is restored after each pass
    assert "call" not in vars(get_layer(model, f"{backbone.name}/{last}"))
    np.testing.assert_allclose(model.predict(images, verbose=0).sum(axis=1), 1.0, rtol=1e-5)


def test_gradcam_layer_errors_name_the_candidates(model):
    with pytest.raises(ValueError, match="`layer` must name a layer.*conv"):
        GradCAM(model, layer="nope")
    dense = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, name="logits"), keras.layers.Softmax()])
    with pytest.raises(ValueError, match="has no convolutional layer"):
        GradCAM(dense)


def test_iter_layers_walks_nested_models_in_order():
    model = nested_model(keras.applications.MobileNet)
    paths = [p for p, _ in iter_layers(model)]
    backbone = model.layers[2].name
    assert paths.index("preprocess") < paths.index(f"{backbone}/conv1") < paths.index("logits")
