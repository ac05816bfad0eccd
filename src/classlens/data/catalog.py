"""What every data source hands the prepare stage (the registry of sources by name is
`classlens.data.sources`).

A source first lists its images (a `Catalog`: id, file, label and optional source split per
image, plus what it refused while listing) without reading any pixels; the prepare stage then
asks it for the images it keeps, in order, one at a time (`Catalog.read`), so a folder of a
million files is never held in memory at once.

Labels are int64 (N,) class indices for single-label data, and a uint8 (N, K) multi-hot array
(K = len(class_names); a row of zeros is an image with no label) for multi-label data, where
an image may carry any number of the classes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

import numpy as np

from classlens.data.label_sets import SEPARATOR
from classlens.errors import ConfigError, Constraint


SPLIT_NAMES = {"train": "train", "val": "val", "validation": "val", "test": "test"}
# How a source's text lists an image's label set (a CSV manifest's `labels` column): "cat|dog".
LABEL_SEPARATOR = SEPARATOR

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


def skip_counts(skipped: Sequence[Skipped]) -> dict[str, int]:
    """The one definition of the skip numbers the data report's summary, the fingerprint and the
    `images_skipped` metric show: skipped candidate images, and ignored files (hidden files and
    folders, which are not images and so count in neither the skipped number nor its share)."""
    ignored = sum(not s.counted for s in skipped)
    return {"images_skipped": len(skipped) - ignored, "files_ignored": ignored}


class UniqueNames(Constraint):
    """A list of names, each once. Its error names only the repeated names and their positions:
    echoing the whole list (1,000 class names) would bury the one mistake."""

    def __init__(self, shown: int = 10):
        super().__init__(lambda names: len(set(names)) == len(names), "list each name once")
        self.shown = shown

    def check(self, key: str, value, *, source: str = "") -> None:
        if self.accepts(value):
            return
        positions: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(value):
            positions[name].append(i)
        repeated = [(name, at) for name, at in positions.items() if len(at) > 1]
        shown = "; ".join(f"{name!r} at positions {', '.join(map(str, at))}"
                          for name, at in repeated[:self.shown])
        more = f"; and {len(repeated) - self.shown} more" if len(repeated) > self.shown else ""
        where = f"{source}: key '{key}'" if source else key
        raise ConfigError(f"{where} must {self.expected}; received {len(value)} names, repeating "
                          f"{shown}{more} (positions count from 0)")


CLASS_NAMES = UniqueNames()  # data.class_names: checked by the sources that take the list


@dataclass
class SourceData:
    """An in-memory source: images (N, H, W, C) uint8, labels (int64 (N,) indexing
    `class_names`, or uint8 (N, K) multi-hot for multi-label data), a stable id and the source
    file path (empty when the source has no files) per image.
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

        labels = np.asarray(self.labels)
        labels = labels.astype(np.uint8 if labels.ndim == 2 else np.int64, copy=False)
        return Catalog(ids=self.ids, paths=self.paths, labels=labels,
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

    @property
    def multilabel(self) -> bool:
        """True when `labels` is a multi-hot (N, K) array: an image may carry any number of
        the classes, including none."""
        return self.labels.ndim == 2


def natural_class_order(names) -> list[str]:
    """Class names sorted as numbers when they all are ('2' before '10'), else as text."""
    names = sorted(set(names))
    if names and all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return names
