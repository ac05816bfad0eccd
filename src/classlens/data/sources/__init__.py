"""The data sources by name (`data.source`): each lists a `Catalog` from its `data.*` options.
One module per source beside this file; a source module imports only `classlens.data.catalog`,
never this registry. `digits_mosaics` and `fashion_mnist_mosaics` are multi-label (see
`classlens.data.sources.mosaics`); a csv manifest is when it has a `labels` column."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from classlens.data.catalog import CLASS_NAMES, Catalog
from classlens.data.options import DataConfig
from classlens.data.sources.keras_datasets import CLASS_NAMES as KERAS_DATASETS
from classlens.errors import ConfigError, InputError, one_of
from classlens.paths import project_root


def resolve_path(value: str) -> Path:
    """A configured path; relative ones are relative to the project root (DVC_ROOT inside
    `dvc exp run --temp` and queued experiments, which run in a copy of the project)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else project_root() / path


def _digits(cfg: DataConfig) -> Catalog:
    from classlens.data.sources.digits import load_digits

    return load_digits().catalog()


def _folder(cfg: DataConfig) -> Catalog:
    from classlens.data.sources.folder import list_folder

    return list_folder(resolve_path(_required(cfg.root, "root", "/path/to/images")))


def _csv(cfg: DataConfig) -> Catalog:
    from classlens.data.sources.csv_manifest import read_manifest

    manifest = resolve_path(_required(cfg.manifest, "manifest", "/path/to/manifest.csv"))
    return read_manifest(manifest, root=resolve_path(cfg.root) if cfg.root else None,
                         class_names=list(cfg.class_names))


def _idx(cfg: DataConfig) -> Catalog:
    from classlens.data.sources.idx import list_idx_folder

    return list_idx_folder(resolve_path(_required(cfg.root, "root", "/path/to/idx-files")),
                           class_names=list(cfg.class_names))


def _digits_mosaics(cfg: DataConfig) -> Catalog:
    from classlens.data.sources.digits import load_digits
    from classlens.data.sources.mosaics import mosaic_catalog

    return mosaic_catalog(load_digits(), "digits_mosaics", val_fraction=cfg.val_fraction,
                          test_fraction=cfg.test_fraction)


def _fashion_mnist_mosaics(cfg: DataConfig) -> Catalog:
    from classlens.data.sources.keras_datasets import load_keras_dataset
    from classlens.data.sources.mosaics import mosaic_catalog

    return mosaic_catalog(load_keras_dataset("fashion_mnist"), "fashion_mnist_mosaics",
                          val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)


def _keras(name: str) -> Callable[[DataConfig], Catalog]:
    def load(cfg: DataConfig) -> Catalog:
        from classlens.data.sources.keras_datasets import load_keras_dataset

        return load_keras_dataset(name).catalog()

    return load


def _required(value: str, key: str, example: str) -> str:
    if not value:
        raise ConfigError(f"data.{key} is empty; set it, e.g. "
                          f"`dvc exp run -S data.{key}={example}`")
    return value


SOURCES: dict[str, Callable[[DataConfig], Catalog]] = {
    "digits": _digits,
    "folder": _folder,
    "csv": _csv,
    "idx": _idx,
    **{name: _keras(name) for name in KERAS_DATASETS},
    "digits_mosaics": _digits_mosaics,
    "fashion_mnist_mosaics": _fashion_mnist_mosaics,
}
# sources of files whose classes are known only by listing them (folder names, manifest rows,
# IDX labels): what `check` must not do on every params change
LISTED_SOURCES = ("folder", "csv", "idx")
# The class names of the sources that know them without listing anything.
KNOWN_CLASS_NAMES: dict[str, list[str]] = {
    **KERAS_DATASETS,
    "digits_mosaics": [str(i) for i in range(10)],
    "fashion_mnist_mosaics": KERAS_DATASETS["fashion_mnist"],
}
MULTILABEL_SOURCES = ("digits_mosaics", "fashion_mnist_mosaics")


def load_catalog(cfg: DataConfig) -> Catalog:
    """List the images of the source `cfg.source` names (no pixels read yet). `load_params`
    checked the name against this registry; a direct caller's is checked the same way here."""
    one_of(SOURCES).check("data.source", cfg.source)
    return SOURCES[cfg.source](cfg)


def check_location(cfg: DataConfig) -> str:
    """Where `cfg` says the images are, checked without listing or reading them (the check
    stage runs this on every params change, so it must stay cheap for a million files); returns
    what was checked, for the stage's summary line. The listing itself (`load_catalog`) checks
    the rest when prepare runs."""
    one_of(SOURCES).check("data.source", cfg.source)
    CLASS_NAMES.check("data.class_names", list(cfg.class_names or []))
    if cfg.source in ("folder", "idx"):
        root = resolve_path(_required(cfg.root, "root", "/path/to/images"))
        if not root.is_dir():
            raise InputError(f"data.root: {root} is not a folder (relative paths are from the "
                             "project root); point it at the images, e.g. "
                             "`dvc exp run -S data.root=/path/to/images`")
        return f"data.root {root}"
    if cfg.source == "csv":
        manifest = resolve_path(_required(cfg.manifest, "manifest", "/path/to/manifest.csv"))
        if not manifest.is_file():
            raise InputError(f"data.manifest: {manifest} is not a file (relative paths are from "
                             "the project root); point it at a CSV file with columns "
                             "path,label[,split] (or path,labels[,split] for multi-label)")
        if cfg.root and not resolve_path(cfg.root).is_dir():
            raise InputError(f"data.root: {resolve_path(cfg.root)} is not a folder; the "
                             "manifest's paths are resolved inside it (leave it empty for the "
                             "manifest's own folder)")
        return f"data.manifest {manifest}"
    return f"data.source {cfg.source}"


def class_names_before_prepare(cfg: DataConfig) -> list[str]:
    """The classes prepare will find, without reading pixels: `data.class_names` when set, a
    Keras dataset's or a mosaic source's known names, else the source's listing
    (`load_catalog`)."""
    if cfg.class_names:
        return list(cfg.class_names)
    if cfg.source in KNOWN_CLASS_NAMES:
        return list(KNOWN_CLASS_NAMES[cfg.source])
    return load_catalog(cfg).class_names


def multilabel_before_prepare(cfg: DataConfig) -> bool:
    """Whether prepare will find multi-label data, without listing images: a mosaic source, or
    a csv manifest whose header has a `labels` column (only the header is read)."""
    one_of(SOURCES).check("data.source", cfg.source)
    if cfg.source in MULTILABEL_SOURCES:
        return True
    if cfg.source != "csv":
        return False
    import csv

    manifest = resolve_path(_required(cfg.manifest, "manifest", "/path/to/manifest.csv"))
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"data.manifest: {manifest} cannot be read ({err})") from None
    return "labels" in {column.strip().lower() for column in header}
