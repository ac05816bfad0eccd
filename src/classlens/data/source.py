"""What every data source hands the prepare stage, and the registry of sources by name.

A source first lists its images (a `Catalog`: id, file, label and optional source split per
image, plus what it refused while listing) without reading any pixels; the prepare stage then
asks it for the images it keeps, in order, one at a time (`Catalog.read`), so a folder of a
million files is never held in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np

from classlens.config import DataConfig
from classlens.errors import ConfigError

SPLIT_NAMES = {"train": "train", "val": "val", "validation": "val", "test": "test"}

# What `Catalog.read` yields per image: a file to decode, or the pixels of an in-memory source.
Item = Union[Path, np.ndarray]


@dataclass(frozen=True)
class Skipped:
    """A file (or manifest row) that was not used, and why. `counted` is False for files that
    are not candidate images at all (hidden files such as .DS_Store): they are listed but do not
    count towards `data.max_skipped_fraction`."""

    path: str
    reason: str
    counted: bool = True


@dataclass
class SourceData:
    """An in-memory source: images (N, H, W, C) uint8, integer labels indexing `class_names`,
    a stable id and the source file path (empty when the source has no files) per image.
    `splits` is set when the source comes pre-split ('train' | 'val' | 'test'), else None."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    ids: list[str]
    paths: list[str]
    splits: Optional[list[str]] = None

    def catalog(self) -> "Catalog":
        images = self.images

        def read(indices: np.ndarray) -> Iterator[Item]:
            for i in indices:
                yield images[i]

        return Catalog(ids=self.ids, paths=self.paths, labels=np.asarray(self.labels, np.int64),
                       class_names=self.class_names, splits=self.splits, read=read)


@dataclass
class Catalog:
    """Every image a source offers, before any pixel is read.

    `read(indices)` yields one `Item` per index of the sorted `indices`, in that order.
    `skipped` and `warnings` are what the source refused or noticed while listing.
    """

    ids: list[str]
    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    splits: Optional[list[str]]
    read: Callable[[np.ndarray], Iterator[Item]]
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def natural_class_order(names) -> list[str]:
    """Class names sorted as numbers when they all are ('2' before '10'), else as text."""
    names = sorted(set(names))
    if names and all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return names


def resolve_path(value: str) -> Path:
    """A configured path; relative ones are relative to the project root (DVC_ROOT inside
    `dvc exp run --temp` and queued experiments, which run in a copy of the project)."""
    from classlens.tracking import project_root

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
    **{name: _keras(name) for name in ("mnist", "fashion_mnist", "cifar10", "cifar100")},
}


def load_catalog(cfg: DataConfig) -> Catalog:
    """List the images of the source `cfg.source` names (no pixels read yet)."""
    if cfg.source not in SOURCES:
        raise ConfigError(f"data.source must be one of {sorted(SOURCES)}; "
                          f"received {cfg.source!r}")
    return SOURCES[cfg.source](cfg)
