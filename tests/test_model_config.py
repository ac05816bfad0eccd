"""The model section: each architecture takes exactly its own keys (so cnn.yaml never lists
backbone keys), and bad values stop with one line naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from classlens.config import BACKBONES, MODEL_KEYS, compose, validate
from classlens.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _composed(option: str) -> dict:
    return compose(REPO / "conf", [f"model={option}"])


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate(raw, source="params.yaml")
    message = str(info.value)
    assert message.startswith("params.yaml") and "\n" not in message
    return message


def test_backbone_names_match_the_model_registry():
    from classlens.models.backbones import BACKBONES as SPECS

    assert set(BACKBONES) == set(SPECS)


@pytest.mark.parametrize("option", ["cnn", "cnn_small", "cnn_fashion", *BACKBONES, "file"])
def test_each_model_option_lists_exactly_its_architecture_keys(option):
    raw = _composed(option)
    assert set(raw["model"]) == set(MODEL_KEYS[raw["model"]["architecture"]])
    cfg = validate(raw)
    assert cfg.model.architecture == raw["model"]["architecture"]


def test_cnn_config_has_no_backbone_values():
    cfg = validate(_composed("cnn"))
    # per-architecture schemas: the cnn options have no backbone or file fields at all
    assert not any(hasattr(cfg.model, key) for key in ("weights", "fine_tune", "path"))


@pytest.mark.parametrize("option,key,value,needle", [
    ("cnn", "weights", "imagenet", "'model.weights' is not used by model.architecture 'cnn'"),
    ("mobilenet", "filters", [8], "'model.filters' is not used by model.architecture 'mobilenet'"),
    ("resnet50", "alpha", 0.5, "'model.alpha' is not used by model.architecture 'resnet50'"),
    ("mobilenet", "alpha", 0.0, "'model.alpha' must be a positive number"),
    ("mobilenet", "head_dropout", 1.0, "'model.head_dropout' must be in [0, 1)"),
    ("vgg16", "input_size", 0, "'model.input_size' must be null or a positive integer"),
    ("file", "input_scaling", "0-255", "'model.input_scaling' must be one of"),
    ("file", "output", "probits", "'model.output' must be one of"),
    ("cnn", "filters", [], "'model.filters' must be a non-empty list"),
    ("cnn", "augment", None, "'model.augment' must not be null"),
    ("cnn", "padding", "full", "'model.padding' must be one of ['same', 'valid']"),
    ("cnn", "head", "max", "'model.head' must be one of ['gap', 'flatten']; received 'max'"),
    ("cnn", "dense_units", -1, "'model.dense_units' must be 0 (none) or a positive integer"),
    ("cnn", "batch_norm", None, "'model.batch_norm' must not be null"),
])
def test_bad_model_keys_and_values_name_the_key(option, key, value, needle):
    raw = copy.deepcopy(_composed(option))
    raw["model"][key] = value
    assert needle in _error(raw)


@pytest.mark.parametrize("option,key", [("mobilenet", "fine_tune"), ("inception_v3", "weights"),
                                        ("file", "path"), ("cnn", "kernel_size")])
def test_missing_model_key_is_named(option, key):
    raw = copy.deepcopy(_composed(option))
    del raw["model"][key]
    assert f"'model.{key}' is missing" in _error(raw)


@pytest.mark.parametrize("unfreeze,epochs,ok", [
    (20, 5, True), ("conv_dw_12", 5, True), ("all", 5, True), (None, 0, True),
    (0, 5, False), (-3, 5, False), ("", 5, False), (None, 5, False), (True, 5, False),
    ([1, 2], 5, False),
])
def test_fine_tune_unfreeze_takes_a_count_a_layer_name_or_all(unfreeze, epochs, ok):
    raw = copy.deepcopy(_composed("mobilenet"))
    raw["model"]["fine_tune"].update(unfreeze=unfreeze, epochs=epochs)
    if ok:
        assert validate(raw).model.fine_tune.unfreeze == unfreeze
    else:
        assert "model.fine_tune.unfreeze" in _error(raw)


def test_fine_tune_learning_rate_and_epochs_are_checked():
    raw = copy.deepcopy(_composed("efficientnet_b0"))
    raw["model"]["fine_tune"]["learning_rate"] = 0
    assert "model.fine_tune.learning_rate" in _error(raw)
    raw = copy.deepcopy(_composed("efficientnet_b0"))
    raw["model"]["fine_tune"]["epochs"] = -1
    assert "model.fine_tune.epochs" in _error(raw)


def test_the_fashion_preset_sets_data_model_and_training_together():
    cfg = validate(compose(REPO / "conf", ["experiment=fashion_fast"]))
    assert cfg.data.source == "fashion_mnist"
    assert (cfg.model.head, cfg.model.dense_units, cfg.model.batch_norm) == ("flatten", 128, False)
    assert (cfg.train.batch_size, cfg.train.schedule, cfg.train.mixed_precision) == (256, "cosine",
                                                                                    True)
    # a later override still wins over the preset
    cfg = validate(compose(REPO / "conf", ["experiment=fashion_fast", "train.epochs=2"]))
    assert cfg.train.epochs == 2 and cfg.train.batch_size == 256


def test_dvc_composes_the_preset_into_params(tmp_path):
    """What `dvc exp run -S experiment=fashion_fast` does: DVC's own Hydra composition."""
    import yaml
    from dvc.utils.hydra import compose_and_dump

    out = tmp_path / "params.yaml"
    compose_and_dump(out, str(REPO / "conf"), None, "config", None, ["experiment=fashion_fast"])
    params = yaml.safe_load(out.read_text())
    assert params["data"]["source"] == "fashion_mnist" and params["model"]["head"] == "flatten"
    assert params["train"]["schedule"] == "cosine" and "experiment" not in params
