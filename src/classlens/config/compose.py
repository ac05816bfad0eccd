"""Loading params: `conf/` (Hydra) is the source of truth. `dvc exp run` composes it into
`params.yaml`; `dvc repro` uses `params.yaml` as committed. Stage entry points therefore do not
use `@hydra.main`: they call `load_params()`, which validates `params.yaml` against the schema
(unknown keys and wrong types fail with the key's dotted name), then against the constraints
table, and returns typed objects. Library functions take these section objects (or plain
values), never the whole config."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Optional

from classlens.config import constraints as constraints  # the module, not the package API
from classlens.config.schema import Config
from classlens.errors import ConfigError
from classlens.models.options import MODEL_KEYS, MODEL_OPTIONS


def validate(raw: dict[str, Any], *, source: str = "params.yaml") -> Config:
    """Check a plain params dict against the schema and return typed `Config`.

    Raises `ConfigError` (one line naming `source` and the dotted key) on an unknown key, a missing
    section, a value of the wrong type, or a value outside what is accepted.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    missing = [name for name in Config.__dataclass_fields__ if name not in raw]
    if missing:
        raise ConfigError(
            f"{source}: missing key(s) {', '.join(missing)}; regenerate it from conf/ with "
            "`classlens params` (or `dvc exp run`)"
        )
    options = _model_options(raw["model"], source)
    schema = OmegaConf.structured(Config)
    schema.model = OmegaConf.structured(options)
    try:
        merged = OmegaConf.merge(schema, raw)
        cfg: Config = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        reason = str(err).splitlines()[0]
        raise ConfigError(f"{source}: key '{key}': {reason}") from None
    constraints.check(cfg, source=source)
    return cfg


def _model_options(model: Any, source: str) -> type:
    """The schema `model.architecture` names, once the section has exactly its keys, each
    non-null unless the schema lets it be null."""
    if not isinstance(model, dict):
        raise ConfigError(f"{source}: key 'model' must be a mapping; received {model!r}")
    if "architecture" not in model:
        raise ConfigError(f"{source}: key 'model.architecture' is missing (see conf/model/)")
    arch = model["architecture"]
    constraints.CONSTRAINTS["model.architecture"].check("model.architecture", arch,
                                                        source=source)
    options, accepted = MODEL_OPTIONS[arch], MODEL_KEYS[arch]
    nullable = {name for name, hint in typing.get_type_hints(options).items()
                if type(None) in typing.get_args(hint)}
    for key in accepted:
        if key not in model:
            raise ConfigError(
                f"{source}: key 'model.{key}' is missing; model.architecture {arch!r} needs "
                f"{list(accepted)} (see conf/model/)"
            )
        if key not in nullable and model[key] is None:
            raise ConfigError(f"{source}: key 'model.{key}' must not be null for {arch!r}")
    for key in model:
        if key not in accepted:
            raise ConfigError(
                f"{source}: key 'model.{key}' is not used by model.architecture {arch!r}; it "
                f"takes {list(accepted)}"
            )
    return options


def load_params(path: str | Path = "params.yaml") -> Config:
    """Read `params.yaml` (as DVC composed it) and validate it; see `validate`."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: not found; run from the project root, or compose it with `classlens params`"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return validate(raw, source=str(path))


def compose(config_dir: str | Path = "conf", overrides: Optional[list[str]] = None) -> dict:
    """Compose `conf/` exactly as DVC does (Hydra compose API, resolved) into a plain dict."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def write_params(
    output: str | Path = "params.yaml",
    config_dir: str | Path = "conf",
    overrides: Optional[list[str]] = None,
) -> None:
    """Write `params.yaml` with DVC's own composer, so the file is byte-identical to what
    `dvc exp run` writes (validated against the schema before it replaces the old file)."""
    from dvc.utils.hydra import compose_and_dump

    from classlens.atomic import atomic_path

    validate(compose(config_dir, overrides), source=f"{config_dir}/ (composed)")
    with atomic_path(output) as tmp:
        compose_and_dump(
            tmp,
            str(Path(config_dir).resolve()),
            None,
            "config",
            str(Path(config_dir).resolve().parent),
            list(overrides or []),
        )
