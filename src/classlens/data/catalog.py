"""What every data source hands the prepare stage (the registry of sources by name is
`classlens.data.sources`).

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
