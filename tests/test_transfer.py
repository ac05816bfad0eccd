"""Transfer models from every keras.applications family (random init, at the backbone's minimum
input size): the model structure, both training phases (frozen layers stay put in phase 1, the
unfrozen ones move in phase 2), save/reload, saliency, and local weight files."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from classlens.config import BACKBONES, TrainConfig  # noqa: E402
from classlens.errors import ConfigError  # noqa: E402
from classlens.explain.saliency import VanillaGradients  # noqa: E402
from classlens.models import BACKBONE_LAYER, FEATURES_LAYER, LOGITS_LAYER, build_model  # noqa: E402
from classlens.models import backbones  # noqa: E402
from classlens.models.transfer import fine_tune_plan  # noqa: E402
from classlens.training.loop import fit, seed_everything  # noqa: E402
from tests.conftest import REPO  # noqa: E402
from tests.helpers import digits as digits_arrays  # noqa: E402
from tests.helpers import model_config  # noqa: E402

# Building and tracing a training step costs 30 s (MobileNet) to 80 s (EfficientNetB0) of CPU on
# 2 cores even at 32x32, so the default run trains one family and `-m slow` the other five.
# all under -m slow: the default run trains mobilenet's two phases through the stages
# (test_transfer_stages), which also saves the model and explains it
FAMILIES = [pytest.param(name, marks=pytest.mark.slow)
            for name in BACKBONES]


def tiny_train_config(**kw) -> TrainConfig:
    base = dict(epochs=1, batch_size=16, learning_rate=0.01, early_stopping_patience=5,
                reduce_lr_patience=5, reduce_lr_factor=0.5, min_learning_rate=1e-6,
                deterministic=False, mixed_precision=False)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def digits():
    """48 training and 16 validation images of scikit-learn's digits as uint8 8x8x1."""
    x, y = digits_arrays(64)
    return (x[:48], y[:48]), (x[48:], y[48:])


def _weights(layers) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in layers}


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


class _Snapshots(keras.callbacks.Callback):
    """Backbone and logits weights at the start of each phase and at the end of the last."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = [], None

    def on_train_begin(self, logs=None):
        self.begin.append(self._take())

    def on_train_end(self, logs=None):
        self.end = self._take()

    def _take(self):
        return {"backbone": _weights(self.model.get_layer(BACKBONE_LAYER).layers),
                "logits": _weights([self.model.get_layer(LOGITS_LAYER)])}


@pytest.mark.parametrize("architecture", FAMILIES)
def test_backbone_family_trains_in_two_phases_saves_and_explains(architecture, digits,
                                                                 tmp_path):
    train, val = digits
    cfg = model_config(architecture, "model.fine_tune.epochs=1",
                       "model.fine_tune.learning_rate=0.01")
    seed_everything(0, deterministic=False)
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=10, seed=0)

    # structure: resize to the minimum, gray -> RGB, nested backbone, features -> logits -> softmax
    spec = backbones.BACKBONES[architecture]
    base = model.get_layer(BACKBONE_LAYER)
    assert isinstance(base, keras.Model)
    # frozen for phase 1, except (random init) batch norm, which normalises with batch statistics
    assert {w.path.split("/")[-1] for w in base.trainable_weights} <= {"gamma", "beta"}
    assert base.input_shape[1:] == (spec.min_size, spec.min_size, 3)
    # the gray image, resized, becomes three equal channels
    to_rgb = keras.Model(model.input, model.get_layer("gray_to_rgb").output)
    rgb = np.asarray(to_rgb(train[0][:2].astype("float32")))
    assert rgb.shape == (2, spec.min_size, spec.min_size, 3)
    np.testing.assert_array_equal(rgb[..., 1], rgb[..., 0])
    np.testing.assert_array_equal(rgb[..., 2], rgb[..., 0])
    assert rgb.max() > 0
    assert [layer.name for layer in model.layers[-2:]] == [LOGITS_LAYER, "probabilities"]
    assert model.get_layer(LOGITS_LAYER).dtype == "float32"
    gradcam_view = keras.Model(model.input, [model.get_layer(FEATURES_LAYER).output,
                                             model.get_layer(LOGITS_LAYER).output])
    feature_map, _ = gradcam_view(train[0][:2].astype("float32"))
    assert feature_map.shape[1:] == base.output_shape[1:]

    cfg.fine_tune.unfreeze = len(base.layers) // 4  # the top quarter
    plan = fine_tune_plan(model, cfg)
    unfrozen = set(_unfrozen_names(model, cfg))
    assert unfrozen
    snaps = _Snapshots()
    result = fit(model, train, val, tiny_train_config(), seed=0, fine_tune=plan,
                 extra_callbacks=[snaps])

    assert list(result.history["epoch"]) == [1, 2]
    assert list(result.history["phase"]) == [1, 2]
    assert result.phase_starts == {1: 1, 2: 2}
    _check_phases(base, snaps, unfrozen, batch_norm_frozen=False)

    # the saved model takes the prepared uint8 images as they are and predicts the same
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    images = val[0][:6]
    np.testing.assert_allclose(reloaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-5)
    maps = VanillaGradients(reloaded, batch_size=4).explain(images, np.arange(6) % 10)
    assert maps.shape == (6, 8, 8) and np.isfinite(maps).all() and maps.sum() > 0


def test_pretrained_backbone_stays_frozen_in_phase1_and_its_batch_norm_in_both(digits,
                                                                              tmp_path):
    # pretrained weights (a local file, as a user without internet gives them): phase 1 moves
    # only the head, the backbone runs with training=False; phase 2 moves exactly the unfrozen
    # layers, batch norm (scales and statistics) never
    source = backbones.create_backbone("mobilenet", size=(32, 32), weights=None, alpha=0.25)
    rng = np.random.default_rng(0)
    source.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") if "variance" not in
                        w.path else np.ones(w.shape, "float32") for w in source.weights])
    path = tmp_path / "mobilenet_025_notop.weights.h5"
    source.save_weights(path)
    train, val = digits
    cfg = model_config("mobilenet", f"model.weights={path}", "model.fine_tune.epochs=1",
                       "model.fine_tune.learning_rate=0.01")
    seed_everything(0, deterministic=False)
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=10, seed=0)
    base = model.get_layer(BACKBONE_LAYER)
    assert not base.trainable_weights  # nothing of a pretrained backbone trains in phase 1
    cfg.fine_tune.unfreeze = len(base.layers) // 4
    plan = fine_tune_plan(model, cfg)
    unfrozen = set(_unfrozen_names(model, cfg))
    snaps = _Snapshots()
    fit(model, train, val, tiny_train_config(), seed=0, fine_tune=plan, extra_callbacks=[snaps])
    _check_phases(base, snaps, unfrozen, batch_norm_frozen=True)


def _check_phases(base, snaps, unfrozen: set[str], *, batch_norm_frozen: bool) -> None:
    """Phase 1 moved only the head (and random-init batch norm); phase 2 moved exactly the
    unfrozen layers among the rest."""
    initial, after_phase1 = snaps.begin
    batch_norm = {layer.name for layer in base.layers
                  if isinstance(layer, keras.layers.BatchNormalization)}
    assert not _same(initial["logits"]["logits"], after_phase1["logits"]["logits"])
    moved1 = {name for name, weights in initial["backbone"].items()
              if not _same(weights, after_phase1["backbone"][name])}
    moved2 = {name for name, weights in after_phase1["backbone"].items()
              if not _same(weights, snaps.end["backbone"][name])}
    if batch_norm_frozen:  # pretrained: BN statistics and scales never move
        assert moved1 == set() and moved2 == unfrozen
    else:  # random init: BN learns from the start; nothing else in phase 1
        assert moved1 <= batch_norm and moved2 - batch_norm == unfrozen
    assert not unfrozen & batch_norm


def _unfrozen_names(model, cfg) -> list[str]:
    from classlens.models.transfer import layers_to_unfreeze

    return layers_to_unfreeze(model, cfg.fine_tune.unfreeze)


def test_default_fine_tune_layer_exists_in_every_backbone():
    # each conf/model/<backbone>.yaml names a real layer of its network to fine-tune from
    from classlens.models.transfer import layers_to_unfreeze

    for architecture in BACKBONES:
        cfg = model_config(architecture)
        model = build_model(cfg, input_shape=(8, 8, 1), num_classes=2, seed=0)
        names = layers_to_unfreeze(model, cfg.fine_tune.unfreeze)
        stack = [layer for layer in model.get_layer(BACKBONE_LAYER).layers
                 if not isinstance(layer, keras.layers.InputLayer)]
        order = [layer.name for layer in stack]
        assert cfg.fine_tune.unfreeze in order, architecture  # a real layer of the network
        # exactly the layers with weights from it up, batch norm excepted
        assert names == [layer.name for layer in stack[order.index(cfg.fine_tune.unfreeze):]
                         if layer.weights
                         and not isinstance(layer, keras.layers.BatchNormalization)], architecture
        assert 0 < len(names) < len(stack)


def test_no_fine_tune_epochs_means_feature_extraction_only():
    cfg = model_config("mobilenet", "model.fine_tune.epochs=0")
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=2, seed=0)
    assert fine_tune_plan(model, cfg) is None


def test_unknown_fine_tune_layer_is_a_one_line_error():
    cfg = model_config("mobilenet", "model.fine_tune.unfreeze=conv_pw_99")
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=2, seed=0)
    with pytest.raises(ConfigError, match="model.fine_tune.unfreeze.*conv_pw_99") as info:
        fine_tune_plan(model, cfg)
    assert "conv_pw_13" in str(info.value) and "\n" not in str(info.value)


def test_rgb_images_larger_than_the_minimum_are_not_resized():
    cfg = model_config("mobilenet_v2", "model.alpha=0.35")
    model = build_model(cfg, input_shape=(40, 48, 3), num_classes=3, seed=0)
    names = {layer.name for layer in model.layers}
    assert "resize" not in names and "gray_to_rgb" not in names
    assert model.get_layer(BACKBONE_LAYER).input_shape[1:] == (40, 48, 3)
    # input_size asks for a fixed square size; below the minimum is a one-line error
    sized = build_model(model_config("mobilenet_v2", "model.alpha=0.35", "model.input_size=64"),
                        input_shape=(40, 48, 3), num_classes=3, seed=0)
    assert sized.get_layer(BACKBONE_LAYER).input_shape[1:] == (64, 64, 3)
    with pytest.raises(ConfigError, match="model.input_size.*at least 75"):
        build_model(model_config("inception_v3", "model.input_size=64"),
                    input_shape=(8, 8, 1), num_classes=3, seed=0)


@pytest.mark.parametrize("architecture,expected", [
    ("mobilenet", lambda x: x / 127.5 - 1),
    ("resnet50", lambda x: x[..., ::-1] - np.array([103.939, 116.779, 123.68])),
    ("efficientnet_b0", lambda x: x),
])
def test_each_backbone_gets_its_own_preprocessing(architecture, expected):
    pre = backbones.preprocess_model(architecture, (4, 4))
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(pre.predict(x, verbose=0), expected(x), rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------- weights from a local file


def test_weights_load_from_a_local_file(tmp_path):
    source = backbones.create_backbone("mobilenet", size=(32, 32), weights=None, alpha=0.25)
    rng = np.random.default_rng(0)
    source.set_weights([rng.normal(size=w.shape).astype("float32")
                        for w in source.get_weights()])
    path = tmp_path / "mobilenet_025_notop.weights.h5"
    source.save_weights(path)
    cfg = model_config("mobilenet", f"model.weights={path}")
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=3, seed=0)
    loaded = model.get_layer(BACKBONE_LAYER).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(loaded, source.get_weights()))


def test_weights_file_of_another_network_is_a_one_line_error(tmp_path):
    other = backbones.create_backbone("mobilenet_v2", size=(32, 32), weights=None, alpha=0.35)
    path = tmp_path / "mobilenet_v2.weights.h5"
    other.save_weights(path)
    with pytest.raises(ConfigError) as info:
        build_model(model_config("mobilenet", f"model.weights={path}"),
                    input_shape=(8, 8, 1), num_classes=3, seed=0)
    message = str(info.value)
    assert "model.weights" in message and str(path) in message
    assert "does not match keras.applications.MobileNet" in message and "\n" not in message


def test_missing_weights_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="model.weights.*not found"):
        build_model(model_config("vgg16", f"model.weights={tmp_path / 'nope.h5'}"),
                    input_shape=(8, 8, 1), num_classes=3, seed=0)


KERAS_HOME = REPO.parent / "shared" / "datasets" / "keras-home"
NOTOP_128 = KERAS_HOME / "models" / "mobilenet_2_5_128_tf_no_top.h5"


@pytest.mark.skipif(not NOTOP_128.exists(), reason=f"{NOTOP_128} absent (shared datasets)")
def test_published_keras_weights_file_loads_by_path():
    # the file Keras itself downloads for MobileNet(alpha=0.25, weights="imagenet") at 128
    cfg = model_config("mobilenet", f"model.weights={NOTOP_128}", "model.input_size=128")
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=3, seed=0)
    kernel = model.get_layer(BACKBONE_LAYER).get_layer("conv1").get_weights()[0]
    import h5py

    with h5py.File(NOTOP_128, "r") as fh:
        stored = np.array(fh["conv1"]["conv1"]["kernel"])
    np.testing.assert_array_equal(kernel, stored)
