"""conf/ is the source of truth: params.yaml must be what it composes to, and the schema must
reject misspelt keys, wrong types, missing keys and unknown choices by name."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from classlens.config import Config, compose, load_params, register_configs, validate, write_params
from classlens.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
# every config group: each folder of conf/ that holds options (conf/data/common is not a group)
OPTIONS = sorted(path.relative_to(REPO / "conf") for path in (REPO / "conf").glob("*/*.yaml"))


@pytest.fixture(scope="module")
def composed() -> dict:
    return compose(REPO / "conf")


def test_committed_params_yaml_is_what_conf_composes_to(composed):
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    assert committed == composed, (
        "params.yaml differs from conf/; regenerate it with `classlens params`"
    )


def test_write_params_is_byte_identical_to_committed_file(tmp_path):
    # DVC's own composer writes it, so `dvc exp run` and `classlens params` agree byte for byte.
    out = tmp_path / "params.yaml"
    write_params(out, REPO / "conf")
    assert out.read_text() == (REPO / "params.yaml").read_text()


@pytest.mark.parametrize("group,option", [(p.parent.name, p.stem) for p in OPTIONS])
def test_every_config_group_option_composes_validates_and_lands(group, option):
    """Each option of each group composes, validates, and its own values (and the options its
    `override /group: choice` defaults pick) are what the composed config holds."""
    from omegaconf import OmegaConf

    composed = compose(REPO / "conf", [f"{group}={option}"])
    assert isinstance(validate(composed), Config)
    path = REPO / "conf" / group / f"{option}.yaml"
    own = OmegaConf.to_container(OmegaConf.load(path))  # parsed as Hydra parses it
    defaults = own.pop("defaults", [])
    target = composed if "@package _global_" in path.read_text() else composed[group]
    _assert_holds(target, own, group)
    picked = {key.removeprefix("override /"): choice for entry in defaults
              if isinstance(entry, dict) for key, choice in entry.items()
              if key.startswith("override /")}
    for other, choice in picked.items():
        assert composed[other] == compose(REPO / "conf", [f"{other}={choice}"])[other], other
    assert own or picked, f"{path} sets nothing"


def _assert_holds(actual, expected, where: str) -> None:
    """Every key of `expected` is in `actual` with the same value (nested mappings recursed)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for key, value in expected.items():
            assert key in actual, f"{where}.{key}"
            _assert_holds(actual[key], value, f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: composed {actual!r}, option file {expected!r}"


def test_schema_is_registered_in_hydra_config_store():
    from hydra.core.config_store import ConfigStore

    register_configs()
    repo = ConfigStore.instance().repo
    assert "classlens_schema.yaml" in repo
    assert "base.yaml" in repo["schema"]["train"]


def _mutated(composed: dict, path: str, value=None, *, delete: bool = False) -> dict:
    raw = copy.deepcopy(composed)
    *parents, leaf = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if delete:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


@pytest.mark.parametrize(
    "path,value,delete,expected",
    [
        ("train.epochz", 3, False, "train.epochz"),  # misspelt key names itself
        ("train.epochs", "three", False, "train.epochs"),  # wrong type
        ("train.epochs", None, True, "train.epochs"),  # missing key
        ("model.augment.zoom", "x", False, "model.augment.zoom"),  # nested wrong type
        ("model.architecture", "resnet999", False, "model.architecture"),  # unknown choice
        ("data.source", "nowhere", False, "data.source"),
        ("evaluate.top_k", 0, False, "evaluate.top_k"),  # out of range
        ("data.test_fraction", 0.9, False, "data.val_fraction"),  # fractions sum >= 1
    ],
)
def test_validation_errors_name_the_key(composed, path, value, delete, expected):
    raw = _mutated(composed, path, value, delete=delete)
    with pytest.raises(ConfigError) as info:
        validate(raw, source="params.yaml")
    message = str(info.value)
    assert expected in message
    assert message.startswith("params.yaml")
    assert "\n" not in message


def test_missing_section_is_named(composed):
    raw = {k: v for k, v in composed.items() if k != "explain"}
    with pytest.raises(ConfigError, match="explain"):
        validate(raw)


def test_load_params_reports_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_typed_values_come_through(composed):
    cfg = validate(composed)
    assert cfg.train.epochs == composed["train"]["epochs"]
    assert cfg.model.filters == composed["model"]["filters"]
    assert isinstance(cfg.model.augment.zoom, float)
