"""Read a source's images one by one, conform them, and append them to a scratch file on disk:
memory holds one chunk of images, whatever the number of files. What cannot be used is
recorded with its reason; nothing is dropped without a line saying why.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from classlens.data.catalog import Catalog, Skipped
from classlens.data.conform import (ConformSpec, ImageInfo, SkipImage, conform_array,
                                    conform_file, pixel_limit)
from classlens.data.multilabel import rarest_label_strata
from classlens.data.rows import RowFile
from classlens.errors import InputError

CHUNK = 256  # images decoded per round (and the most held in memory at once)


@dataclass
class Ingested:
    """The usable images of a catalog, in catalog order, on disk.

    `rows[i]` is the conformed image of catalog entry `kept[i]`; `hashes[i]` a 64-bit content
    hash of it (for duplicate checks); `widths`/`heights` its size before conforming.
    """

    rows: Optional[RowFile]
    kept: np.ndarray
    skipped: list[Skipped]
    widths: np.ndarray
    heights: np.ndarray
    hashes: np.ndarray
    modes: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)
    image_shape: tuple[int, ...] = ()


def select_per_class(labels: np.ndarray, splits, *, max_per_class: int,
                     seed: int) -> np.ndarray:
    """Sorted entry indices: all of them, or a seeded sample of at most `max_per_class` per
    class and source split (for quick experiments on a big dataset).

    Multi-hot (N, K) `labels`: at most `max_per_class` per rarest-label stratum and source
    split (the images whose rarest label is that class; those without a label are one more
    stratum), so every label keeps images; a label that comes with rarer ones can keep more.
    """
    if max_per_class <= 0:
        return np.arange(len(labels))
    if labels.ndim == 2:
        labels = rarest_label_strata(labels)
    groups = np.asarray(splits) if splits is not None else np.zeros(len(labels), dtype="<U1")
    rng = np.random.default_rng(seed)
    chosen = []
    for group in np.unique(groups):
        for label in np.unique(labels):
            members = np.flatnonzero((groups == group) & (labels == label))
            if len(members) > max_per_class:
                members = rng.choice(members, size=max_per_class, replace=False)
            chosen.append(members)
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def _conform(item, spec: ConformSpec):
    try:
        if isinstance(item, (str, os.PathLike)):
            return conform_file(Path(item), spec)
        return conform_array(np.asarray(item), spec)
    except SkipImage as skip:
        return str(skip)


def ingest(catalog: Catalog, selected: np.ndarray, spec: ConformSpec, *, scratch: Path,
           workers: int = 0) -> Ingested:
    """Conform the `selected` entries of `catalog` into the raw file `scratch`.

    Args:
        catalog: what the source listed.
        selected: sorted entry indices to read.
        spec: the size and channels every image is conformed to.
        scratch: a file to write (raw rows, no header); the caller deletes it.
        workers: threads decoding files (Pillow releases the GIL while decoding); 0 = one per
            CPU core.
    """
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        _limit_malloc_arenas(2)
    kept: list[int] = []
    skipped: list[Skipped] = []
    widths: list[int] = []
    heights: list[int] = []
    hashes: list[int] = []
    modes: Counter = Counter()
    formats: Counter = Counter()
    shape: Optional[tuple[int, ...]] = None
    items = catalog.read(selected)
    # Pillow's own bomb checks (inside decoders too) at the configured limit; its warning, for
    # images over that limit, becomes a skip quoting it (see `pixel_limit`)
    with pixel_limit(spec.max_pixels), open(scratch, "wb") as out, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(selected), CHUNK):
            chunk_indices = selected[start:start + CHUNK]
            chunk = [next(items) for _ in chunk_indices]
            files = chunk and isinstance(chunk[0], (str, os.PathLike))
            results = (list(pool.map(_conform, chunk, [spec] * len(chunk)))
                       if files and workers > 1 else [_conform(c, spec) for c in chunk])
            batch = []
            for entry, result in zip(chunk_indices, results):
                where = catalog.paths[entry] or catalog.ids[entry]
                if isinstance(result, str):
                    skipped.append(Skipped(where, result))
                    continue
                array, info = result
                if shape is None:
                    shape = array.shape
                elif array.shape != shape:
                    skipped.append(Skipped(where, _shape_reason(array.shape, shape, info)))
                    continue
                batch.append(array)
                kept.append(int(entry))
                widths.append(info.width)
                heights.append(info.height)
                modes[info.mode] += 1
                formats[info.format] += 1
                hashes.append(int.from_bytes(
                    hashlib.blake2b(array.tobytes(), digest_size=8).digest(), "little"))
            if batch:
                out.write(np.stack(batch).tobytes())
    rows = None
    if shape is not None:
        rows = RowFile(scratch, offset=0, shape=(len(kept), *shape), dtype=np.uint8)
    return Ingested(rows=rows, kept=np.asarray(kept, dtype=np.int64), skipped=skipped,
                    widths=np.asarray(widths, dtype=np.int64),
                    heights=np.asarray(heights, dtype=np.int64),
                    hashes=np.asarray(hashes, dtype=np.uint64), modes=modes, formats=formats,
                    image_shape=tuple(shape or ()))


def _shape_reason(got: tuple[int, ...], want: tuple[int, ...], info: ImageInfo) -> str:
    return (f"conformed to {'x'.join(map(str, got))} (from {info.width}x{info.height} "
            f"{info.mode}) but the dataset's images are {'x'.join(map(str, want))}; set "
            "data.image_size and data.channels so that all images agree")


def check_skipped_share(skipped: list[Skipped], used: int, *, limit: float) -> float:
    """The share of candidate images skipped; InputError when above `limit` (naming the most
    common reasons and a few files)."""
    counted = [s for s in skipped if s.counted]
    total = len(counted) + used
    share = len(counted) / total if total else 0.0
    if share > limit or used == 0:
        reasons = Counter(s.reason.split(":")[0].split(" (")[0] for s in counted)
        top = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3))
        examples = ", ".join(f"{s.path} ({s.reason})" for s in counted[:3])
        if used == 0:
            raise InputError(f"none of the {total} images could be used: {top or 'no images'}; "
                             f"e.g. {examples or '-'}")
        raise InputError(
            f"{len(counted)} of {total} images skipped ({share:.1%} > data.max_skipped_fraction "
            f"{limit:g}): {top}; e.g. {examples}. Fix or remove those files, or raise the limit"
        )
    return share


def _limit_malloc_arenas(count: int) -> None:
    """Cap glibc's per-thread malloc arenas. Each decoding thread otherwise gets its own arena,
    and freed chunk buffers can stay resident in each of them (the suspected cause of one
    1.2 GiB peak, against 0.3 GiB usually, preparing 60,000 JPEGs on a loaded 2-core machine).
    Hand-written
    (ctypes), as neither Pillow nor the standard library exposes it; a no-op off glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, count)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass
