"""What every data source hands the prepare stage, and the registry of sources by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass
class SourceData:
    """Images (N, H, W, C) uint8, integer labels indexing `class_names`, a stable id and the
    source file path (empty when the source has no files) per image. `splits` is set when the
    source comes pre-split (values 'train' | 'val' | 'test'), else None."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    ids: list[str]
    paths: list[str]
    splits: Optional[list[str]] = None


def _digits() -> SourceData:
    from classlens.data.digits import load_digits

    return load_digits()


SOURCES: dict[str, Callable[[], SourceData]] = {"digits": _digits}


def load_source(name: str) -> SourceData:
    from classlens.errors import ConfigError

    if name not in SOURCES:
        raise ConfigError(f"data.source must be one of {sorted(SOURCES)}; received {name!r}")
    return SOURCES[name]()
