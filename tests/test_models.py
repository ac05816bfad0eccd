"""The scratch CNN and a few real training steps (attribution methods: tests/test_explain_*)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from classlens.config import AugmentConfig, CNNOptions, TrainConfig  # noqa: E402
from classlens.models import LOGITS_LAYER, build_model  # noqa: E402
from classlens.training.loop import fit, seed_everything  # noqa: E402
from tests.helpers import digits  # noqa: E402

NO_AUGMENT = AugmentConfig(translate=0.0, rotate=0.0, zoom=0.0, flip_horizontal=False)


def _cfg(**kw) -> CNNOptions:
    base = dict(architecture="cnn", filters=[8, 16], convs_per_block=1, kernel_size=3,
                block_dropout=0.0, padding="same", batch_norm=True, head="gap", dense_units=0,
                head_dropout=0.0, augment=NO_AUGMENT)
    return CNNOptions(**{**base, **kw})


def test_flatten_head_with_a_dense_layer_and_no_batch_norm():
    model = build_model(_cfg(head="flatten", dense_units=12, batch_norm=False),
                        input_shape=(8, 8, 1), num_classes=4, seed=0)
    names = [layer.name for layer in model.layers]
    assert "flatten" in names and "gap" not in names and not any("_bn" in n for n in names)
    assert model.get_layer("dense").units == 12 and model.get_layer("block1_conv1").use_bias
    # flatten keeps the 2x2x16 map of an 8x8 input: 64 inputs to the hidden layer
    assert model.get_layer("dense").kernel.shape == (64, 12)
    out = model.predict(np.full((3, 8, 8, 1), 200, np.uint8), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_valid_padding_trims_each_conv_and_stops_clearly_when_the_map_is_too_small():
    model = build_model(_cfg(padding="valid", head="flatten"), input_shape=(8, 8, 1),
                        num_classes=4, seed=0)
    # 8 -conv-> 6 -pool-> 3 -conv-> 1 -pool-> 1
    assert model.get_layer("block1_conv1").output.shape[1:3] == (6, 6)
    assert model.get_layer("flatten").output.shape[1] == 16
    from classlens.errors import ConfigError
    with pytest.raises(ConfigError, match="model.padding 'valid'.*smaller than model.kernel_size"):
        build_model(_cfg(padding="valid", filters=[4, 4, 4]), input_shape=(8, 8, 1),
                    num_classes=4, seed=0)


def test_cnn_ends_in_logits_then_softmax():
    model = build_model(_cfg(), input_shape=(8, 8, 1), num_classes=4, seed=0)
    assert model.layers[-2].name == LOGITS_LAYER
    assert model.layers[-2].units == 4
    assert model.layers[-1].name == "probabilities"
    out = model.predict(np.full((3, 8, 8, 1), 200, np.uint8), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_deep_stack_runs_on_tiny_images():
    model = build_model(_cfg(filters=[4, 4, 4, 4, 4]), input_shape=(8, 8, 1), num_classes=2,
                        seed=0)
    assert model.predict(np.zeros((1, 8, 8, 1)), verbose=0).shape == (1, 2)


def test_augmentation_only_acts_in_training():
    cfg = _cfg(augment=AugmentConfig(translate=0.3, rotate=0.2, zoom=0.2, flip_horizontal=True))
    model = build_model(cfg, input_shape=(8, 8, 1), num_classes=3, seed=0)
    x = np.random.default_rng(0).integers(0, 255, (4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=False))


def test_fit_improves_and_keeps_best_val_weights():
    x, y = digits()
    seed_everything(0, deterministic=False)
    model = build_model(_cfg(), input_shape=(8, 8, 1), num_classes=10, seed=0)
    train_cfg = TrainConfig(epochs=4, batch_size=64, learning_rate=0.01,
                            early_stopping_patience=3, reduce_lr_patience=2,
                            reduce_lr_factor=0.5, min_learning_rate=1e-5, deterministic=False)
    result = fit(model, (x[:1200], y[:1200]), (x[1200:1500], y[1200:1500]), train_cfg, seed=0)
    history = result.history
    assert list(history["epoch"]) == [1, 2, 3, 4]
    assert list(history["phase"]) == [1, 1, 1, 1] and result.phase_starts == {1: 1}  # one phase
    assert history["train/loss"].iloc[-1] < history["train/loss"].iloc[0]
    assert {"val/loss", "val/accuracy", "learning_rate"} <= set(history.columns)
    model.compile(loss="sparse_categorical_crossentropy")
    val_loss = model.evaluate(x[1200:1500], y[1200:1500], verbose=0, batch_size=64,
                              return_dict=True)["loss"]
    assert val_loss == pytest.approx(history["val/loss"].min(), rel=1e-3)


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    x, y = digits()
    seed_everything(0, deterministic=False)
    model = build_model(_cfg(), input_shape=(8, 8, 1), num_classes=10, seed=0)
    train_cfg = TrainConfig(epochs=5, batch_size=100, learning_rate=0.01,
                            early_stopping_patience=10, reduce_lr_patience=1,
                            reduce_lr_factor=0.5, min_learning_rate=1e-4, deterministic=False,
                            schedule="cosine", warmup_fraction=0.2)
    result = fit(model, (x[:1000], y[:1000]), (x[1000:1300], y[1000:1300]), train_cfg, seed=0)
    rates = result.history["learning_rate"].to_numpy()
    # 10 steps an epoch: warm-up ends at step 10 (the end of epoch 1) at the full rate
    assert rates[0] == pytest.approx(0.01, rel=1e-3)
    assert (np.diff(rates) < 0).all()  # then only cosine decay: no plateau cuts, no increase
    assert rates[-1] == pytest.approx(1e-4, rel=1e-2)  # the floor at the last step
    assert result.history["train/loss"].iloc[-1] < result.history["train/loss"].iloc[0]


def test_learning_rate_without_warmup_starts_at_the_full_rate():
    from classlens.training.schedule import learning_rate

    cfg = TrainConfig(epochs=1, batch_size=1, learning_rate=0.1, early_stopping_patience=1,
                      reduce_lr_patience=1, reduce_lr_factor=0.5, min_learning_rate=0.001,
                      deterministic=False, schedule="cosine", warmup_fraction=0.0)
    schedule = learning_rate(cfg, 0.1, steps=100)
    assert float(schedule(0)) == pytest.approx(0.1) and float(schedule(100)) == pytest.approx(0.001)
    assert learning_rate(TrainConfig(**{**cfg.__dict__, "schedule": "plateau"}), 0.1,
                         steps=100) == 0.1
