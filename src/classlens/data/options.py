"""The `data` section of params.yaml (no TensorFlow; `classlens.config` composes it).

Fields without a default are MISSING: their values live in conf/ (the single source of truth),
so a key absent from params.yaml fails at load time with its dotted name."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class DataConfig:
    """Where images come from, how they are decoded and conformed, and how they are split.
    `conf/data/common/base.yaml` documents every field; one file per source sets what differs."""

    name: str = MISSING  # the option's name (its conf/data/ file): shown in titles, logged
    source: str = MISSING
    root: str = MISSING  # folder / idx: the data folder; csv: paths must stay inside it
    manifest: str = MISSING  # csv: the manifest file (path,label[,split])
    class_names: list[str] = MISSING  # idx: names of labels 0..; csv: the class list; [] = found
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    max_per_class: int = MISSING  # 0 = every image; N = a seeded sample of N per class and split
    image_size: list[int] = MISSING  # [height, width]; [] = keep the source size
    channels: int = MISSING  # 1 (grayscale) or 3 (RGB); 0 = keep (array sources only)
    resize: str = MISSING  # stretch | crop | pad (aspect-preserving centre crop or black pad)
    interpolation: str = MISSING
    max_image_pixels: int = MISSING  # larger images are skipped (decompression-bomb guard)
    max_skipped_fraction: float = MISSING  # prepare fails when more of the files are skipped
    workers: int = MISSING  # decoding threads; 0 = one per CPU core
    memory_cache_mb: int = MISSING  # train: splits up to this size are read into memory
