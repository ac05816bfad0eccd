"""Multi-label mosaics built from a single-label dataset: each image is a 2x2 grid of tiles, each
tile one of the dataset's images or blank (faint seeded noise, no object), and its labels are
the distinct classes its tiles show (0 to 4 labels; an image of four blank tiles carries none).

`digits_mosaics` (scikit-learn's digits: 8x8 tiles, 16x16 images, no download) is the embedded
multi-label default; `fashion_mnist_mosaics` (Fashion-MNIST from the Keras cache: 28x28 tiles,
56x56 images) a larger benchmark.

No leakage between splits: the source images are first divided into train, val and test pools
(stratified by class, seeded by `MOSAIC_SEED`), and each split's mosaics take their tiles from
that split's pool only; the source is pre-split (`Catalog.splits`), so `data.val_fraction` and
`data.test_fraction` set the pool sizes (the share of source images, not of mosaics). A source
that comes with its own test split (Fashion-MNIST) keeps it as the test pool and takes val out
of its train images. Each split has as many mosaics as its pool has images (every source image
is a tile about three times on average): digits gives 1,797 mosaics, Fashion-MNIST 70,000
(`data.max_per_class` caps them per rarest-label stratum, see `classlens.data.ingest`).

An image without a label is four blank tiles: `EMPTY_PROBABILITY` of the mosaics are left empty
(so every split has some; tile blanks alone would give about 1 in 256). A blank tile is faint
noise seeded by the mosaic's index, not black: black tiles would make every empty mosaic
identical, the same image in every split (prepare's duplicate check would rightly flag them).

The mosaics depend on `MOSAIC_SEED` and the two fractions only, never on the run's `seed`, so the
data stays the same while experiments vary the seed. They are composed on demand, a chunk at a
time: memory holds the source images and four tile indices per mosaic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from classlens.data.catalog import Catalog, SourceData

MOSAIC_SEED = 17  # fixes pools, tiles and blanks; not the run's seed (the data must not change)
BLANK_PROBABILITY = 0.25  # chance that a tile is left blank
EMPTY_PROBABILITY = 0.05  # chance that a whole mosaic is left blank (an image without a label)
BLANK_NOISE = 48  # a blank tile's pixels are uniform in [0, BLANK_NOISE) of 255: no object
GRID = 2  # tiles per side
SPLITS = ("train", "val", "test")


@dataclass
class Mosaics:
    """Tile indices into the source images per mosaic ((N, GRID * GRID), -1 = blank, row-major),
    the split of each mosaic, and its multi-hot labels (uint8 (N, K))."""

    tiles: np.ndarray
    splits: list[str]
    labels: np.ndarray


def split_pools(targets: np.ndarray, source_splits: Optional[Sequence[str]], *,
                val_fraction: float, test_fraction: float,
                seed: int = MOSAIC_SEED) -> dict[str, np.ndarray]:
    """Source image indices per split, sorted: the source's own test split kept (else
    `test_fraction` of the images), val `val_fraction` of the rest (of all the images, when the
    source is not split), each cut stratified by class and seeded."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(targets))
    if source_splits is not None and "test" in source_splits:
        given = np.asarray(source_splits)
        rest, test = indices[given != "test"], indices[given == "test"]
        val_share = val_fraction
    else:
        rest, test = train_test_split(indices, test_size=test_fraction, stratify=targets,
                                      random_state=seed)
        val_share = val_fraction / (1.0 - test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=targets[rest],
                                  random_state=seed)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def plan_mosaics(targets: np.ndarray, pools: dict[str, np.ndarray], num_classes: int, *,
                 seed: int = MOSAIC_SEED, blank: float = BLANK_PROBABILITY,
                 empty: float = EMPTY_PROBABILITY) -> Mosaics:
    """As many mosaics per split as its pool has images, each tile drawn (with replacement)
    from that pool or left blank with probability `blank`, and a whole mosaic left blank with
    probability `empty`; labels from the tiles' classes."""
    rng = np.random.default_rng(seed)
    tiles, splits = [], []
    for split in SPLITS:
        pool = pools[split]
        drawn = rng.choice(pool, size=(len(pool), GRID * GRID)) if len(pool) else \
            np.zeros((0, GRID * GRID), dtype=np.int64)
        drawn[rng.random(drawn.shape) < blank] = -1
        drawn[rng.random(len(drawn)) < empty] = -1
        tiles.append(drawn.astype(np.int64))
        splits += [split] * len(pool)
    tiles = np.concatenate(tiles)
    labels = np.zeros((len(tiles), num_classes), dtype=np.uint8)
    rows, slots = np.nonzero(tiles >= 0)
    labels[rows, targets[tiles[rows, slots]]] = 1
    return Mosaics(tiles=tiles, splits=splits, labels=labels)


def compose(images: np.ndarray, tiles: np.ndarray, *, index: int = 0) -> np.ndarray:
    """One mosaic (GRID*H, GRID*W, C) from source `images` (N, H, W, C) and its tile indices;
    blank tiles are faint noise seeded by (MOSAIC_SEED, `index`), the mosaic's number."""
    _, h, w, c = images.shape
    noise = np.random.default_rng([MOSAIC_SEED, index])
    mosaic = noise.integers(0, BLANK_NOISE, (GRID * h, GRID * w, c)).astype(images.dtype)
    for slot, tile in enumerate(tiles):
        if tile >= 0:
            row, col = divmod(slot, GRID)
            mosaic[row * h:(row + 1) * h, col * w:(col + 1) * w] = images[tile]
    return mosaic


def mosaic_catalog(source: SourceData, name: str, *, val_fraction: float,
                   test_fraction: float) -> Catalog:
    """The mosaics of a single-label in-memory `source` as a pre-split multi-label catalog with
    ids `<name>:<i>` (train mosaics first, then val, then test)."""
    targets = np.asarray(source.labels, dtype=np.int64)
    pools = split_pools(targets, source.splits, val_fraction=val_fraction,
                        test_fraction=test_fraction)
    plan = plan_mosaics(targets, pools, len(source.class_names))
    images = source.images

    def read(indices: np.ndarray) -> Iterator[np.ndarray]:
        for i in indices:
            yield compose(images, plan.tiles[i], index=int(i))

    return Catalog(ids=[f"{name}:{i}" for i in range(len(plan.tiles))],
                   paths=[""] * len(plan.tiles), labels=plan.labels,
                   class_names=list(source.class_names), splits=plan.splits, read=read)
